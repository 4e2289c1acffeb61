"""`uplink: mqtt`: the outbox published to a central broker over TLS with the hall's own account,
in order, and caught up after the central broker was away."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from bridge_fixtures import broker_config_for, hall_broker, ticket_event, wait_until
from bus_helpers import Collector
from mosquitto import Mosquitto, free_port
from paho.mqtt.enums import CallbackAPIVersion
from queue_fixtures import make_site
from tls_certs import make_pki

from daemons.bridge.daemon import BridgeDaemon
from daemons.bridge.mqtt_uplink import uplink_topic
from firmware_config.bridge import BridgeConfig, MqttUplinkConfig
from hall_bus import topics
from hall_bus.client import BusClient
from hall_bus.contract.bridge import BridgeState

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

HALL = "test-hall"
CENTRAL_PASSWORD = "central-secret-of-test-hall"


@pytest.fixture
def central(tmp_path: Path) -> Iterator[tuple[Mosquitto, int]]:
    pki = make_pki(tmp_path / "pki", name="central")
    tls_port = free_port()
    broker = Mosquitto(tmp_path / "central", user=HALL, password=CENTRAL_PASSWORD, extra_lines=(
        f"listener {tls_port} 127.0.0.1", f"certfile {pki.server_cert}",
        f"keyfile {pki.server_key}", "max_queued_messages 100000"))
    broker.workdir.mkdir()
    broker.start()
    yield broker, tls_port
    broker.kill()


def consumer(port: int, ca_file: Path) -> tuple[mqtt.Client, Collector[dict[str, object]]]:
    got: Collector[dict[str, object]] = Collector()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="city-consumer",
                         clean_session=False, protocol=mqtt.MQTTv311)
    client.username_pw_set(HALL, CENTRAL_PASSWORD)
    client.tls_set(ca_certs=str(ca_file))
    client.on_message = lambda _c, _u, m: got.add(m.topic, json.loads(m.payload))
    client.on_connect = lambda c, *_: c.subscribe(uplink_topic(HALL), qos=1)
    client.connect("localhost", port)
    client.loop_start()
    return client, got


def test_records_reach_the_central_broker_in_order_across_its_outage(
    tmp_path: Path, central: tuple[Mosquitto, int]
) -> None:
    central_broker, tls_port = central
    hall = hall_broker(tmp_path / "hall-mosquitto")
    password_file = tmp_path / "central.password"
    password_file.write_text(CENTRAL_PASSWORD + "\n")
    ca_file = tmp_path / "pki" / "central-ca.pem"
    config = BridgeConfig(uplink="mqtt", mqtt=MqttUplinkConfig(
        host="localhost", port=tls_port, username=HALL, password_file=password_file,
        ca_file=ca_file, timeout_s=2), retry_min_s=0.05, retry_max_s=0.5, state_interval_s=0.2,
        batch_size=100)
    site = make_site().model_copy(update={"broker": broker_config_for(hall),
                                          "bridge": config, "data_dir": tmp_path})
    city, got = consumer(tls_port, ca_file)
    tester = BusClient(HALL, "tester", site.broker)
    states: Collector[BridgeState] = Collector()
    tester.subscribe_model(topics.Endpoint(HALL, "bridge").state, BridgeState, states.add)
    tester.start(wait=10)
    bridge = BridgeDaemon(site, config, tmp_path / "bridge.sqlite3", None)
    bridge.start(wait=10)
    sent = [ticket_event(n) for n in range(800)]
    try:
        for event in sent[:500]:
            tester.publish(topics.queue_endpoint(HALL).event, event)
        wait_until(lambda: len(got.items) >= 500, 20, "the first 500 records at the city")

        city.loop_stop()
        city.disconnect()
        central_broker.stop()
        for event in sent[500:]:
            tester.publish(topics.queue_endpoint(HALL).event, event)
        states.wait_for(lambda s: s.backlog == 300 and s.last_error is not None, timeout=15)
        central_broker.start()
        city, got_after = consumer(tls_port, ca_file)
        wait_until(lambda: {r["event_id"] for r in got_after.items} >= {e.id for e in sent[500:]},
                   30, "the backlog at the city")
        states.wait_for(lambda s: s.backlog == 0 and s.delivered_total == 800, timeout=10)
    finally:
        bridge.stop()
        tester.stop()
        city.loop_stop()
        city.disconnect()
        hall.kill()
    first_seen: list[str] = []
    for record in [*got.items, *got_after.items]:
        if record["event_id"] not in first_seen:
            first_seen.append(str(record["event_id"]))
    assert first_seen == [e.id for e in sent]
    seqs = [int(str(r["seq"])) for r in got.items[:500]]
    assert seqs == sorted(seqs) and got.items[0]["kind"] == "ticket_event"
