"""Two Mosquitto brokers on loopback: a hall's, rendered by `hall config mosquitto` with the
central bridge section, and a central one reached over TLS with the hall's own account. Events
and states go up, commands come down, nothing else crosses, and the link catches up after the
central broker was away."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from bridge_fixtures import wait_until
from bus_helpers import Collector
from mosquitto import Mosquitto, find_mosquitto, free_port
from paho.mqtt.enums import CallbackAPIVersion
from queue_fixtures import make_site
from tls_certs import make_pki

from firmware_config.bridge import BridgeConfig, CentralBrokerConfig, HttpsUplinkConfig
from firmware_config.mosquitto_config import render_mosquitto_config
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus.netutil import port_is_free

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

HALL = "test-hall"
CENTRAL_PASSWORD = "central-secret-of-test-hall"


@dataclass
class Link:
    site: SiteConfig
    hall_port: int
    central: Mosquitto
    central_tls_port: int
    hall_process: subprocess.Popen[bytes]
    hall_log: Path


def _client(port: int, user: str, password: str, name: str,
            ca_file: Path | None = None) -> mqtt.Client:
    # Durable sessions, like the city's consumers: nothing is missed between two connections.
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, clean_session=False,
                         protocol=mqtt.MQTTv311)
    client.username_pw_set(user, password)
    if ca_file is not None:
        client.tls_set(ca_certs=str(ca_file))
    client.connect("localhost" if ca_file else "127.0.0.1", port)
    client.loop_start()
    return client


def _subscribe(client: mqtt.Client, topic: str) -> Collector[tuple[str, bytes]]:
    got: Collector[tuple[str, bytes]] = Collector()
    client.on_message = lambda _c, _u, m: got.add(m.topic, (m.topic, bytes(m.payload)))
    result, _ = client.subscribe(topic, qos=1)
    assert result == mqtt.MQTT_ERR_SUCCESS
    return got


@pytest.fixture
def link(tmp_path: Path) -> Iterator[Link]:
    assert find_mosquitto() is not None
    pki = make_pki(tmp_path / "pki", name="central")
    tls_port = free_port()
    central = Mosquitto(tmp_path / "central", user=HALL, password=CENTRAL_PASSWORD, extra_lines=(
        f"listener {tls_port} 127.0.0.1", f"certfile {pki.server_cert}",
        f"keyfile {pki.server_key}"))
    central.workdir.mkdir()
    central.start()
    password_file = tmp_path / "central.password"
    password_file.write_text(CENTRAL_PASSWORD + "\n")
    key_file = tmp_path / "hall.key"
    key_file.write_text("unused-in-this-test-0123456789\n")
    hall_port = free_port()
    site = make_site().model_copy(update={
        "broker": BrokerConfig(port=hall_port, password="hall-secret"),
        "data_dir": tmp_path,
        "bridge": BridgeConfig(
            https=HttpsUplinkConfig(base_url="https://backend.invalid", key_file=key_file),
            central_broker=CentralBrokerConfig(host="localhost", port=tls_port, username=HALL,
                                               password_file=password_file,
                                               ca_file=pki.ca_cert, keepalive_s=5),
        ),
    })
    conf = render_mosquitto_config(site, tmp_path / "hall-conf", data_dir=tmp_path / "hall-data",
                                   run_user="root" if os.geteuid() == 0 else "mosquitto")
    log = tmp_path / "hall-mosquitto.log"
    with log.open("ab") as out:
        process = subprocess.Popen([central.binary, "-c", str(conf)], stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: not port_is_free("127.0.0.1", hall_port), 10, "the hall broker")
        yield Link(site, hall_port, central, tls_port, process, log)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()  # a bridge in the middle of a TLS connect can sit out SIGTERM
            process.wait()
        central.kill()


def test_rendered_bridge_section_names_the_hall_and_checks_tls(link: Link) -> None:
    conf = (link.site.data_dir / "hall-conf" / "hall.conf")
    text = conf.read_text()
    assert "connection central-test-hall\n" in text
    assert f"address localhost:{link.central_tls_port}\n" in text
    assert "bridge_insecure false\n" in text and "bridge_cafile " in text
    assert "topic hall/test-hall/+/request/+ in 1\n" in text
    assert conf.stat().st_mode & 0o777 == 0o640


def test_events_go_up_commands_come_down_and_the_link_catches_up(link: Link) -> None:
    pki_ca = link.site.data_dir / "pki" / "central-ca.pem"
    central = _client(link.central_tls_port, HALL, CENTRAL_PASSWORD, "city-console", pki_ca)
    hall = _client(link.hall_port, "hall", "hall-secret", "hall-tester")
    try:
        up = _subscribe(central, f"hall/{HALL}/#")
        up.wait_for(lambda m: m == (f"hall/{HALL}/central/status", b"1"), timeout=15)
        down = _subscribe(hall, f"hall/{HALL}/#")

        hall.publish(f"hall/{HALL}/queue/event", b'{"n": 1}', qos=1)
        hall.publish(f"hall/{HALL}/queue/state", b'{"waiting": 3}', qos=1, retain=True)
        hall.publish(f"hall/{HALL}/kiosk-1/printer/status", b"online", qos=1, retain=True)
        up.wait_for(lambda m: m == (f"hall/{HALL}/queue/event", b'{"n": 1}'))
        up.wait_for(lambda m: m == (f"hall/{HALL}/queue/state", b'{"waiting": 3}'))
        up.wait_for(lambda m: m == (f"hall/{HALL}/kiosk-1/printer/status", b"online"))

        central.publish(f"hall/{HALL}/queue/request/describe", b'{"id": "r1"}', qos=1)
        central.publish(f"hall/{HALL}/line-1/screen/set", b'{"text": "hi"}', qos=1)
        # Not commands: the city may not write the hall's events or state.
        central.publish(f"hall/{HALL}/queue/event", b'{"forged": true}', qos=1)
        central.publish(f"hall/{HALL}/queue/state", b'{"forged": true}', qos=1)
        down.wait_for(lambda m: m == (f"hall/{HALL}/queue/request/describe", b'{"id": "r1"}'))
        down.wait_for(lambda m: m == (f"hall/{HALL}/line-1/screen/set", b'{"text": "hi"}'))
        central.publish(f"hall/{HALL}/queue/request/ping", b"marker", qos=1)
        down.wait_for(lambda m: m[1] == b"marker")
        assert not down.matching(lambda m: b"forged" in m[1])

        # The central broker goes away; the hall goes on and its events wait for the link.
        central.loop_stop()
        central.disconnect()
        link.central.stop()
        for n in range(200):
            hall.publish(f"hall/{HALL}/queue/event", f'{{"n": {n + 100}}}'.encode(), qos=1)
        link.central.start()
        central = _client(link.central_tls_port, HALL, CENTRAL_PASSWORD, "city-console",
                          pki_ca)
        again = _subscribe(central, f"hall/{HALL}/queue/event")
        # The durable session still holds `hall/test-hall/#` too: keep to the events.
        def events() -> list[bytes]:
            return [p for t, p in again.items if t == f"hall/{HALL}/queue/event"]

        wait_until(lambda: len(events()) >= 200, 30,
                   f"the backlog at the central broker\n{link.hall_log.read_text()[-1500:]}")
        payloads = events()
        assert payloads == [f'{{"n": {n + 100}}}'.encode() for n in range(200)]
    finally:
        for client in (central, hall):
            client.loop_stop()
            client.disconnect()
