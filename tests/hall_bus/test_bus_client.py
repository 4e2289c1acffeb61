"""The bus client against a real Mosquitto: availability, reconnect, de-dup, request/response."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mosquitto import Mosquitto

from firmware_config.site import BrokerConfig
from hall_bus import topics
from hall_bus.client import BusClient, BusConnectError, BusTimeout
from hall_bus.contract import Message, Request, Response, ResponseStatus
from hall_bus.contract.base import MAX_PACKET_BYTES
from hall_bus.dedup import SeenIds
from hall_bus.ids import utc_now
from hall_bus.reconnect import Backoff

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

HALL = "t1"
SERVICE = topics.Endpoint(HALL, "svc")
MakeClient = Callable[..., BusClient]


class Ping(Message):
    n: int


class EchoRequest(Request):
    text: str


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Recorder:
    """A thread-safe raw handler that remembers what it was given."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()

    def __call__(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self.items.append((topic, payload))

    @property
    def payloads(self) -> list[bytes]:
        with self._lock:
            return [payload for _, payload in self.items]

    @property
    def topics(self) -> list[str]:
        with self._lock:
            return [topic for topic, _ in self.items]

    @property
    def distinct(self) -> list[bytes]:
        """Payloads with back-to-back repeats folded: QoS 1 is at-least-once (amqtt sends a
        retained message twice to a persistent session that subscribes)."""
        return [p for i, p in enumerate(self.payloads) if i == 0 or p != self.payloads[i - 1]]


@pytest.fixture
def bus_config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerConfig]:
    """Mosquitto unless a test asks for both brokers with `@both_brokers`."""
    if getattr(request, "param", "mosquitto") == "mosquitto":
        yield request.getfixturevalue("broker_config")
        return
    from daemons.broker.embedded import EmbeddedBroker

    users = {"hall": "embedded-secret"}
    with EmbeddedBroker("127.0.0.1", 0, users, tmp_path / "amqtt") as broker:
        yield BrokerConfig(host="127.0.0.1", port=broker.port, username="hall",
                           password=users["hall"], keepalive_s=5,
                           reconnect_min_s=0.1, reconnect_max_s=1.0)


both_brokers = pytest.mark.parametrize("bus_config", ["mosquitto", "embedded"], indirect=True)


@pytest.fixture
def make_client(bus_config: BrokerConfig) -> Iterator[MakeClient]:
    clients: list[BusClient] = []

    def make(node: str, *, config: BrokerConfig | None = None, **kwargs: Any) -> BusClient:
        client = BusClient(HALL, node, config or bus_config, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.stop()


def read_retained(make_client: MakeClient, topic: str, node: str) -> bytes:
    """What a newcomer receives on `topic`: once the broker has stored it, that is the retained."""
    reader = make_client(node, clean_session=True)
    got = Recorder()
    reader.subscribe(topic, got)
    reader.start(wait=5)
    wait_for(lambda: got.payloads, f"a retained message on {topic}")
    reader.stop()
    return got.payloads[-1]


# --- availability -----------------------------------------------------------------------------


@both_brokers
def test_online_retained_then_offline_on_clean_stop(make_client: MakeClient) -> None:
    alpha = make_client("alpha")
    alpha.start(wait=5)
    assert alpha.connected
    assert read_retained(make_client, alpha.endpoint.status, "reader1") == b"online"

    watcher = make_client("watcher")
    seen = Recorder()
    watcher.subscribe(alpha.endpoint.status, seen)
    watcher.start(wait=5)
    wait_for(lambda: seen.distinct == [b"online"], "online")
    alpha.stop()
    alpha.stop()  # idempotent
    assert not alpha.connected
    wait_for(lambda: seen.distinct == [b"online", b"offline"], "offline after stop")
    assert read_retained(make_client, alpha.endpoint.status, "reader2") == b"offline"


def test_a_tool_that_does_not_announce_leaves_no_status_behind(make_client: MakeClient) -> None:
    watcher = make_client("watcher")
    seen = Recorder()
    watcher.subscribe(f"hall/{HALL}/+/status", seen)
    watcher.start(wait=5)
    tool = make_client("one-off", clean_session=True, announce=False)
    tool.start(wait=5)
    ponger = make_client("ponger")
    ponger.start(wait=5)
    wait_for(lambda: ponger.endpoint.status in seen.topics, "the announcing node's status")
    tool.stop()
    ponger.stop()
    wait_for(lambda: seen.payloads.count(b"offline") >= 1, "the announcing node's offline")
    assert tool.endpoint.status not in seen.topics


def test_last_will_says_offline_after_sigkill(
    make_client: MakeClient, broker_config: BrokerConfig
) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from firmware_config.site import BrokerConfig
        from hall_bus.client import BusClient
        client = BusClient("t1", "victim", BrokerConfig.model_validate_json(sys.argv[1]))
        client.start(wait=5)
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    victim = subprocess.Popen(
        [sys.executable, "-c", script, broker_config.model_dump_json()],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert victim.stdout is not None
        assert victim.stdout.readline().strip() == "ready"
        status = topics.Endpoint(HALL, "victim").status
        watcher = make_client("watcher")
        seen = Recorder()
        watcher.subscribe(status, seen)
        watcher.start(wait=5)
        wait_for(lambda: seen.distinct == [b"online"], "victim online")
        os.kill(victim.pid, signal.SIGKILL)
        wait_for(lambda: seen.distinct == [b"online", b"offline"], "the last will")
    finally:
        victim.kill()
        victim.wait()
    assert read_retained(make_client, status, "reader") == b"offline"


def test_state_online_and_subscriptions_restored_after_broker_lost_everything(
    make_client: MakeClient, mosquitto: Mosquitto
) -> None:
    alpha = make_client("alpha")
    commands = Recorder()
    alpha.subscribe(topics.Endpoint(HALL, "alpha", "led").set, commands)
    connects = Recorder()
    alpha.on_connect_hooks.append(lambda: connects("hook", b""))
    alpha.start(wait=5)
    state = topics.Endpoint(HALL, "alpha", "led").state
    assert alpha.publish_state(state, Ping(n=1), wait=2)
    wait_for(lambda: len(connects.items) == 1, "first on-connect hook")

    mosquitto.stop()
    wait_for(lambda: not alpha.connected, "alpha notices the broker is gone")
    newest = Ping(n=2)
    assert alpha.publish_state(state, newest)  # queued, not raised
    mosquitto.restart(forget_state=True)
    assert alpha.wait_connected(5)
    wait_for(lambda: len(connects.items) == 2, "on-connect hook after the reconnect")

    # A first reader may catch the republish live; once it has, a second one can only get it
    # from the broker's retained store.
    read_retained(make_client, state, "reader1")
    assert read_retained(make_client, state, "reader2") == newest.to_json()
    assert read_retained(make_client, alpha.endpoint.status, "reader3") == b"online"

    commander = make_client("commander")
    commander.start(wait=5)
    commander.publish(topics.Endpoint(HALL, "alpha", "led").set, b'{"text": "A001"}')
    wait_for(lambda: commands.distinct == [b'{"text": "A001"}'], "replayed subscription")


def test_qos1_published_while_broker_down_arrives_after_restart(
    make_client: MakeClient, mosquitto: Mosquitto
) -> None:
    events = topics.Endpoint(HALL, "kiosk", "printer").event
    listener = make_client("listener")
    got = Recorder()
    listener.subscribe(events, got)
    listener.start(wait=5)
    sender = make_client("kiosk")
    sender.start(wait=5)

    mosquitto.stop()
    wait_for(lambda: not sender.connected, "sender notices the broker is gone")
    message = Ping(n=7)
    delivery = sender.publish(events, message)
    assert delivery and not delivery.is_published()  # queued, not raised
    mosquitto.restart()
    wait_for(lambda: got.distinct == [message.to_json()], "the message queued by the sender")
    wait_for(delivery.is_published, "the broker's acknowledgement of the queued message")


@both_brokers
def test_persistent_session_keeps_qos1_for_an_offline_subscriber(
    make_client: MakeClient,
) -> None:
    events = topics.Endpoint(HALL, "queue").event
    first = make_client("screen")
    first.subscribe(events, Recorder())
    first.start(wait=5)
    first.stop()  # a clean disconnect keeps the session (clean_session=False)

    sender = make_client("queue")
    sender.start(wait=5)
    message = Ping(n=3)
    assert sender.publish(events, message, wait=2)

    again = make_client("screen")
    got = Recorder()
    again.subscribe(events, got)
    again.start(wait=5)
    wait_for(lambda: got.distinct == [message.to_json()], "message kept in the session")


@both_brokers
def test_start_fails_clearly_when_refused(
    make_client: MakeClient, bus_config: BrokerConfig, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = bus_config.model_copy(update={"password": "wrong"})
    client = make_client("intruder", config=wrong)
    # Long enough for a busy machine's broker to answer at least once, so the error can say why.
    with pytest.raises(BusConnectError, match="refused"):
        client.start(wait=3)
    assert not client.connected
    refusals = [r for r in caplog.records
                if r.levelno == logging.WARNING and "refused" in r.message]
    assert refusals, "each failed attempt is logged at WARNING"


def test_keeps_trying_in_background_until_the_broker_comes(
    make_client: MakeClient, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    mosquitto.stop()
    client = make_client("patient")
    client.start(wait=None)
    wait_for(
        lambda: sum("attempt" in r.message for r in caplog.records) >= 2,
        "two logged failed attempts",
    )
    assert not client.connected
    mosquitto.start()
    assert client.wait_connected(5)


# --- subscriptions ----------------------------------------------------------------------------


@both_brokers
def test_duplicate_id_is_handled_once(make_client: MakeClient) -> None:
    topic = topics.Endpoint(HALL, "queue").event
    listener = make_client("listener")
    seen: list[int] = []
    listener.subscribe_model(topic, Ping, lambda _topic, ping: seen.append(ping.n))
    listener.start(wait=5)
    sender = make_client("sender")
    sender.start(wait=5)
    once = Ping(n=1)
    sender.publish(topic, once)
    sender.publish(topic, once.to_json())
    sender.publish(topic, Ping(n=2))
    wait_for(lambda: 2 in seen, "the message after the duplicate")
    assert seen == [1, 2]


def test_bad_payloads_are_logged_and_later_messages_still_arrive(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    topic = topics.Endpoint(HALL, "pad1").event
    listener = make_client("listener")
    seen: list[int] = []
    listener.subscribe_model(topic, Ping, lambda _topic, ping: seen.append(ping.n))
    listener.start(wait=5)
    sender = make_client("sender")
    sender.start(wait=5)
    sender.publish(topic, b"{not json")
    sender.publish(topic, b"\xff\xfe")
    sender.publish(topic, b'{"v": 1, "id": "01BAD", "n": "many"}')
    sender.publish(topic, Ping(n=5))
    wait_for(lambda: seen == [5], "the good message")
    warnings = [r.message for r in caplog.records
                if r.levelno == logging.WARNING and topic in r.message]
    assert len(warnings) == 3
    assert "n: " in warnings[2]


def test_handler_exception_is_logged_and_swallowed(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    topic = topics.Endpoint(HALL, "pad1").event
    calls: list[bytes] = []

    def fragile(_topic: str, payload: bytes) -> None:
        calls.append(payload)
        if len(calls) == 1:
            raise RuntimeError("boom")

    listener = make_client("listener")
    listener.subscribe(topic, fragile)
    listener.start(wait=5)
    sender = make_client("sender")
    sender.start(wait=5)
    sender.publish(topic, b"1")
    sender.publish(topic, b"2")
    wait_for(lambda: calls == [b"1", b"2"], "the second message")
    failures = [r for r in caplog.records if r.exc_info and topic in r.message]
    assert len(failures) == 1
    assert listener.connected


# --- request / response -----------------------------------------------------------------------


@pytest.fixture
def service(make_client: MakeClient) -> tuple[BusClient, list[Request]]:
    executed: list[Request] = []

    def handle(action: str, request: Request) -> Response:
        executed.append(request)
        if action == "boom":
            raise RuntimeError("broken on purpose")
        assert isinstance(request, EchoRequest)
        return Response.ok(request.id, {"text": request.text,
                                        "thread": threading.current_thread().name})

    server = make_client("svc")
    server.serve(SERVICE, {"echo": EchoRequest, "boom": Request}, handle)
    server.start(wait=5)
    return server, executed


@both_brokers
def test_request_roundtrip(
    make_client: MakeClient, service: tuple[BusClient, list[Request]]
) -> None:
    client = make_client("kiosk1")
    client.start(wait=5)
    request = EchoRequest(text="你好")
    response = client.request(SERVICE, "echo", request, timeout=3)
    assert response.status is ResponseStatus.OK
    assert response.id == request.id
    assert response.data is not None and response.data["text"] == "你好"
    assert response.data["thread"].startswith("bus-t1-svc-serve")  # off the network thread
    executed = service[1]
    assert executed[0].deadline > utc_now()  # the default deadline became now + timeout
    assert executed[0].deadline < utc_now() + timedelta(seconds=3)


def test_handler_exception_answered_internal_error(
    make_client: MakeClient, service: tuple[BusClient, list[Request]]
) -> None:
    client = make_client("kiosk1")
    client.start(wait=5)
    response = client.request(SERVICE, "boom", Request(), timeout=10)
    assert (response.status, response.code) == (ResponseStatus.ERROR, "internal_error")
    assert client.request(SERVICE, "echo", EchoRequest(text="still"), timeout=10).data


def test_unknown_action_is_answered_with_error(
    make_client: MakeClient, service: tuple[BusClient, list[Request]]
) -> None:
    client = make_client("kiosk1")
    client.start(wait=5)
    request = EchoRequest(text="x")
    response = client.request(SERVICE, "fly", request, timeout=10)
    assert (response.status, response.code, response.id) == (
        ResponseStatus.ERROR, "unknown_action", request.id)
    assert "echo" in (response.error or "")
    assert service[1] == []


def test_invalid_payload_is_answered_naming_the_field(
    make_client: MakeClient, service: tuple[BusClient, list[Request]]
) -> None:
    client = make_client("kiosk1")
    client.start(wait=5)
    request = Request()  # lacks `text`
    response = client.request(SERVICE, "echo", request, timeout=10)
    assert (response.code, response.id) == ("invalid_payload", request.id)
    assert "text" in (response.error or "")

    answers = Recorder()
    client.subscribe(SERVICE.response("echo"), answers)
    client.publish(SERVICE.request("echo"), b"{broken")
    wait_for(lambda: answers.payloads, "an answer to malformed JSON")
    broken = Response.model_validate_json(answers.payloads[0])
    assert broken.code == "invalid_payload" and broken.id  # a fresh id: none could be read
    assert service[1] == []


@pytest.mark.parametrize(("what", "payload"), [
    ("nesting 1,000 deep", b'{"id": "req-deep", "text": ' + b"[" * 1000 + b"]" * 1000 + b"}"),
    ("a lone surrogate", b'{"id": "req-surrogate", "text": "\\ud800"}'),
    ("a 5,000-digit number", b'{"id": "req-bignum", "text": ' + b"9" * 5000 + b"}"),
    ("no closing brace", b'{"id": "req-cut", "text": "half'),
])
def test_malformed_requests_are_answered_under_their_own_id(
    make_client: MakeClient, service: tuple[BusClient, list[Request]], what: str, payload: bytes
) -> None:
    client = make_client("kiosk1")
    client.start(wait=5)
    answers = Recorder()
    client.subscribe(SERVICE.response("echo"), answers)
    client.publish(SERVICE.request("echo"), payload)
    wait_for(lambda: answers.payloads, f"an answer to {what}")
    answer = Response.model_validate_json(answers.payloads[0])
    expected_id = payload.split(b'"')[3].decode()
    assert (answer.code, answer.id) == ("invalid_payload", expected_id), what
    assert service[1] == []


@pytest.mark.parametrize("action", ["ECHO", "叫号", "echo.now"])
def test_an_invalid_action_name_is_answered_where_its_requester_listens(
    make_client: MakeClient, service: tuple[BusClient, list[Request]], action: str
) -> None:
    client = make_client("kiosk1")
    client.start(wait=5)
    answers = Recorder()
    response_topic = f"{SERVICE.base}/response/{action}"
    client.subscribe(response_topic, answers)
    client.publish(f"{SERVICE.base}/request/{action}", EchoRequest(id="req-name", text="x"))
    wait_for(lambda: answers.payloads, "an answer to a badly named action")
    answer = Response.model_validate_json(answers.payloads[0])
    assert (answer.code, answer.id) == ("unknown_action", "req-name")
    assert service[1] == []


def test_an_answer_too_large_for_the_broker_is_an_error_and_the_server_stays_up(
    make_client: MakeClient,
) -> None:
    def handle(action: str, request: Request) -> Response:
        size = 2 * MAX_PACKET_BYTES if action == "huge" else 10
        return Response.ok(request.id, {"blob": "x" * size})

    server = make_client("svc")
    server.serve(SERVICE, {"huge": Request, "small": Request}, handle)
    server.start(wait=5)
    client = make_client("kiosk1")
    client.start(wait=5)
    refused = client.request(SERVICE, "huge", Request(), timeout=10)
    assert (refused.status, refused.code) == (ResponseStatus.ERROR, "response_too_large")
    # The broker never saw the oversized packet, so the server's connection lived on.
    assert client.request(SERVICE, "small", Request(), timeout=10).data == {"blob": "x" * 10}
    assert server.connected


def test_expired_request_is_not_executed(
    make_client: MakeClient, service: tuple[BusClient, list[Request]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="hall_bus.client")
    client = make_client("kiosk1")
    client.start(wait=5)
    late = EchoRequest(text="late", deadline=utc_now() - timedelta(seconds=1))
    response = client.request(SERVICE, "echo", late, timeout=10)
    assert (response.code, response.id) == ("deadline_expired", late.id)
    assert service[1] == []
    assert any(r.levelno == logging.INFO and "expired" in r.message for r in caplog.records)


def test_expired_request_can_be_sent_again_with_the_same_id(
    make_client: MakeClient, service: tuple[BusClient, list[Request]],
) -> None:
    client = make_client("kiosk1")
    client.start(wait=5)
    late = EchoRequest(text="again", deadline=utc_now() - timedelta(seconds=1))
    assert client.request(SERVICE, "echo", late, timeout=10).code == "deadline_expired"
    retry = late.model_copy(update={"deadline": utc_now() + timedelta(seconds=5)})
    response = client.request(SERVICE, "echo", retry, timeout=10)
    assert (response.status, response.id) == (ResponseStatus.OK, late.id)
    assert [r.id for r in service[1]] == [late.id]


def test_a_request_asked_again_gets_the_first_answer_without_a_second_execution(
    make_client: MakeClient, service: tuple[BusClient, list[Request]],
) -> None:
    client = make_client("kiosk1")
    client.start(wait=5)
    first = EchoRequest(text="once", deadline=utc_now() + timedelta(seconds=30))
    answer = client.request(SERVICE, "echo", first, timeout=10)
    # The requester lost that answer and asks again: same id, next attempt.
    again = client.request(SERVICE, "echo", first.model_copy(update={"attempt": 2}), timeout=10)
    assert again.model_dump() == answer.model_dump()
    assert [r.id for r in service[1]] == [first.id]
    # A redelivered copy of an attempt already answered is not answered.
    with pytest.raises(BusTimeout):
        client.request(SERVICE, "echo", first.model_copy(update={"attempt": 2}), timeout=0.5)
    assert [r.id for r in service[1]] == [first.id]


def test_duplicate_request_is_executed_once(
    make_client: MakeClient, service: tuple[BusClient, list[Request]]
) -> None:
    client = make_client("kiosk1")
    answers = Recorder()
    client.subscribe(SERVICE.response("echo"), answers)
    client.start(wait=5)
    first, last = EchoRequest(text="1"), EchoRequest(text="2")
    client.publish(SERVICE.request("echo"), first)
    client.publish(SERVICE.request("echo"), first)
    client.publish(SERVICE.request("echo"), last)
    # The server works in arrival order: once `last` is answered the duplicate was dealt with.
    wait_for(lambda: any(last.id.encode() in p for p in answers.payloads), "the last answer")
    assert [r.id for r in service[1]] == [first.id, last.id]
    ids = [Response.model_validate_json(p).id for p in answers.payloads]
    assert ids == [first.id, last.id]


def test_concurrent_requests_from_eight_threads(
    make_client: MakeClient, service: tuple[BusClient, list[Request]]
) -> None:
    client = make_client("console")
    client.start(wait=5)

    def ask(n: int) -> str:
        response = client.request(SERVICE, "echo", EchoRequest(text=f"t{n}"), timeout=5)
        assert response.data is not None
        return str(response.data["text"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, range(40)))
    assert answers == [f"t{n}" for n in range(40)]
    assert len(service[1]) == 40


def test_stop_lets_a_running_request_answer_before_offline(make_client: MakeClient) -> None:
    started = threading.Event()

    def slow(_action: str, request: Request) -> Response:
        started.set()
        time.sleep(0.3)
        return Response.ok(request.id, {"done": True})

    server = make_client("svc")
    server.serve(SERVICE, {"slow": Request}, slow)
    server.start(wait=5)
    client = make_client("kiosk1")
    client.start(wait=5)
    with ThreadPoolExecutor(max_workers=1) as pool:
        answer = pool.submit(client.request, SERVICE, "slow", Request(), 3)
        assert started.wait(3)
        server.stop()
        assert answer.result().data == {"done": True}


def test_request_timeout_raises(make_client: MakeClient) -> None:
    client = make_client("kiosk1")
    client.start(wait=5)
    with pytest.raises(BusTimeout, match="echo"):
        client.request(topics.Endpoint(HALL, "nobody"), "echo", EchoRequest(text="?"),
                       timeout=0.3)


# --- building blocks --------------------------------------------------------------------------


def test_backoff_grows_to_the_cap_and_resets() -> None:
    backoff = Backoff(0.5, 4.0, uniform=lambda low, high: high)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5
    jittered = Backoff(0.5, 4.0)
    for _ in range(10):
        assert 0.5 <= jittered.next_delay() <= 4.0


def test_seen_ids_are_bounded() -> None:
    seen = SeenIds(capacity=3)
    assert [seen.add(x) for x in "abca"] == [True, True, True, False]
    seen.add("d")  # forgets "b", the least recently seen
    assert "b" not in seen and "a" in seen and len(seen) == 3
