"""The queue engine daemon over a real Mosquitto: every action, errors, duplicates, restarts."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from bus_helpers import Collector
from mosquitto import Mosquitto
from queue_fixtures import FakeClock, every_ticket, make_site

from bench.engine_process import EngineProcess, write_site
from daemons.queue.service import QueueEngine
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus.client import BusClient, BusTimeout
from hall_bus.contract import (
    QUEUE_ACTIONS,
    Appointment,
    QueueEvent,
    QueueEventType,
    QueueSummaryState,
    Response,
    ResponseStatus,
    TakeTicketRequest,
)
from hall_bus.ids import utc_now
from hall_bus.topics import queue_endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)


class Hall:
    """A client of the engine under test, watching its events, state and responses."""

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.endpoint = queue_endpoint(site.hall_id)
        self.bus = BusClient(site.hall_id, "tester", site.broker)
        self.events: Collector[QueueEvent] = Collector()
        self.states: Collector[QueueSummaryState] = Collector()
        self.raw_responses: Collector[dict[str, Any]] = Collector()
        self.bus.subscribe_model(self.endpoint.event, QueueEvent, self.events.add)
        self.bus.subscribe_model(self.endpoint.state, QueueSummaryState, self.states.add)
        self.bus.subscribe(self.endpoint.any_response,
                           lambda topic, raw: self.raw_responses.add(topic, json.loads(raw)))
        self.bus.start(wait=10)

    def ask(self, action: str, timeout: float = 5.0, **fields: Any) -> Response:
        request = QUEUE_ACTIONS[action].request.model_validate(fields)
        return self.bus.request(self.endpoint, action, request, timeout=timeout)

    def ok(self, action: str, **fields: Any) -> dict[str, Any]:
        response = self.ask(action, **fields)
        assert response.status is ResponseStatus.OK, (action, response.code, response.error)
        return response.data or {}

    def error(self, action: str, **fields: Any) -> str:
        response = self.ask(action, **fields)
        assert response.status is ResponseStatus.ERROR, (action, response.data)
        return str(response.code)

    def ok_resending(self, action: str, timeout: float = 15.0, **fields: Any) -> dict[str, Any]:
        """Like a kiosk after a broker restart: send again, same id, until answered."""
        request = QUEUE_ACTIONS[action].request.model_validate(fields)
        deadline = time.monotonic() + timeout
        number = 0
        while time.monotonic() < deadline:
            number += 1
            copy = request.model_copy(
                update={"deadline": utc_now() + timedelta(seconds=1), "attempt": number}
            )
            try:
                response = self.bus.request(self.endpoint, action, copy, timeout=1)
            except BusTimeout:
                continue
            if response.code == "deadline_expired":
                continue  # an earlier copy answered late; it was not executed
            assert response.status is ResponseStatus.OK, (action, response.code)
            return response.data or {}
        raise AssertionError(f"{action} not answered in {timeout} s")

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Ask until the engine answers: a request sent before it subscribed is never seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.ask("describe", timeout=0.5).status is ResponseStatus.OK:
                    return
            except BusTimeout:
                continue
        raise AssertionError("the queue engine did not answer")

    def tickets(self) -> list[dict[str, Any]]:
        return every_ticket(lambda **fields: self.ok("list_tickets", **fields))

    def latest_state(self) -> QueueSummaryState:
        return self.states.items[-1]


def _site(broker_config: BrokerConfig, tmp_path: Path) -> SiteConfig:
    return make_site().model_copy(update={"broker": broker_config, "data_dir": tmp_path})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(broker_config: BrokerConfig, tmp_path: Path, clock: FakeClock) -> Iterator[QueueEngine]:
    running = QueueEngine(_site(broker_config, tmp_path), tmp_path / "queue.sqlite3", clock)
    running.start(wait=10)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def hall(engine: QueueEngine) -> Iterator[Hall]:
    client = Hall(engine.site)
    try:
        yield client
    finally:
        client.bus.stop()


def test_every_action_over_the_bus(hall: Hall, clock: FakeClock) -> None:
    described = hall.ok("describe")
    assert described["hall_id"] == "test-hall"
    assert set(described["actions"]) == set(QUEUE_ACTIONS)

    hall.ok("login", window_id="w1", staff_id="s001")
    hall.ok("login", window_id="w2", staff_id="s002")
    first = hall.ok("take_ticket", service_id="household", source="kiosk-1")
    assert first["ticket"]["number"] == "A001" and first["people_ahead"] == 0
    second = hall.ok("take_ticket", service_id="household", priority_class="elderly_disabled")
    assert second["ticket"]["number"] == "A002"

    clock.advance(minutes=2)
    called = hall.ok("call_next", window_id="w1")
    # The elderly citizen's bonus puts A002 ahead of A001 after only two minutes.
    assert called["ticket"]["number"] == "A002"
    event = hall.events.wait_for(lambda e: e.type is QueueEventType.TICKET_CALLED)
    assert event.ticket is not None and event.ticket.number == "A002"
    assert event.window is not None and event.window.number == 1

    hall.ok("recall", window_id="w1")
    hall.events.wait_for(lambda e: e.type is QueueEventType.TICKET_RECALLED)
    hall.ok("start_service", window_id="w1")
    clock.advance(minutes=6)
    finished = hall.ok("finish", window_id="w1")
    assert finished["finished"]["state"] == "done"
    rated = hall.ok("rate", ticket_id=called["ticket"]["ticket_id"], level="very_satisfied")
    assert rated["rating"]["level_zh"] == "非常满意"

    moved = hall.ok("call_next", window_id="w1")
    assert moved["ticket"]["number"] == "A001"
    hall.ok("transfer", window_id="w1", to_service_id="business")
    at_business = hall.ok("call_next", window_id="w2")
    assert at_business["ticket"]["ticket_id"] == first["ticket"]["ticket_id"]
    assert at_business["ticket"]["transfers"] == 1
    hall.ok("skip", window_id="w2")
    back = hall.ok("reactivate", ticket_id=first["ticket"]["ticket_id"])
    assert back["ticket"]["state"] == "waiting"
    cancelled = hall.ok("cancel", ticket_id=first["ticket"]["ticket_id"], reason="离开 / left")
    assert cancelled["ticket"]["state"] == "cancelled"

    hall.ok("pause", window_id="w1", reason="休息 / break")
    assert hall.error("call_next", window_id="w1") == "window_paused"
    hall.ok("resume", window_id="w1")

    slot = clock.now + timedelta(minutes=30)
    loaded = hall.ok("load_appointments", appointments=[
        Appointment(code="YY0001", service_id="tax", slot_start=slot,
                    slot_end=slot + timedelta(minutes=30), citizen_masked_name="王*")])
    assert loaded["loaded"] == 1
    checked = hall.ok("check_in", appointment_code="YY0001")
    assert checked["ticket"]["priority_class"] == "appointment"
    assert checked["ticket"]["number"] == "C001"
    hall.ok("logout", window_id="w2")

    listed = {t["number"]: t["state"] for t in hall.tickets()}
    assert listed == {"A001": "cancelled", "A002": "done", "C001": "waiting"}
    state = hall.states.wait_for(
        lambda s: any(w.window_id == "w2" and w.mode.value == "closed" for w in s.windows)
        and s.waiting == 1)
    assert {s.service_id: s.waiting for s in state.services} == {
        "household": 0, "business": 0, "tax": 1}


def test_bad_requests_are_answered_and_change_nothing(hall: Hall, clock: FakeClock) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    hall.ok("take_ticket", service_id="household")
    before = hall.tickets()

    topic = hall.endpoint.request("take_ticket")
    hall.bus.publish(topic, b"{not json")
    hall.raw_responses.wait_for(lambda r: r.get("code") == "invalid_payload")
    hall.bus.publish(topic, json.dumps({"id": "bad-type-1", "service_id": 42}).encode())
    wrong = hall.raw_responses.wait_for(lambda r: r.get("id") == "bad-type-1")
    assert wrong["code"] == "invalid_payload" and "service_id" in wrong["error"]
    hall.bus.publish(hall.endpoint.request("fly_away"), TakeTicketRequest(service_id="tax"))
    hall.raw_responses.wait_for(lambda r: r.get("code") == "unknown_action")

    expired = TakeTicketRequest(service_id="tax", deadline=utc_now() - timedelta(seconds=1))
    hall.bus.publish(topic, expired)
    late = hall.raw_responses.wait_for(lambda r: r.get("id") == expired.id)
    assert late["code"] == "deadline_expired"

    assert hall.error("take_ticket", service_id="nope") == "unknown_service"
    assert hall.error("call_next", window_id="w404") == "unknown_window"
    assert hall.error("call_next", window_id="w3") == "window_closed"
    assert hall.error("login", window_id="w2", staff_id="s001") == "staff_not_allowed"
    hall.ok("pause", window_id="w1")
    assert hall.error("call_next", window_id="w1") == "window_paused"
    hall.ok("resume", window_id="w1")
    ticket_id = before[0]["ticket_id"]
    assert hall.error("rate", ticket_id=ticket_id, level="satisfied") == "not_served"
    hall.ok("call_next", window_id="w1")
    hall.ok("finish", window_id="w1")
    assert hall.error("rate", ticket_id=ticket_id, level="dissatisfied") == "reason_required"
    hall.ok("rate", ticket_id=ticket_id, level="dissatisfied", reason="等太久 / too slow")
    assert hall.error("rate", ticket_id=ticket_id, level="satisfied") == "already_rated"

    after = hall.tickets()
    assert [t["number"] for t in after] == ["A001"]
    assert after[0]["rating"] == "dissatisfied"


def test_duplicate_request_id_is_executed_once(hall: Hall) -> None:
    request = TakeTicketRequest(service_id="tax", deadline=utc_now() + timedelta(seconds=30))
    topic = hall.endpoint.request("take_ticket")
    for _ in range(3):
        hall.bus.publish(topic, request)
    hall.raw_responses.wait_for(lambda r: r.get("id") == request.id)
    time.sleep(0.5)  # give redundant copies the chance to be (wrongly) executed
    assert [t["number"] for t in hall.tickets()] == ["C001"]
    assert len(hall.raw_responses.matching(lambda r: r.get("id") == request.id)) == 1


def test_events_raised_while_broker_is_down_arrive_after_it_returns(
    engine: QueueEngine, hall: Hall, clock: FakeClock, mosquitto: Mosquitto
) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    hall.ok("pause", window_id="w1")
    hall.ok("take_ticket", service_id="tax")
    mosquitto.stop()
    # Thirty-one minutes pass with nobody serving tax: the engine raises a long-wait alert
    # into its outbox while it cannot reach the broker.
    clock.advance(minutes=31)
    deadline = time.monotonic() + 10
    while not engine.store.pending_events() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.store.pending_events(), "the alert should wait in the outbox"
    mosquitto.restart()
    alert = hall.events.wait_for(lambda e: e.type is QueueEventType.SUPERVISION_ALERT,
                                 timeout=15)
    assert alert.alert is not None and alert.alert.kind.value == "long_wait"
    deadline = time.monotonic() + 10
    while engine.store.pending_events() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not engine.store.pending_events()
    # And the engine serves requests again over the same connection object.
    assert hall.ok("take_ticket", service_id="tax")["ticket"]["number"] == "C002"


def test_broker_restart_while_engine_runs(hall: Hall, mosquitto: Mosquitto) -> None:
    hall.ok("take_ticket", service_id="household")
    mosquitto.restart(forget_state=True)
    # Retained state is republished by the engine after it reconnects, even though the broker
    # forgot everything.
    hall.states.items.clear()
    # A request sent before the engine re-subscribed is lost with the broker's memory; the
    # requester sends it again with the same id, and it is executed once.
    issued = hall.ok_resending("take_ticket", service_id="household")
    assert issued["ticket"]["number"] == "A002"
    state = hall.states.wait_for(lambda s: s.issued_today == 2, timeout=15)
    assert state.waiting == 2


# --- the real daemon, killed and restarted ------------------------------------------------------


def test_daemon_state_survives_sigkill_and_repeats_stored_answers(
    broker_config: BrokerConfig, tmp_path: Path
) -> None:
    site = make_site().model_copy(update={"broker": broker_config, "data_dir": tmp_path})
    site_path = write_site(site, tmp_path / "site.yaml")
    daemon = EngineProcess(site_path, tmp_path / "queue.sqlite3", tmp_path / "queue.log")
    daemon.start()
    hall = Hall(site)
    try:
        hall.wait_ready()
        status = Collector[bytes]()
        hall.bus.subscribe(hall.endpoint.status, status.add)
        status.wait_for(lambda s: s == b"online")
        hall.ok("login", window_id="w3", staff_id="s003")
        issued = [hall.ok("take_ticket", service_id="tax")["ticket"]["number"] for _ in range(5)]
        assert issued == ["C001", "C002", "C003", "C004", "C005"]
        hall.ok("call_next", window_id="w3")
        answered = TakeTicketRequest(service_id="tax", deadline=utc_now() + timedelta(seconds=60))
        first = hall.bus.request(hall.endpoint, "take_ticket", answered, timeout=5)

        assert daemon.signal(signal.SIGKILL) == -signal.SIGKILL
        status.wait_for(lambda s: s == b"offline", timeout=15)  # the broker's last will
        status.items.clear()
        daemon.start()
        hall.wait_ready()
        status.wait_for(lambda s: s == b"online")

        again = hall.bus.request(hall.endpoint, "take_ticket", answered, timeout=5)
        assert again.data == first.data  # the stored answer, not a second ticket
        tickets = hall.tickets()
        assert [t["number"] for t in tickets] == ["C001", "C002", "C003", "C004", "C005", "C006"]
        assert tickets[0]["state"] == "called" and tickets[0]["window_id"] == "w3"
        assert hall.ok("take_ticket", service_id="tax")["ticket"]["number"] == "C007"
        assert daemon.signal(signal.SIGTERM) == 0
        status.wait_for(lambda s: s == b"offline", timeout=10)
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.process.kill()
        hall.bus.stop()


def test_full_id_number_is_refused_and_never_echoed(
    hall: Hall, caplog: pytest.LogCaptureFixture
) -> None:
    full_id = "11010519491231002X"
    caplog.set_level("DEBUG")
    payload = {"id": "pi-check-1", "service_id": "tax", "citizen_masked_id": full_id}
    hall.bus.publish(hall.endpoint.request("take_ticket"), json.dumps(payload).encode())
    answer = hall.raw_responses.wait_for(lambda r: r.get("id") == "pi-check-1")
    assert answer["code"] == "invalid_payload"
    assert "citizen_masked_id" in answer["error"]
    assert full_id not in json.dumps(answer)
    assert full_id not in caplog.text
    assert hall.tickets() == []
    masked = hall.ok("take_ticket", service_id="tax", citizen_masked_id="110105********002X")
    assert masked["ticket"]["citizen_masked_id"] == "110105********002X"
