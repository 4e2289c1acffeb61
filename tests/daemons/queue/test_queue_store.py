"""The durable queue store: actions, errors, numbering, the business day, durability, outbox,
supervision and a SIGKILL crash loop."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import repo_paths
from queue_fixtures import DAY, START, FakeClock, every_ticket, make_site

from daemons.queue.actions import HANDLERS
from daemons.queue.store import SCHEMA_VERSION, Outcome, QueueStore
from firmware_config.site import SiteConfig
from hall_bus.contract import (
    QUEUE_ACTIONS,
    Appointment,
    PriorityClass,
    QueueEventType,
    RatingLevel,
    Request,
    ResponseStatus,
    SupervisionKind,
    TakeTicketRequest,
)

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

REPO = repo_paths.REPO


class Hall:
    """A store with a fake clock and terse helpers for tests."""

    def __init__(self, path: Path, site: SiteConfig | None = None) -> None:
        self.path = path
        self.site = site or make_site()
        self.clock = FakeClock()
        self.store = QueueStore(path, self.site, self.clock)

    def reopen(self) -> None:
        self.store.close()
        self.store = QueueStore(self.path, self.site, self.clock)

    def run(self, action: str, request_id: str | None = None, **fields: Any) -> Outcome:
        request_type = QUEUE_ACTIONS[action].request
        request: Request = request_type(**fields) if request_id is None else request_type(
            id=request_id, **fields)
        return self.store.execute(action, request)

    def ok(self, action: str, **fields: Any) -> dict[str, Any]:
        outcome = self.run(action, **fields)
        assert outcome.response.status is ResponseStatus.OK, outcome.response.error
        assert outcome.response.data is not None
        return outcome.response.data

    def fail(self, action: str, code: str, **fields: Any) -> Outcome:
        outcome = self.run(action, **fields)
        assert outcome.response.status is ResponseStatus.ERROR
        assert outcome.response.code == code, outcome.response.error
        assert outcome.response.error and " / " in outcome.response.error
        # A refused request may still be the first of a new business day.
        assert {e.type for e in outcome.events} <= {QueueEventType.BUSINESS_DAY_STARTED}
        return outcome

    def take(self, service_id: str = "household", **fields: Any) -> dict[str, Any]:
        ticket: dict[str, Any] = self.ok("take_ticket", service_id=service_id, **fields)["ticket"]
        return ticket

    def tickets(self, **fields: Any) -> list[dict[str, Any]]:
        return every_ticket(lambda **page: self.ok("list_tickets", **fields, **page))

    def ticket(self, ticket_id: str, day: str = DAY) -> dict[str, Any]:
        return next(t for t in self.tickets(business_day=day) if t["ticket_id"] == ticket_id)

    def window(self, window_id: str) -> dict[str, Any]:
        summary = self.store.summary()
        return next(w.model_dump(mode="json") for w in summary.windows
                    if w.window_id == window_id)

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every state table, read through a second connection (what is on disk)."""
        conn = sqlite3.connect(self.path)
        try:
            return {
                table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("tickets", "windows", "counters", "appointments", "ratings",
                              "alerts", "outbox", "meta")
            }
        finally:
            conn.close()


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[Hall]:
    h = Hall(tmp_path / "queue.sqlite3")
    yield h
    h.store.close()


def test_every_contract_action_has_a_handler() -> None:
    assert set(HANDLERS) == set(QUEUE_ACTIONS)


def test_schema_settings(hall: Hall) -> None:
    conn = sqlite3.connect(hall.path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    hall.reopen()  # creating the schema twice is harmless
    conn = sqlite3.connect(hall.path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        QueueStore(hall.path, hall.site, hall.clock)


# --- tickets and numbering -----------------------------------------------------------------------


def test_numbers_run_per_service_and_ticket_ids_carry_the_day(hall: Hall) -> None:
    numbers = [hall.take(s)["number"] for s in
               ("household", "household", "business", "household", "tax", "business")]
    assert numbers == ["A001", "A002", "B001", "A003", "C001", "B002"]
    first = hall.tickets()[0]
    assert first["ticket_id"] == f"{DAY}-A001"
    assert first["state"] == "waiting" and first["queued_at"] == first["issued_at"]


def test_take_ticket_stores_class_source_and_masked_id(hall: Hall) -> None:
    data = hall.ok("take_ticket", service_id="tax", priority_class=PriorityClass.ELDERLY_DISABLED,
                   source="kiosk-1", citizen_masked_id="3101**********123X")
    ticket = data["ticket"]
    assert ticket["priority_class"] == "elderly_disabled"
    assert ticket["citizen_masked_id"] == "3101**********123X"
    assert data["people_ahead"] == 0 and data["estimated_wait_s"] == 0
    source = sqlite3.connect(hall.path).execute("SELECT source FROM tickets").fetchone()[0]
    assert source == "kiosk-1"


def test_people_ahead_and_estimate(hall: Hall) -> None:
    for _ in range(3):
        hall.take("household")
    data = hall.ok("take_ticket", service_id="household")
    # Nobody logged in: the configured 6 min with one window.
    assert data["people_ahead"] == 3 and data["estimated_wait_s"] == 3 * 360
    green = hall.ok("take_ticket", service_id="household",
                    priority_class=PriorityClass.GREEN_CHANNEL)
    assert green["people_ahead"] == 0
    hall.ok("login", window_id="w1", staff_id="s001")
    hall.ok("login", window_id="w9", staff_id="s003")
    # household capacity: w1 gives 1, the comprehensive w9 gives 6/11
    data = hall.ok("take_ticket", service_id="household")
    assert data["people_ahead"] == 5
    assert data["estimated_wait_s"] == round(5 * 360 / (1 + 6 / 11))
    summary = hall.store.summary()
    household = next(s for s in summary.services if s.service_id == "household")
    assert household.waiting == 6
    assert household.estimated_wait_s == round(6 * 360 / (1 + 6 / 11))


def test_estimate_uses_todays_service_times_after_three(hall: Hall) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    for _ in range(5):
        hall.take("household")
    for minutes in (2, 4, 6):
        hall.ok("call_next", window_id="w1")
        hall.ok("start_service", window_id="w1")
        hall.clock.advance(minutes=minutes)
        hall.ok("finish", window_id="w1")
    summary = hall.store.summary()
    household = next(s for s in summary.services if s.service_id == "household")
    assert household.waiting == 2 and household.estimated_wait_s == 2 * 240
    assert household.last_called == "A003"


def test_four_digit_numbers_above_999(tmp_path: Path) -> None:
    hall = Hall(tmp_path / "q.sqlite3", make_site(daily_limit=1500))
    assert hall.take()["number"] == "A0001"


def test_daily_limit(tmp_path: Path) -> None:
    hall = Hall(tmp_path / "q.sqlite3", make_site(daily_limit=2))
    hall.take()
    hall.take()
    before = hall.rows()
    hall.fail("take_ticket", "daily_limit_reached", service_id="household")
    assert hall.rows() == before
    assert hall.take("business")["number"] == "B001"


# --- window actions ------------------------------------------------------------------------------


def test_login_call_serve_finish_logout(hall: Hall) -> None:
    data = hall.ok("login", window_id="w1", staff_id="s001")
    assert data["window"]["mode"] == "idle" and data["window"]["staff_name"] == "张敏"
    assert hall.ok("login", window_id="w1", staff_id="s001")["window"]["mode"] == "idle"
    nobody = hall.ok("call_next", window_id="w1")
    assert nobody["ticket"] is None and nobody["window"]["mode"] == "idle"
    a1 = hall.take()
    hall.clock.advance(minutes=2)
    outcome = hall.run("call_next", window_id="w1")
    called = outcome.response.data or {}
    assert called["ticket"]["ticket_id"] == a1["ticket_id"]
    assert called["ticket"]["state"] == "called" and called["ticket"]["staff_id"] == "s001"
    assert called["window"]["mode"] == "calling" and called["window"]["current_ticket"] == "A001"
    [event] = outcome.events
    assert event.type is QueueEventType.TICKET_CALLED
    assert event.window is not None and event.window.current_ticket == "A001"
    assert event.cause == outcome.response.id and event.business_day == DAY

    recalled = hall.run("recall", window_id="w1")
    assert recalled.events[0].type is QueueEventType.TICKET_RECALLED
    assert hall.ticket(a1["ticket_id"])["recalls"] == 1

    serving = hall.ok("start_service", window_id="w1")
    assert serving["window"]["mode"] == "serving"
    assert serving["ticket"]["service_started_at"] is not None
    hall.clock.advance(minutes=5)
    finished = hall.run("finish", window_id="w1")
    data = finished.response.data or {}
    assert data["finished"]["state"] == "done" and data["window"]["mode"] == "idle"
    assert [e.type for e in finished.events] == [QueueEventType.TICKET_FINISHED]
    out = hall.run("logout", window_id="w1")
    assert out.events[0].type is QueueEventType.STAFF_LOGOUT and out.events[0].detail == "s001"
    assert hall.window("w1")["mode"] == "closed"


def test_call_next_finishes_the_current_ticket_first(hall: Hall) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    a1, a2 = hall.take(), hall.take()
    hall.ok("call_next", window_id="w1")
    outcome = hall.run("call_next", window_id="w1")
    data = outcome.response.data or {}
    assert data["finished"]["ticket_id"] == a1["ticket_id"]
    assert data["finished"]["state"] == "done"
    assert data["ticket"]["ticket_id"] == a2["ticket_id"]
    assert [e.type for e in outcome.events] == [QueueEventType.TICKET_FINISHED,
                                               QueueEventType.TICKET_CALLED]
    last = hall.ok("call_next", window_id="w1")
    assert last["ticket"] is None and last["finished"]["ticket_id"] == a2["ticket_id"]


def test_comprehensive_window_prefers_its_main_service(hall: Hall) -> None:
    hall.ok("login", window_id="w9", staff_id="s003")
    c1 = hall.take("tax")  # priority 3 at w9: 600 s penalty
    hall.clock.advance(minutes=5)
    a1 = hall.take("household")  # main service, 5 min later
    assert hall.ok("call_next", window_id="w9")["ticket"]["ticket_id"] == a1["ticket_id"]
    hall.clock.advance(minutes=11)
    hall.take("household")
    # c1 has now waited 16 min, over its 10 min penalty plus the newcomer's wait
    assert hall.ok("call_next", window_id="w9")["ticket"]["ticket_id"] == c1["ticket_id"]


def test_skip_and_reactivate_once(hall: Hall) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    a1, a2 = hall.take(), hall.take()
    hall.ok("call_next", window_id="w1")
    skipped = hall.run("skip", window_id="w1")
    assert skipped.events[0].type is QueueEventType.TICKET_SKIPPED
    assert hall.ticket(a1["ticket_id"])["state"] == "no_show"
    assert hall.window("w1")["mode"] == "idle"
    hall.clock.advance(minutes=3)
    back = hall.run("reactivate", ticket_id=a1["ticket_id"])
    ticket = (back.response.data or {})["ticket"]
    assert ticket["state"] == "waiting" and ticket["reactivated"] is True
    assert ticket["queued_at"] == a1["queued_at"]  # keeps its place in time
    assert back.events[0].type is QueueEventType.TICKET_REACTIVATED
    # It is ahead of A002 again because it was queued earlier.
    assert hall.ok("call_next", window_id="w1")["ticket"]["ticket_id"] == a1["ticket_id"]
    hall.ok("skip", window_id="w1")
    hall.fail("reactivate", "already_reactivated", ticket_id=a1["ticket_id"])
    hall.fail("reactivate", "not_no_show", ticket_id=a2["ticket_id"])


def test_transfer_keeps_queued_at(hall: Hall) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    hall.ok("login", window_id="w2", staff_id="s002")
    a1 = hall.take("household")
    hall.clock.advance(minutes=1)
    b1 = hall.take("business")
    hall.ok("call_next", window_id="w1")
    hall.ok("start_service", window_id="w1")
    hall.clock.advance(minutes=4)
    outcome = hall.run("transfer", window_id="w1", to_service_id="business")
    data = outcome.response.data or {}
    moved = data["finished"]
    assert moved["service_id"] == "business" and moved["state"] == "waiting"
    assert moved["queued_at"] == a1["queued_at"] and moved["transfers"] == 1
    assert moved["number"] == "A001" and moved["window_id"] is None
    assert data["window"]["mode"] == "idle"
    [event] = outcome.events
    assert event.type is QueueEventType.TICKET_TRANSFERRED
    assert event.from_service_id == "household"
    # Queued before B001, so the business window calls it first.
    assert hall.ok("call_next", window_id="w2")["ticket"]["ticket_id"] == a1["ticket_id"]
    assert hall.ok("call_next", window_id="w2")["ticket"]["ticket_id"] == b1["ticket_id"]


def test_pause_and_resume(hall: Hall) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    hall.take()
    paused = hall.run("pause", window_id="w1", reason="午休")
    assert paused.events[0].type is QueueEventType.WINDOW_PAUSED
    assert paused.events[0].detail == "午休"
    assert hall.window("w1")["mode"] == "paused"
    hall.fail("call_next", "window_paused", window_id="w1")
    resumed = hall.run("resume", window_id="w1")
    assert resumed.events[0].type is QueueEventType.WINDOW_RESUMED
    assert hall.ok("call_next", window_id="w1")["ticket"]["number"] == "A001"


def test_cancel(hall: Hall) -> None:
    a1 = hall.take()
    outcome = hall.run("cancel", ticket_id=a1["ticket_id"], reason="citizen left")
    assert (outcome.response.data or {})["ticket"]["state"] == "cancelled"
    assert outcome.events[0].type is QueueEventType.TICKET_CANCELLED


def test_list_tickets_filters_and_describe(hall: Hall) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    hall.take("household")
    hall.clock.advance(seconds=1)
    hall.take("business")
    hall.clock.advance(seconds=1)
    hall.take("household")
    hall.ok("call_next", window_id="w1")
    assert [t["number"] for t in hall.tickets()] == ["A001", "B001", "A002"]
    assert [t["number"] for t in hall.tickets(service_id="household")] == ["A001", "A002"]
    assert [t["number"] for t in hall.tickets(states=["waiting"])] == ["B001", "A002"]
    assert [t["number"] for t in hall.tickets(window_id="w1")] == ["A001"]
    assert hall.tickets(business_day="2024-03-03") == []
    assert len(hall.ok("list_tickets", limit=2)["tickets"]) == 2
    described = hall.ok("describe")
    assert described["business_day"] == DAY and described["hall_id"] == "test-hall"
    assert described["actions"] == list(QUEUE_ACTIONS)
    assert [w["services"] for w in described["windows"]][-1] == ["household", "business", "tax"]


# --- appointments and ratings --------------------------------------------------------------------


def appointment(code: str, day_offset: int = 0, service: str = "business") -> Appointment:
    slot = START + timedelta(days=day_offset, hours=1)
    return Appointment(code=code, service_id=service, slot_start=slot,
                       slot_end=slot + timedelta(minutes=30), citizen_masked_id="310***123")


def test_appointments_load_and_check_in(hall: Hall) -> None:
    loaded = hall.ok("load_appointments",
                     appointments=[appointment("AP1"), appointment("AP2", day_offset=1)])
    assert loaded == {"loaded": 2, "replaced": 0}
    again = hall.ok("load_appointments", appointments=[appointment("AP1"), appointment("AP3")])
    assert again == {"loaded": 2, "replaced": 1}
    outcome = hall.run("check_in", appointment_code="AP1", source="kiosk-1")
    data = outcome.response.data or {}
    assert data["ticket"]["priority_class"] == "appointment"
    assert data["ticket"]["appointment_code"] == "AP1" and data["ticket"]["number"] == "B001"
    assert data["ticket"]["citizen_masked_id"] == "310***123"
    assert [e.type for e in outcome.events] == [QueueEventType.APPOINTMENT_CHECKED_IN,
                                               QueueEventType.TICKET_ISSUED]
    # Re-sending the list does not make the appointment usable again.
    hall.ok("load_appointments", appointments=[appointment("AP1")])
    hall.fail("check_in", "appointment_used", appointment_code="AP1")
    hall.fail("check_in", "appointment_not_today", appointment_code="AP2")
    hall.fail("check_in", "unknown_appointment", appointment_code="NOPE")


def served_ticket(hall: Hall) -> dict[str, Any]:
    hall.ok("login", window_id="w1", staff_id="s001")
    ticket = hall.take()
    hall.ok("call_next", window_id="w1")
    hall.ok("start_service", window_id="w1")
    return ticket


def test_rating_rules(hall: Hall) -> None:
    a1 = served_ticket(hall)
    outcome = hall.run("rate", ticket_id=a1["ticket_id"], level=RatingLevel.SATISFIED)
    rating = (outcome.response.data or {})["rating"]
    assert rating["level_zh"] == "满意" and rating["follow_up"] == "none"
    assert rating["window_id"] == "w1" and rating["staff_id"] == "s001"
    assert rating["service_id"] == "household"
    assert outcome.events[0].type is QueueEventType.RATING_GIVEN
    assert hall.ticket(a1["ticket_id"])["rating"] == "satisfied"
    hall.fail("rate", "already_rated", ticket_id=a1["ticket_id"], level=RatingLevel.SATISFIED)

    a2 = hall.take()
    hall.fail("rate", "not_served", ticket_id=a2["ticket_id"], level=RatingLevel.SATISFIED)
    hall.ok("call_next", window_id="w1")  # finishes A001, calls A002
    hall.fail("rate", "not_served", ticket_id=a2["ticket_id"], level=RatingLevel.SATISFIED)
    hall.ok("finish", window_id="w1")
    hall.fail("rate", "reason_required", ticket_id=a2["ticket_id"],
              level=RatingLevel.DISSATISFIED, reason="   ")
    bad = hall.ok("rate", ticket_id=a2["ticket_id"], level=RatingLevel.VERY_DISSATISFIED,
                  reason="等候太久")
    assert bad["rating"]["follow_up"] == "pending" and bad["rating"]["reason"] == "等候太久"
    hall.fail("rate", "unknown_ticket", ticket_id="nope", level=RatingLevel.SATISFIED)


def test_rating_expires(hall: Hall) -> None:
    a1 = served_ticket(hall)
    hall.ok("finish", window_id="w1")
    hall.clock.advance(hours=72, seconds=1)
    hall.fail("rate", "rating_expired", ticket_id=a1["ticket_id"], level=RatingLevel.SATISFIED)
    # Staff stay logged in across days; a ticket finished 71 h ago may still be rated.
    today = hall.take()
    hall.ok("call_next", window_id="w1")
    hall.ok("finish", window_id="w1")
    hall.clock.advance(hours=71)
    hall.ok("rate", ticket_id=today["ticket_id"], level=RatingLevel.SATISFIED)


# --- errors leave the state unchanged ------------------------------------------------------------


Setup = Callable[[Hall], dict[str, Any]]


def _nothing(hall: Hall) -> dict[str, Any]:
    return {}


def _logged_in(hall: Hall) -> dict[str, Any]:
    hall.ok("login", window_id="w1", staff_id="s001")
    return {}


def _calling(hall: Hall) -> dict[str, Any]:
    _logged_in(hall)
    hall.take()
    hall.ok("call_next", window_id="w1")
    return {}


def _serving(hall: Hall) -> dict[str, Any]:
    _calling(hall)
    hall.ok("start_service", window_id="w1")
    return {}


def _paused(hall: Hall) -> dict[str, Any]:
    _logged_in(hall)
    hall.ok("pause", window_id="w1")
    return {}


def _waiting_ticket(hall: Hall) -> dict[str, Any]:
    return {"ticket_id": hall.take()["ticket_id"]}


def _done_ticket(hall: Hall) -> dict[str, Any]:
    _calling(hall)
    hall.ok("finish", window_id="w1")
    return {"ticket_id": f"{DAY}-A001"}


def _yesterdays_no_show(hall: Hall) -> dict[str, Any]:
    _calling(hall)
    hall.ok("skip", window_id="w1")
    hall.clock.advance(days=1)
    return {"ticket_id": f"{DAY}-A001"}


ERROR_CASES: list[tuple[str, Setup, str, dict[str, Any]]] = [
    ("unknown_action", _nothing, "make_coffee", {}),
    ("unknown_service", _nothing, "take_ticket", {"service_id": "nope"}),
    ("unknown_window", _nothing, "call_next", {"window_id": "w42"}),
    ("unknown_staff", _nothing, "login", {"window_id": "w1", "staff_id": "nobody"}),
    ("staff_not_allowed", _nothing, "login", {"window_id": "w2", "staff_id": "s001"}),
    ("staff_elsewhere", _logged_in, "login", {"window_id": "w9", "staff_id": "s001"}),
    ("window_occupied", _logged_in, "login", {"window_id": "w1", "staff_id": "s003"}),
    ("window_busy", _calling, "logout", {"window_id": "w1"}),
    ("window_busy", _calling, "pause", {"window_id": "w1"}),
    ("window_closed", _nothing, "call_next", {"window_id": "w1"}),
    ("window_closed", _nothing, "logout", {"window_id": "w1"}),
    ("window_paused", _paused, "call_next", {"window_id": "w1"}),
    ("window_paused", _paused, "pause", {"window_id": "w1"}),
    ("window_not_paused", _logged_in, "resume", {"window_id": "w1"}),
    ("no_current_ticket", _logged_in, "recall", {"window_id": "w1"}),
    ("no_current_ticket", _logged_in, "skip", {"window_id": "w1"}),
    ("no_current_ticket", _logged_in, "start_service", {"window_id": "w1"}),
    ("no_current_ticket", _logged_in, "finish", {"window_id": "w1"}),
    ("no_current_ticket", _logged_in, "transfer", {"window_id": "w1", "to_service_id": "tax"}),
    ("invalid_state", _serving, "start_service", {"window_id": "w1"}),
    ("invalid_state", _serving, "skip", {"window_id": "w1"}),
    ("invalid_state", _done_ticket, "cancel", {}),
    ("unknown_service", _calling, "transfer", {"window_id": "w1", "to_service_id": "nope"}),
    ("same_service", _calling, "transfer", {"window_id": "w1", "to_service_id": "household"}),
    ("not_no_show", _waiting_ticket, "reactivate", {}),
    ("ticket_not_today", _yesterdays_no_show, "reactivate", {}),
    ("unknown_ticket", _nothing, "reactivate", {"ticket_id": "nope"}),
    ("unknown_ticket", _nothing, "cancel", {"ticket_id": "nope"}),
    ("not_served", _waiting_ticket, "rate", {"level": RatingLevel.SATISFIED}),
    ("reason_required", _done_ticket, "rate", {"level": RatingLevel.VERY_DISSATISFIED}),
    ("unknown_appointment", _nothing, "check_in", {"appointment_code": "X1"}),
]


@pytest.mark.parametrize(("code", "setup", "action", "fields"), ERROR_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in ERROR_CASES])
def test_refused_requests_change_nothing_and_are_answered_alike_on_retry(
    hall: Hall, code: str, setup: Setup, action: str, fields: dict[str, Any]
) -> None:
    fields = {**setup(hall), **fields}
    hall.store.summary()  # settle a pending day roll before taking the "before" picture
    before_rows = hall.rows()
    before_summary = hall.store.summary().model_dump(exclude={"id", "ts"})
    before_list = hall.tickets()
    request_type = QUEUE_ACTIONS[action].request if action in QUEUE_ACTIONS else Request
    request = request_type(**fields)
    first = hall.store.execute(action, request)
    assert first.response.status is ResponseStatus.ERROR
    assert first.response.code == code, first.response.error
    assert first.response.error and " / " in first.response.error
    assert first.events == [] and not first.duplicate
    assert hall.rows() == before_rows
    assert hall.store.summary().model_dump(exclude={"id", "ts"}) == before_summary
    assert hall.tickets() == before_list
    retry = hall.store.execute(action, request)
    assert retry.duplicate and retry.response == first.response and retry.events == []


def test_error_codes_are_documented() -> None:
    errors = pytest.importorskip("hall_bus.errors")
    used = {case[0] for case in ERROR_CASES} | {
        "daily_limit_reached", "already_reactivated", "already_rated", "rating_expired",
        "appointment_used", "appointment_not_today", "invalid_payload",
    }
    assert used <= set(errors.ERROR_CODES)


def test_wrong_request_type_is_invalid_payload(hall: Hall) -> None:
    outcome = hall.store.execute("take_ticket", Request())
    assert outcome.response.code == "invalid_payload"


# --- duplicates, durability, outbox --------------------------------------------------------------


def test_duplicate_request_returns_the_stored_response(hall: Hall) -> None:
    request = TakeTicketRequest(service_id="household")
    first = hall.store.execute("take_ticket", request)
    hall.clock.advance(minutes=1)
    hall.reopen()
    again = hall.store.execute("take_ticket", request)
    assert again.duplicate and not first.duplicate
    assert again.response == first.response and again.events == []
    assert len(hall.tickets()) == 1
    assert hall.take()["number"] == "A002"


def test_state_survives_reopen(hall: Hall) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    hall.ok("login", window_id="w2", staff_id="s002")
    hall.ok("pause", window_id="w2", reason="meeting")
    for service in ("household", "household", "business", "tax"):
        hall.take(service)
    hall.ok("call_next", window_id="w1")
    summary = hall.store.summary().model_dump(exclude={"id", "ts"})
    tickets = hall.tickets()
    hall.reopen()
    assert hall.store.summary().model_dump(exclude={"id", "ts"}) == summary
    assert hall.tickets() == tickets
    assert hall.take()["number"] == "A003"
    assert hall.take("business")["number"] == "B002"


def test_outbox_until_published_and_across_reopen(hall: Hall) -> None:
    issued = [hall.run("take_ticket", service_id="household").events for _ in range(3)]
    pending = hall.store.pending_events()
    # The first request also started the business day.
    assert [e.type for _, e in pending] == [QueueEventType.BUSINESS_DAY_STARTED] + [
        QueueEventType.TICKET_ISSUED] * 3
    assert [e.id for _, e in pending[1:]] == [events[-1].id for events in issued]
    seqs = [seq for seq, _ in pending]
    assert seqs == sorted(seqs)
    assert len(hall.store.pending_events(limit=2)) == 2
    hall.store.mark_published(seqs[:2])
    hall.reopen()
    left = hall.store.pending_events()
    assert [seq for seq, _ in left] == seqs[2:]
    assert left[0][1] == pending[2][1]
    hall.store.mark_published([seq for seq, _ in left])
    hall.store.mark_published([])
    assert hall.store.pending_events() == []
    hall.take()
    assert hall.store.pending_events()[0][0] > seqs[-1]


# --- the business day ----------------------------------------------------------------------------


def test_business_day_rolls_at_opening_time(hall: Hall) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    hall.ok("login", window_id="w2", staff_id="s002")
    hall.take("household")
    hall.take("household")
    hall.take("business")
    hall.ok("call_next", window_id="w1")
    hall.ok("pause", window_id="w2")
    # 08:29 next morning in Shanghai: still the same business day.
    hall.clock.now = datetime.fromisoformat("2024-03-05T00:29:00+00:00")
    assert hall.take()["number"] == "A003"
    hall.store.pending_events()
    hall.store.mark_published([s for s, _ in hall.store.pending_events()])
    hall.clock.now = datetime.fromisoformat("2024-03-05T00:31:00+00:00")
    outcome = hall.run("take_ticket", service_id="household")
    ticket = (outcome.response.data or {})["ticket"]
    assert ticket["number"] == "A001" and ticket["ticket_id"] == "2024-03-05-A001"
    assert [e.type for e in outcome.events] == [QueueEventType.BUSINESS_DAY_STARTED,
                                               QueueEventType.TICKET_ISSUED]
    assert outcome.events[0].business_day == "2024-03-05"
    old = hall.tickets(business_day=DAY)
    assert {t["state"] for t in old} == {"cancelled"}
    details = sqlite3.connect(hall.path).execute(
        "SELECT DISTINCT detail FROM tickets WHERE business_day = ?", (DAY,)).fetchall()
    assert details == [("day_closed",)]
    w1, w2 = hall.window("w1"), hall.window("w2")
    assert w1["staff_id"] == "s001" and w1["mode"] == "idle" and w1["current_ticket"] is None
    assert w2["staff_id"] == "s002" and w2["mode"] == "idle"
    summary = hall.store.summary()
    assert summary.business_day == "2024-03-05" and summary.issued_today == 1
    assert hall.take("business")["number"] == "B001"
    # Only one day-started event, however many requests follow.
    types = [e.type for _, e in hall.store.pending_events()]
    assert types.count(QueueEventType.BUSINESS_DAY_STARTED) == 1


def test_business_day_never_goes_back(hall: Hall) -> None:
    hall.take()
    hall.clock.advance(days=1)
    assert hall.take()["ticket_id"] == "2024-03-05-A001"
    hall.clock.advance(days=-1)  # the clock is stepped back
    assert hall.take()["ticket_id"] == "2024-03-05-A002"


# --- supervision ---------------------------------------------------------------------------------


def alerts(events: list[Any]) -> list[tuple[SupervisionKind, str]]:
    return [(e.alert.kind, e.alert.subject) for e in events
            if e.type is QueueEventType.SUPERVISION_ALERT]


def test_supervision_alerts_fire_once_even_across_restart(hall: Hall) -> None:
    hall.store.check_supervision()
    hall.ok("login", window_id="w1", staff_id="s001")
    hall.ok("login", window_id="w2", staff_id="s002")
    a1 = hall.take("household")
    b1 = hall.take("business")
    hall.take("business")
    hall.ok("call_next", window_id="w2")
    hall.clock.advance(minutes=4)
    assert hall.store.check_supervision() == []
    hall.clock.advance(minutes=2)  # w1 idle 6 min while A001 waits
    events = hall.store.check_supervision()
    assert alerts(events) == [(SupervisionKind.WINDOW_IDLE, "w1")]
    event = events[0]
    assert event.alert is not None and event.alert.value_s == 360
    assert event.alert.staff_id == "s001" and " / " in event.alert.message
    assert event.window is not None and event.window.window_id == "w1"
    hall.clock.advance(minutes=15)  # B001 at w2 for 21 min
    events = hall.store.check_supervision()
    assert alerts(events) == [(SupervisionKind.LONG_SERVICE, b1["ticket_id"])]
    assert events[0].ticket is not None and events[0].ticket.ticket_id == b1["ticket_id"]
    hall.clock.advance(minutes=10)  # A001 and B002 waited 31 min
    found = alerts(hall.store.check_supervision())
    assert sorted(found) == [(SupervisionKind.LONG_WAIT, a1["ticket_id"]),
                             (SupervisionKind.LONG_WAIT, f"{DAY}-B002")]
    assert hall.store.check_supervision() == []
    hall.reopen()
    hall.clock.advance(minutes=1)
    assert hall.store.check_supervision() == []
    pending = [e for _, e in hall.store.pending_events()
               if e.type is QueueEventType.SUPERVISION_ALERT]
    assert len(pending) == 4
    # A new idle period of w1 is a new occurrence, so it is raised again.
    hall.ok("call_next", window_id="w1")
    hall.ok("finish", window_id="w1")
    hall.take("household")
    hall.clock.advance(minutes=6)
    assert alerts(hall.store.check_supervision()) == [(SupervisionKind.WINDOW_IDLE, "w1")]


def test_paused_window_is_not_idle(hall: Hall) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    hall.ok("pause", window_id="w1")
    hall.take()
    hall.clock.advance(minutes=10)
    assert alerts(hall.store.check_supervision()) == []
    hall.ok("resume", window_id="w1")
    hall.clock.advance(minutes=6)
    assert alerts(hall.store.check_supervision()) == [(SupervisionKind.WINDOW_IDLE, "w1")]


# --- starvation through the store ----------------------------------------------------------------


def test_normal_ticket_is_called_despite_green_channel_stream(hall: Hall) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    hall.take(priority_class=PriorityClass.GREEN_CHANNEL)
    hall.ok("call_next", window_id="w1")  # the window is busy
    normal = hall.take()
    calls = 0
    while True:
        hall.clock.advance(seconds=30)
        hall.take(priority_class=PriorityClass.GREEN_CHANNEL)
        hall.clock.advance(seconds=30)
        called = hall.ok("call_next", window_id="w1")["ticket"]
        calls += 1
        if called["ticket_id"] == normal["ticket_id"]:
            break
        assert called["priority_class"] == "green_channel"
        assert calls < 30, "the normal ticket starved"
    # green bonus 600 s, one green per 60 s: about ten greens go first
    assert 9 <= calls <= 12
    assert hall.store.summary().waiting >= 1  # greens were still arriving


# --- SIGKILL crash loop --------------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import sys
    from datetime import datetime
    from pathlib import Path

    from firmware_config.site import SiteConfig
    from hall_bus.contract import TakeTicketRequest
    from daemons.queue.store import QueueStore

    db, site_file, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
    store = QueueStore(Path(db), SiteConfig.model_validate_json(Path(site_file).read_text()),
                       lambda: now)
    print("ready", flush=True)
    services = ["household", "business", "tax"]
    i = int(sys.argv[4])
    while True:
        outcome = store.execute("take_ticket", TakeTicketRequest(service_id=services[i % 3]))
        print(outcome.response.data["ticket"]["ticket_id"], flush=True)
        i += 1
""")


@pytest.mark.slow
def test_sigkill_never_loses_or_repeats_a_ticket(tmp_path: Path) -> None:
    site = make_site(daily_limit=9999)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    site_file = tmp_path / "site.json"
    site_file.write_text(site.model_dump_json())
    db = tmp_path / "queue.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(20240304)
    acknowledged: list[str] = []
    for round_ in range(20):
        child = subprocess.Popen(
            [sys.executable, str(script), str(db), str(site_file), START.isoformat(), str(round_)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        assert child.stdout is not None
        if round_ % 4 == 0:
            # Sometimes while it starts up and opens (or creates) the database.
            time.sleep(rng.uniform(0.0, 0.3))
        else:
            assert child.stdout.readline() == "ready\n", child.stderr and child.stderr.read()
            time.sleep(rng.uniform(0.0, 0.12))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=10)
        assert child.returncode == -signal.SIGKILL
        # Only complete lines were acknowledged; a line cut by the kill was not.
        acknowledged += [line.strip() for line in out.splitlines(keepends=True)
                         if line.endswith("\n") and line != "ready\n"]
    assert len(acknowledged) > 20, "the child never got to issue tickets"

    hall = Hall(db, site)
    stored = [t["ticket_id"] for t in hall.tickets()]
    assert len(stored) == len(set(stored))
    assert set(acknowledged) <= set(stored)
    for service in site.services:
        numbers = sorted(int(t[len(DAY) + 2:]) for t in stored
                         if t[len(DAY) + 1:].startswith(service.prefix))
        assert numbers == list(range(1, len(numbers) + 1)), service.id
        next_number = hall.take(service.id)["number"]
        assert int(next_number[1:]) == len(numbers) + 1
