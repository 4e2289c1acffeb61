"""A request is answered from the engine's durable log: across a restart, past its deadline, and
never for another action than the one it executed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from queue_fixtures import FakeClock
from test_queue_engine import Hall
from test_queue_engine import clock as clock  # fixtures, used by name
from test_queue_engine import engine as engine
from test_queue_engine import hall as hall

from daemons.queue.service import QueueEngine
from hall_bus.contract import QUEUE_ACTIONS, ResponseStatus, TakeTicketRequest
from hall_bus.ids import utc_now

pytestmark = pytest.mark.integration  # starts real components (conftest.py)


def restarted(engine: QueueEngine, database: Path, clock: FakeClock) -> QueueEngine:
    """The engine stopped and a new one started on the same database (the test stops it)."""
    engine.stop()
    again = QueueEngine(engine.site, database, clock)
    again.start(wait=10)
    return again


def test_an_executed_request_gets_its_real_answer_after_a_restart(
    engine: QueueEngine, hall: Hall, clock: FakeClock, tmp_path: Path
) -> None:
    request = TakeTicketRequest(service_id="household",
                                deadline=utc_now() + timedelta(seconds=10))
    first = hall.bus.request(hall.endpoint, "take_ticket", request, timeout=10)
    assert first.status is ResponseStatus.OK
    engine = restarted(engine, tmp_path / "queue.sqlite3", clock)
    try:
        hall.wait_ready()
        # The kiosk never heard that answer and asks again, now past the deadline it set then:
        # the ticket exists, so it is told so, not "expired" while a window calls the number.
        again = request.model_copy(update={"attempt": 2,
                                           "deadline": utc_now() - timedelta(seconds=1)})
        answer = hall.bus.request(hall.endpoint, "take_ticket", again, timeout=10)
        assert answer.status is ResponseStatus.OK, answer.code
        assert answer.data == first.data
        assert [t["number"] for t in hall.tickets()] == [first.data["ticket"]["number"]]
    finally:
        engine.stop()


def test_a_request_id_reused_for_another_action_is_refused_not_answered_ok(hall: Hall) -> None:
    taken = TakeTicketRequest(service_id="household")
    assert hall.bus.request(hall.endpoint, "take_ticket", taken).status is ResponseStatus.OK
    login = QUEUE_ACTIONS["login"].request.model_validate(
        {"id": taken.id, "window_id": "w1", "staff_id": "s001"})
    # Sent raw: the requesting client itself drops a second answer under an id it saw.
    hall.bus.publish(hall.endpoint.request("login"), login)
    refused = hall.raw_responses.wait_for(
        lambda answer: answer["id"] == taken.id and answer["status"] == "error")
    assert refused["code"] == "invalid_payload" and "take_ticket" in refused["error"]
    # Nothing was done: nobody is logged in at the window (the login event never came).
    hall.ok("take_ticket", service_id="household")
    state = hall.states.wait_for(lambda state: state.issued_today == 2)
    assert next(w for w in state.windows if w.window_id == "w1").staff_id is None
    assert not hall.events.matching(lambda event: event.type.value == "staff_login")
