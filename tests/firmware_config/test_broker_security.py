"""Per-account broker security enforced by a real Mosquitto started from the rendered config.

The site gets `broker.credentials_dir` and a TLS listener; `render_mosquitto_config` writes
hall.conf, hall.acl and hall.passwd (and every account's password file) into tmp_path, and
/usr/sbin/mosquitto is started with exactly that config. A console account, which may read the
whole hall, watches what the broker really delivers.
"""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import repo_paths
from bridge_fixtures import HALL_KEY, bridge_site, start_backend
from camera_rig import desk_camera
from kiosk_fixtures import kiosk_site
from line_fixtures import make_line
from line_fixtures import wait_until as wait_for
from mqtt_peer import ANSWER_S, Peer, wait_until
from mqtt_peer import peers as peers  # a fixture, used by name
from paho.mqtt.enums import CallbackAPIVersion
from queue_fixtures import FakeClock, make_site
from test_camera_bus import UnpluggableSource
from test_mosquitto_config import Mosquitto
from tls_certs import TestPki as Pki
from tls_certs import make_pki

from daemons.bridge.daemon import BridgeDaemon
from daemons.broker.embedded import EmbeddedBroker, _embedded_users
from daemons.camera.daemon import CameraDaemon
from daemons.line.daemon import LineDaemon
from daemons.queue.service import QueueEngine
from daemons.voice.daemon import VoiceDaemon, voice_endpoint
from drivers.line.caller_keypad import ACTIONS as KEYPAD_ACTIONS
from drivers.line.caller_keypad import Key, Result
from drivers.line.evaluation_pad import PadKey
from drivers.network.pad import NetworkPad
from firmware_config.broker_accounts import (
    BRIDGE_ACTIONS,
    KIOSK_ACTIONS,
    LINE_ACTIONS,
    PAD_ACTIONS,
    Access,
    site_accounts,
)
from firmware_config.broker_credentials import ensure_passwords
from firmware_config.broker_tls import ClientTlsConfig, TlsListenerConfig
from firmware_config.line import LineConfig, LineDeviceConfig, PadPolicy
from firmware_config.mosquitto_config import ACL_NAME, PASSWD_NAME, render_mosquitto_config
from firmware_config.network_devices import NetworkDeviceConfig
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus import topics
from hall_bus.client import BusClient, BusConnectError, BusTimeout
from hall_bus.contract import QUEUE_ACTIONS, QueueEvent, QueueEventType
from hall_bus.credentials import CredentialsError, read_password
from hall_bus.netutil import free_port
from kiosk.printing import KioskPrinter
from kiosk.ticketing import OutcomeKind, TicketDesk

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

ROOT = "hall/test-hall"


@dataclass
class SecuredHall:
    site: SiteConfig
    port: int
    tls_port: int
    pki: Pki
    credentials: Path
    conf_dir: Path

    def password(self, account: str) -> str:
        return read_password(self.credentials, account)


def _line(line_id: str, window: str, address: int) -> LineConfig:
    return LineConfig(id=line_id, port=f"sim:{line_id}", devices=[
        LineDeviceConfig(id=f"{window}-strip", profile="strip-hl1-32x1", address=address,
                         window=window),
    ])


def _secured_site(tmp_path: Path, pki: Pki, *, require_certificate: bool = False
                  ) -> SiteConfig:
    broker = BrokerConfig(
        host="127.0.0.1", port=free_port(), keepalive_s=5, reconnect_min_s=0.1,
        reconnect_max_s=1.0, credentials_dir=tmp_path / "credentials",
        tls_listener=TlsListenerConfig(host="127.0.0.1", port=free_port(),
                                       cert_file=pki.server_cert, key_file=pki.server_key,
                                       ca_file=pki.ca_cert,
                                       require_certificate=require_certificate),
    )
    return make_site().model_copy(update={
        "broker": broker, "data_dir": tmp_path,
        "lines": [_line("line1", "w1", 1), _line("line2", "w2", 1)],
        "network_devices": [NetworkDeviceConfig(id="pad-w1", kind="pad", window="w1"),
                            NetworkDeviceConfig(id="screen-hall", kind="hall_screen")],
    })


def _start(site: SiteConfig, tmp_path: Path) -> Mosquitto:
    conf = render_mosquitto_config(
        site, tmp_path / "conf", data_dir=tmp_path / "mosquitto-data",
        run_user="root" if os.geteuid() == 0 else "mosquitto",
    )
    broker = Mosquitto(conf, site.broker.port, tmp_path / "mosquitto.log")
    broker.start()
    return broker


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[SecuredHall]:
    pki = make_pki(tmp_path / "pki")
    site = _secured_site(tmp_path, pki)
    broker = _start(site, tmp_path)
    assert site.broker.tls_listener is not None and site.broker.credentials_dir is not None
    try:
        yield SecuredHall(site, site.broker.port, site.broker.tls_listener.port, pki,
                          site.broker.credentials_dir, tmp_path / "conf")
    finally:
        broker.stop()


def _sample_topic(topic_filter: str) -> str:
    """A concrete topic the filter matches (a wildcard becomes a made-up name)."""
    return topic_filter.replace("+", "any-node").replace("#", "any/thing")


def _assert_subscriptions_granted(site: SiteConfig, bus: BusClient, account: str) -> None:
    """Every filter the daemon subscribed to is readable by its account: the ACL has not drifted
    from the code."""
    grants = next(a for a in site_accounts(site) if a.name == account).grants
    readable = [g.topic for g in grants if g.access in (Access.READ, Access.READWRITE)]
    for subscription in bus._subscriptions:
        sample = _sample_topic(subscription.topic_filter)
        assert any(mqtt.topic_matches_sub(grant, sample) for grant in readable), \
            f"{account} subscribes to {subscription.topic_filter} but may not read it"


def _console(hall: SecuredHall, peers: Callable[..., Peer]) -> Peer:
    console = peers(hall.port, "t-console", "console", hall.password("console"))
    assert not console.connect().is_failure
    console.subscribe(f"{ROOT}/#")
    return console


def test_rendered_files_hold_every_account_and_no_password_in_clear(hall: SecuredHall) -> None:
    passwd = (hall.conf_dir / PASSWD_NAME).read_text()
    names = [line.split(":")[0] for line in passwd.splitlines()]
    assert names == ["queue", "voice", "bridge", "console", "metrics", "line1", "line2",
                     "pad-w1", "screen-hall"]
    for name in names:
        secret = hall.password(name)
        assert len(secret) >= 32 and secret not in passwd
        assert (hall.credentials / f"{name}.password").stat().st_mode & 0o077 == 0
    acl = (hall.conf_dir / ACL_NAME).read_text()
    assert "pattern" not in acl.replace("No pattern lines", "")
    assert "user hall\n" not in acl, "no shared account once every daemon has its own"


def test_rendering_again_keeps_every_password(hall: SecuredHall, tmp_path: Path) -> None:
    before = {name: hall.password(name) for name in ("queue", "pad-w1")}
    render_mosquitto_config(hall.site, tmp_path / "again", data_dir=tmp_path / "again-data")
    assert {name: hall.password(name) for name in before} == before


def test_anonymous_and_wrong_password_are_refused(
    hall: SecuredHall, peers: Callable[..., Peer]
) -> None:
    anonymous = peers(hall.port, "t-anon").connect()
    assert anonymous.is_failure and anonymous.getName() == "Not authorized"
    wrong = peers(hall.port, "t-wrong", "pad-w1", hall.password("line1")).connect()
    assert wrong.is_failure
    unknown = peers(hall.port, "t-unknown", "hall", "hall-demo").connect()
    assert unknown.is_failure, "the development account is gone"
    assert not peers(hall.port, "t-pad", "pad-w1", hall.password("pad-w1")).connect().is_failure


def test_a_pads_credentials_rate_but_never_call_or_take_a_ticket(
    hall: SecuredHall, peers: Callable[..., Peer]
) -> None:
    console = _console(hall, peers)
    pad = peers(hall.port, "t-pad", "pad-w1", hall.password("pad-w1"))
    assert not pad.connect().is_failure
    forged = [f"{ROOT}/queue/request/call_next", f"{ROOT}/queue/request/take_ticket",
              f"{ROOT}/queue/event", f"{ROOT}/line1/w1-strip/state", f"{ROOT}/queue/state"]
    for topic in forged:
        pad.publish(topic, b'{"forged": true}')
    # One publisher's messages arrive in order: once the allowed ones are in, the denied ones
    # would have been delivered too.
    pad.publish(f"{ROOT}/queue/request/rate", b'{"rating": 1}')
    pad.publish(f"{ROOT}/pad-w1/pad/state", b'{"shown": []}', retain=True)
    wait_until(lambda: bool(console.payloads(f"{ROOT}/pad-w1/pad/state")), ANSWER_S,
               "the pad's state")
    assert console.payloads(f"{ROOT}/queue/request/rate") == [b'{"rating": 1}']
    for topic in forged:
        assert console.payloads(topic) == [], f"the broker delivered a pad's {topic}"


def test_a_line_daemon_cannot_speak_for_another_line(
    hall: SecuredHall, peers: Callable[..., Peer]
) -> None:
    console = _console(hall, peers)
    line1 = peers(hall.port, "t-line1", "line1", hall.password("line1"))
    assert not line1.connect().is_failure
    line1.publish(f"{ROOT}/line2/status", b"offline", retain=True)
    line1.publish(f"{ROOT}/line2/w2-strip/state", b"{}", retain=True)
    line1.publish(f"{ROOT}/queue/request/take_ticket", b"{}")  # a kiosk's action, not a line's
    line1.publish(f"{ROOT}/queue/request/call_next", b"{}")
    line1.publish(f"{ROOT}/line1/status", b"online", retain=True)
    wait_until(lambda: bool(console.payloads(f"{ROOT}/line1/status")), ANSWER_S, "line1's status")
    assert console.payloads(f"{ROOT}/queue/request/call_next") == [b"{}"]
    assert console.payloads(f"{ROOT}/line2/status") == []
    assert console.payloads(f"{ROOT}/line2/w2-strip/state") == []
    assert console.payloads(f"{ROOT}/queue/request/take_ticket") == []


def test_a_device_reads_only_what_it_needs(
    hall: SecuredHall, peers: Callable[..., Peer]
) -> None:
    screen = peers(hall.port, "t-screen", "screen-hall", hall.password("screen-hall"))
    assert not screen.connect().is_failure
    screen.subscribe(f"{ROOT}/queue/request/+")  # granted, but filtered on delivery
    screen.subscribe(f"{ROOT}/queue/event")
    console = _console(hall, peers)
    console.publish(f"{ROOT}/queue/request/take_ticket", b"{}")
    queue = peers(hall.port, "t-queue", "queue", hall.password("queue"))
    assert not queue.connect().is_failure
    queue.publish(f"{ROOT}/queue/event", b"called")
    wait_until(lambda: bool(screen.payloads(f"{ROOT}/queue/event")), ANSWER_S, "the queue's event")
    wait_until(lambda: bool(console.payloads(f"{ROOT}/queue/event")), ANSWER_S,
               "the console's copy")
    assert console.payloads(f"{ROOT}/queue/request/take_ticket") == [b"{}"]
    assert screen.payloads(f"{ROOT}/queue/request/take_ticket") == [], "a screen read requests"


def _tls_client(hall: SecuredHall, ca: Path | None, *, cert: Path | None = None,
                key: Path | None = None) -> tuple[mqtt.Client, list[int]]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t-tls",
                         protocol=mqtt.MQTTv311, reconnect_on_failure=False)
    client.username_pw_set("pad-w1", hall.password("pad-w1"))
    if ca is not None:
        client.tls_set(ca_certs=str(ca), certfile=None if cert is None else str(cert),
                       keyfile=None if key is None else str(key))
    answers: list[int] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: answers.append(reason.value)
    return client, answers


def _assert_dropped_without_connack(client: mqtt.Client, answers: list[int], port: int) -> None:
    """The broker ends the connection (at the TLS handshake or right after) and never answers."""
    dropped: list[bool] = []
    client.on_disconnect = lambda *_args: dropped.append(True)
    try:
        client.connect("127.0.0.1", port, 10)
    except (ssl.SSLError, OSError):
        dropped.append(True)  # refused during the handshake itself
    client.loop_start()
    try:
        wait_until(lambda: bool(dropped), ANSWER_S, "the broker to drop the client")
        assert answers == [], "the broker answered CONNECT"
    finally:
        client.loop_stop()


def _assert_accepted(client: mqtt.Client, answers: list[int], port: int) -> None:
    client.connect("127.0.0.1", port, 10)
    client.loop_start()
    try:
        wait_until(lambda: bool(answers), ANSWER_S, "CONNACK over TLS")
        assert answers == [0]
    finally:
        client.disconnect()
        client.loop_stop()


def test_tls_listener_accepts_the_hall_ca_and_refuses_plaintext(hall: SecuredHall) -> None:
    _assert_accepted(*_tls_client(hall, hall.pki.ca_cert), hall.tls_port)

    plain, plain_answers = _tls_client(hall, None)
    _assert_dropped_without_connack(plain, plain_answers, hall.tls_port)

    stranger = make_pki(hall.pki.ca_cert.parent / "other", "other")
    untrusted, _ = _tls_client(hall, stranger.ca_cert)
    with pytest.raises(ssl.SSLCertVerificationError):
        untrusted.connect("127.0.0.1", hall.tls_port, 10)


def test_bus_client_connects_over_tls_with_its_own_account(hall: SecuredHall) -> None:
    broker = hall.site.broker.model_copy(update={
        "port": hall.tls_port, "tls": ClientTlsConfig(ca_file=hall.pki.ca_cert),
    })
    client = BusClient(hall.site.hall_id, "screen-hall", broker)
    client.start(wait=10)
    try:
        assert client.connected
    finally:
        client.stop()
    with pytest.raises(CredentialsError, match="no password file"):
        BusClient(hall.site.hall_id, "not-in-the-site", broker)


def _client_cert(pki: Pki, folder: Path) -> tuple[Path, Path]:
    key, csr, cert = folder / "client.key", folder / "client.csr", folder / "client.pem"
    ca_key = pki.ca_cert.with_name(pki.ca_cert.name.replace("-ca.pem", "-ca.key"))
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=pad-w1"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(pki.ca_cert),
                    "-CAkey", str(ca_key), "-CAcreateserial", "-out", str(cert), "-days", "2"],
                   check=True, capture_output=True)
    return cert, key


def test_require_certificate_refuses_a_device_without_one(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    site = _secured_site(tmp_path, pki, require_certificate=True)
    broker = _start(site, tmp_path)
    assert site.broker.tls_listener is not None and site.broker.credentials_dir is not None
    hall = SecuredHall(site, site.broker.port, site.broker.tls_listener.port, pki,
                       site.broker.credentials_dir, tmp_path / "conf")
    try:
        bare, bare_answers = _tls_client(hall, pki.ca_cert)
        _assert_dropped_without_connack(bare, bare_answers, hall.tls_port)
        cert, key = _client_cert(pki, tmp_path / "pki")
        _assert_accepted(*_tls_client(hall, pki.ca_cert, cert=cert, key=key), hall.tls_port)
    finally:
        broker.stop()


def test_engine_and_network_pad_work_on_their_own_accounts(hall: SecuredHall) -> None:
    """The real daemons under the generated ACL: a rating goes pad -> engine -> event."""
    site = hall.site
    engine = QueueEngine(site, hall.credentials.parent / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    pad = NetworkPad(site, "pad-w1", "w1", PadPolicy(reasons=["等候时间长"], min_interval_s=0))
    desk = BusClient(site.hall_id, "tester", site.broker, account="console")
    events: list[QueueEvent] = []
    desk.subscribe_model(topics.queue_endpoint(site.hall_id).event, QueueEvent,
                         lambda _t, event: events.append(event))
    desk.start(wait=10)
    pad.start(wait=10)
    queue = topics.queue_endpoint(site.hall_id)

    def ask(action: str, **fields: object) -> dict[str, object]:
        request = QUEUE_ACTIONS[action].request.model_validate(fields)
        response = desk.request(queue, action, request, timeout=5)
        assert response.status == "ok", response
        return response.data or {}

    try:
        _assert_subscriptions_granted(site, engine.bus, "queue")
        _assert_subscriptions_granted(site, pad.bus, "pad-w1")
        ask("login", window_id="w1", staff_id="s001")
        ask("take_ticket", service_id="household")
        called = ask("call_next", window_id="w1")["ticket"]
        assert isinstance(called, dict)
        ask("finish", window_id="w1")
        wait_for(lambda: pad.session.screen() != (), what="the pad's prompt")
        rating = pad.press(PadKey.LEVEL_1)
        assert rating is not None and rating.ticket_id == called["ticket_id"]
        wait_for(lambda: any(e.type is QueueEventType.RATING_GIVEN for e in events),
                 what="the engine's rating event")
    finally:
        pad.stop()
        desk.stop()
        engine.stop()


def test_embedded_broker_takes_the_site_accounts_as_well(tmp_path: Path) -> None:
    """`hall broker` (development, no ACL) lets daemons of a per-account site log in."""
    settings = BrokerConfig(host="127.0.0.1", port=free_port(), keepalive_s=5,
                            reconnect_min_s=0.1, reconnect_max_s=1.0,
                            credentials_dir=tmp_path / "credentials")
    ensure_passwords(tmp_path / "credentials", ["queue", "pad-w1"])
    users = _embedded_users(settings)
    assert set(users) == {"hall", "queue", "pad-w1"}
    broker = EmbeddedBroker(settings.host, settings.port, users)
    broker.start()
    try:
        client = BusClient("test-hall", "pad-w1", settings)
        client.start(wait=10)
        client.stop()
        stranger = BusClient("test-hall", "queue", settings.model_copy(
            update={"credentials_dir": None, "password": "wrong"}))
        with pytest.raises(BusConnectError):
            stranger.start(wait=2)
    finally:
        broker.stop()


def test_line_daemon_works_on_its_own_account(hall: SecuredHall, tmp_path: Path) -> None:
    """A real line daemon under the generated ACL: login and next on its keypad reach the engine
    with the line's own account, and the call comes back to its strip."""
    config, sim = make_line(tmp_path / "ttyLINE1")
    site = hall.site.model_copy(update={"lines": [config]})  # line1: its account is rendered
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    sim.line.start()
    daemon = LineDaemon(site, config)
    daemon.start(wait=10)
    desk = BusClient(site.hall_id, "tester", site.broker, account="console")
    desk.start(wait=10)
    try:
        _assert_subscriptions_granted(site, daemon.bus, "line1")
        request = QUEUE_ACTIONS["take_ticket"].request.model_validate(
            {"service_id": "household"})
        assert desk.request(topics.queue_endpoint(site.hall_id), "take_ticket", request,
                            timeout=5).status == "ok"
        sim.caller.press(Key.LOGIN, "s001")
        wait_for(lambda: len(sim.caller.acks) == 1, what="login acknowledged")
        assert sim.caller.acks[0].result == Result.OK
        sim.caller.press(Key.NEXT)
        wait_for(lambda: sim.strip.shown == ("请A001号到1号窗口",), timeout=10,
                 what="the call on the strip")
    finally:
        desk.stop()
        daemon.stop()
        sim.line.stop()
        engine.stop()


REPO = repo_paths.REPO


def _actions_in(source: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, (REPO / source).read_text(encoding="utf-8")))


def test_granted_actions_are_exactly_what_each_daemon_sends() -> None:
    """The action lists of broker_accounts.py, checked against the code that sends requests."""
    assert _actions_in("kiosk/ticketing.py", r'PendingRequest\("([a-z_]+)"') == set(KIOSK_ACTIONS)
    assert _actions_in("daemons/bridge/daemon.py",
                       r'\("([a-z_]+)", [A-Z]\w+Request\(') == set(BRIDGE_ACTIONS)
    assert _actions_in("daemons/line/devices/pad.py", r'self\.ask\([^"\n]*"([a-z_]+)"') == {"rate"}
    assert _actions_in("drivers/network/pad.py", r'request\(self\.queue, "([a-z_]+)"') == \
        set(PAD_ACTIONS)
    assert set(LINE_ACTIONS) == set(KEYPAD_ACTIONS.values()) | {"rate"}
    for action in {*KIOSK_ACTIONS, *BRIDGE_ACTIONS, *LINE_ACTIONS, *PAD_ACTIONS}:
        assert action in QUEUE_ACTIONS, action


def test_render_command_never_prints_a_password(tmp_path: Path) -> None:
    site_file = tmp_path / "site.yaml"
    township = REPO / "firmware_config" / "sites" / "township.yaml"
    site_file.write_text(township.read_text(encoding="utf-8").replace(
        "broker: {}", f"broker: {{credentials_dir: {tmp_path / 'credentials'}}}"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "operations.cli", "config", "mosquitto", "--site", str(site_file),
         "--out", str(tmp_path / "conf"), "--port", str(free_port())],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    files = sorted((tmp_path / "credentials").iterdir())
    assert [f.name for f in files] == [f"{name}.password" for name in sorted(
        ["queue", "voice", "bridge", "console", "metrics", "line1", "pad-w1", "pad-w2"])]
    for file in files:
        secret = file.read_text(encoding="utf-8").strip()
        assert secret not in done.stdout + done.stderr
        assert file.stat().st_mode & 0o777 == 0o600


def test_voice_announcer_works_on_its_own_account(hall: SecuredHall, tmp_path: Path) -> None:
    """The announcer under the generated ACL reads the engine's calls and writes its state."""
    site = hall.site
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    voice = VoiceDaemon(site, data_dir=tmp_path)
    voice.start(wait=10)
    desk = BusClient(site.hall_id, "tester", site.broker, account="console")
    states: list[bytes] = []
    desk.subscribe(voice_endpoint(site.hall_id).state, lambda _t, raw: states.append(raw))
    desk.start(wait=10)
    queue = topics.queue_endpoint(site.hall_id)
    try:
        _assert_subscriptions_granted(site, voice.bus, "voice")
        for action, fields in (("login", {"window_id": "w1", "staff_id": "s001"}),
                               ("take_ticket", {"service_id": "household"}),
                               ("call_next", {"window_id": "w1"})):
            request = QUEUE_ACTIONS[action].request.model_validate(fields)
            assert desk.request(queue, action, request, timeout=5).status == "ok"
        out = tmp_path / "voice" / "out" / "floor1"
        wait_for(lambda: any(out.glob("*-A001.wav")), timeout=15, what="the call's WAV")
        wait_for(lambda: any(b"A001" in raw for raw in states), what="the announcer's state")
    finally:
        desk.stop()
        voice.stop()
        engine.stop()


def test_bridge_works_on_its_own_account(hall: SecuredHall, tmp_path: Path) -> None:
    """The bridge under the generated ACL: the engine's events reach the central backend."""
    backend_pki = make_pki(tmp_path / "backend")  # makes the backend's folder too
    backend = start_backend(tmp_path / "backend", hall.site.hall_id, backend_pki)
    site = bridge_site(tmp_path, hall.site.broker, backend.url, backend_pki.ca_cert)
    site = site.model_copy(update={"lines": hall.site.lines,
                                   "network_devices": hall.site.network_devices})
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    assert site.bridge is not None
    bridge = BridgeDaemon(site, site.bridge, tmp_path / "bridge.sqlite3", HALL_KEY)
    bridge.start(wait=10)
    desk = BusClient(site.hall_id, "tester", site.broker, account="console")
    desk.start(wait=10)
    try:
        _assert_subscriptions_granted(site, bridge.bus, "bridge")
        request = QUEUE_ACTIONS["take_ticket"].request.model_validate({"service_id": "tax"})
        assert desk.request(topics.queue_endpoint(site.hall_id), "take_ticket", request,
                            timeout=5).status == "ok"
        wait_for(lambda: "ticket_issued" in [record["type"] for record in
                                             backend.store.records(site.hall_id)],
                 timeout=15, what="the ticket at the central backend")
    finally:
        desk.stop()
        bridge.stop()
        engine.stop()
        backend.stop()


def test_kiosk_works_on_its_own_account(tmp_path: Path) -> None:
    """A kiosk's ticket desk and printer under the generated ACL: a ticket is issued and the
    printer's state is published; the kiosk cannot call."""
    pki = make_pki(tmp_path / "pki")
    site = _secured_site(tmp_path, pki)
    site = site.model_copy(update={"kiosks": kiosk_site(site.broker, tmp_path).kiosks})
    broker = _start(site, tmp_path)
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    kiosk = site.kiosks[0]
    bus = BusClient(site.hall_id, kiosk.id, site.broker)
    desk = TicketDesk(site, kiosk, bus)
    bus.start(wait=10)
    printer = KioskPrinter(site, kiosk, bus, receipts_dir=tmp_path / "receipts")
    watcher = BusClient(site.hall_id, "tester", site.broker, account="console")
    printer_states: list[bytes] = []
    watcher.subscribe(topics.Endpoint(site.hall_id, kiosk.id, "printer").state,
                      lambda _t, raw: printer_states.append(raw))
    watcher.start(wait=10)
    printer.start()
    try:
        _assert_subscriptions_granted(site, bus, kiosk.id)
        # As the kiosk does: the same request again until the engine answers (one attempt
        # waits only 3 s, which a just-started engine on a busy machine may miss).
        pending = desk.take_ticket("household")
        give_up = time.monotonic() + 30
        while (outcome := desk.send(pending)).kind is OutcomeKind.UNREACHABLE:
            assert time.monotonic() < give_up, outcome.message
            time.sleep(0.1)
        assert outcome.kind is OutcomeKind.ISSUED and outcome.ticket is not None
        assert outcome.ticket.number == "A001"
        wait_for(lambda: bool(printer_states), what="the printer's state")
        forged = QUEUE_ACTIONS["call_next"].request.model_validate({"window_id": "w1"})
        with pytest.raises(BusTimeout):  # dropped by the broker: no answer ever comes
            bus.request(topics.queue_endpoint(site.hall_id), "call_next", forged, timeout=1.5)
    finally:
        printer.stop()
        watcher.stop()
        bus.stop()
        engine.stop()
        broker.stop()


def test_camera_works_on_its_own_account(tmp_path: Path) -> None:
    """A camera supervisor under the generated ACL: its availability, state and the camera's
    status reach the hall; it reads the queue's state."""
    pki = make_pki(tmp_path / "pki")
    site = _secured_site(tmp_path, pki).model_copy(update={"cameras": [desk_camera()]})
    broker = _start(site, tmp_path)
    watcher = BusClient(site.hall_id, "tester", site.broker, account="console")
    seen: dict[str, bytes] = {}
    watcher.subscribe(f"hall/{site.hall_id}/#", lambda topic, raw: seen.__setitem__(topic, raw))
    watcher.start(wait=10)
    camera = CameraDaemon(site, site.cameras[0], UnpluggableSource(),
                          reference_dir=tmp_path / "refs", capture_reference=True)
    camera.start(wait=10)
    desk = topics.camera_endpoint(site.hall_id, "desk")
    try:
        _assert_subscriptions_granted(site, camera.bus, "camera-desk")
        wait_for(lambda: seen.get(desk.status) == b"online", what="the camera's status")
        wait_for(lambda: desk.state in seen, what="the camera's state")
        assert seen.get(f"hall/{site.hall_id}/camera-desk/status") == b"online"
    finally:
        camera.stop()
        watcher.stop()
        broker.stop()
