"""The embedded amqtt broker: authentication, retained state, persistent sessions, ports, CLI."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mqtt_peer import ANSWER_S, Peer, wait_until
from mqtt_peer import peers as peers  # a fixture, used by name

from daemons.broker.embedded import EmbeddedBroker, PortInUseError
from firmware_config.loader import load_site
from hall_bus.netutil import free_port, port_is_free

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

USERS = {"hall": "hall-demo", "kiosk-1": "kiosk-pw"}


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(port=0, users=USERS) as running:
        yield running


def test_authentication_is_required(broker: EmbeddedBroker, peers: Callable[..., Peer]) -> None:
    assert peers(broker.port, "t-anon").connect().is_failure
    assert peers(broker.port, "t-wrong", "hall", "wrong").connect().is_failure
    assert peers(broker.port, "t-nobody", "nobody", "hall-demo").connect().is_failure
    assert not peers(broker.port, "t-good", "hall", "hall-demo").connect().is_failure


def test_binds_only_the_given_host(broker: EmbeddedBroker) -> None:
    assert broker.host == "127.0.0.1"
    assert broker.port not in (0, 1883)
    assert not port_is_free("127.0.0.1", broker.port)


def test_retained_message_reaches_a_late_subscriber(
    broker: EmbeddedBroker, peers: Callable[..., Peer]
) -> None:
    writer = peers(broker.port, "t-writer", "hall", "hall-demo")
    assert not writer.connect().is_failure
    writer.publish("hall/h1/queue/state", b'{"v":1}', retain=True)
    reader = peers(broker.port, "t-reader", "kiosk-1", "kiosk-pw")
    assert not reader.connect().is_failure
    reader.subscribe("hall/h1/queue/state")
    wait_until(lambda: bool(reader.messages), ANSWER_S, "the retained message")
    assert reader.messages[0].retain
    assert reader.payloads("hall/h1/queue/state") == [b'{"v":1}']


def test_persistent_session_gets_messages_sent_while_offline(
    broker: EmbeddedBroker, peers: Callable[..., Peer]
) -> None:
    count = 300
    topic = "hall/h1/queue/event"
    first = peers(broker.port, "t-durable", "kiosk-1", "kiosk-pw", clean_session=False)
    assert not first.connect().is_failure
    first.subscribe(topic)
    first.close()

    writer = peers(broker.port, "t-writer", "hall", "hall-demo")
    assert not writer.connect().is_failure
    for info in [writer.client.publish(topic, str(i).encode(), qos=1) for i in range(count)]:
        info.wait_for_publish(10)

    back = peers(broker.port, "t-durable", "kiosk-1", "kiosk-pw", clean_session=False)
    assert not back.connect().is_failure
    assert back.session_present
    wait_until(lambda: len(back.payloads(topic)) >= count, 15, f"{count} queued messages")
    assert sorted(int(p) for p in back.payloads(topic)) == list(range(count))


def test_retained_messages_survive_a_restart_with_data_dir(
    tmp_path: Path, peers: Callable[..., Peer]
) -> None:
    port = free_port()
    with EmbeddedBroker(port=port, users=USERS, data_dir=tmp_path) as first:
        writer = peers(first.port, "t-writer", "hall", "hall-demo")
        assert not writer.connect().is_failure
        writer.publish("hall/h1/queue/state", b"kept", retain=True)
        writer.publish("hall/h1/kiosk-1/status", b"gone", retain=True)
        writer.publish("hall/h1/kiosk-1/status", b"", retain=True)  # clears the retained one
        writer.close()
    with EmbeddedBroker(port=port, users=USERS, data_dir=tmp_path) as second:
        reader = peers(second.port, "t-reader", "hall", "hall-demo")
        assert not reader.connect().is_failure
        reader.subscribe("hall/h1/#")
        wait_until(lambda: bool(reader.messages), ANSWER_S, "the restored retained message")
        time.sleep(0.1)  # the cleared topic, if wrongly restored, would come with it
        assert [(m.topic, m.payload) for m in reader.messages] == [("hall/h1/queue/state", b"kept")]


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        broker = EmbeddedBroker(port=port, users=USERS)
        with pytest.raises(PortInUseError) as caught:
            broker.start()
        assert f"端口 {port} 已被占用 / port {port} is already in use" in str(caught.value)
        broker.stop()  # nothing started; must still be harmless


def test_two_brokers_on_free_ports(peers: Callable[..., Peer]) -> None:
    with EmbeddedBroker(port=0, users=USERS) as one, EmbeddedBroker(port=0, users=USERS) as two:
        assert one.port != two.port
        a = peers(one.port, "t-a", "hall", "hall-demo")
        b = peers(two.port, "t-b", "hall", "hall-demo")
        assert not a.connect().is_failure
        assert not b.connect().is_failure
        b.subscribe("x/#")
        a.publish("x/y", b"only on one")
        a.subscribe("x/#")
        a.publish("x/y", b"again")
        wait_until(lambda: bool(a.messages), ANSWER_S, "own message on broker one")
        assert b.messages == []
    one.stop()  # idempotent after the context manager already stopped it


def _hall_command() -> list[str]:
    script = Path(sys.executable).parent / "hall"
    return [str(script)] if script.exists() else [sys.executable, "-m", "operations.cli"]


def test_hall_broker_command_serves_and_stops_on_sigterm(peers: Callable[..., Peer]) -> None:
    port = free_port()
    settings = load_site(None).broker
    process = subprocess.Popen(
        [*_hall_command(), "broker", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    stream = process.stderr

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 15
        while not any(f"listening on 127.0.0.1:{port}" in line for line in seen):
            assert process.poll() is None, "".join(seen)
            assert time.monotonic() < deadline, "".join(seen)
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=0.1))
        assert any("嵌入式代理已启动 / embedded broker listening on" in line for line in seen)
        client = peers(port, "t-cli", settings.username, settings.password)
        assert not client.connect().is_failure
        client.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_hall_broker_command_reports_a_taken_port() -> None:
    with EmbeddedBroker(port=0, users=USERS) as running:
        result = subprocess.run(
            [*_hall_command(), "broker", "--port", str(running.port)],
            capture_output=True, text=True, timeout=20,
        )
    assert result.returncode == 1
    assert f"端口 {running.port} 已被占用 / port {running.port} is already in use" in result.stderr
