"""The queue engine's actions for the manager console: alerts with acknowledgement, moving a
service to another window, the day's report, and who asked (actor) kept in the store."""

from __future__ import annotations

import sqlite3

import pytest
from queue_fixtures import DAY
from test_queue_store import Hall, hall

from hall_bus.contract import QueueEventType

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

__all__ = ["hall"]  # the store fixture of test_queue_store


def _long_wait_alert(hall: Hall) -> str:
    hall.take("household")
    hall.clock.advance(minutes=31)
    events = hall.store.check_supervision()
    alert = next(e.alert for e in events if e.type is QueueEventType.SUPERVISION_ALERT)
    assert alert is not None and alert.alert_id is not None
    return alert.alert_id


def test_alert_is_acknowledged_once_by_a_named_manager_and_kept_across_restart(hall: Hall) -> None:
    alert_id = _long_wait_alert(hall)
    listed = hall.ok("list_alerts")["alerts"]
    assert [a["alert"]["alert_id"] for a in listed] == [alert_id]
    assert listed[0]["acknowledged_by"] is None

    hall.fail("acknowledge_alert", "actor_required", alert_id=alert_id)
    outcome = hall.run("acknowledge_alert", alert_id=alert_id, actor="duty1", note="已安排 / done")
    assert outcome.response.data is not None
    assert outcome.response.data["record"]["acknowledged_by"] == "duty1"
    [event] = outcome.events
    assert event.type is QueueEventType.ALERT_ACKNOWLEDGED and event.actor == "duty1"
    hall.fail("acknowledge_alert", "already_acknowledged", alert_id=alert_id, actor="duty2")
    hall.fail("acknowledge_alert", "unknown_alert", alert_id="999", actor="duty2")

    hall.reopen()
    [record] = hall.ok("list_alerts")["alerts"]
    assert record["acknowledged_by"] == "duty1" and record["acknowledged_at"] is not None
    conn = sqlite3.connect(hall.path)
    try:
        actors = conn.execute(
            "SELECT action, actor FROM request_log WHERE action = 'acknowledge_alert'"
            " AND actor IS NOT NULL"
        ).fetchall()
        note = conn.execute("SELECT note FROM alerts").fetchone()[0]
    finally:
        conn.close()
    # Refused attempts are logged with who tried, too.
    assert sorted(actors) == [("acknowledge_alert", "duty1"), ("acknowledge_alert", "duty2"),
                              ("acknowledge_alert", "duty2")]
    assert note == "已安排 / done"


def test_pause_by_a_manager_names_the_manager_in_the_event(hall: Hall) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    outcome = hall.run("pause", window_id="w1", actor="duty1", reason="会议")
    assert [(e.type, e.actor) for e in outcome.events] == [(QueueEventType.WINDOW_PAUSED, "duty1")]


def test_service_moved_to_another_window_is_called_there_and_survives_restart(hall: Hall) -> None:
    hall.ok("login", window_id="w2", staff_id="s002")
    hall.ok("login", window_id="w1", staff_id="s001")
    ticket = hall.take("household")
    # w2 serves business only: nothing to call for it yet.
    assert hall.ok("call_next", window_id="w2")["ticket"] is None
    hall.fail("assign_service", "last_service", service_id="household", from_window_id="w1",
              to_window_id="w2", actor="duty1")
    windows = hall.ok("assign_service", service_id="household", to_window_id="w2", priority=1,
                      actor="duty1")["windows"]
    w2 = next(w for w in windows if w["window_id"] == "w2")
    assert w2["services"] == ["business", "household"]
    hall.reopen()
    called = hall.ok("call_next", window_id="w2")["ticket"]
    assert called["ticket_id"] == ticket["ticket_id"]
    described = {w["window_id"]: w["services"] for w in hall.ok("describe")["windows"]}
    assert described["w2"] == ["business", "household"]
    hall.fail("assign_service", "not_served_there", service_id="tax", from_window_id="w1",
              to_window_id="w2", actor="duty1")
    moved = hall.ok("assign_service", service_id="tax", from_window_id="w9", to_window_id="w3",
                    priority=2)["windows"]
    assert next(w for w in moved if w["window_id"] == "w9")["services"] == [
        "household", "business"]


def test_day_report_figures_per_service_window_and_staff(hall: Hall) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    first = hall.take("household")
    second = hall.take("household")
    hall.clock.advance(minutes=10)
    hall.ok("call_next", window_id="w1")  # first: waited 10 min
    hall.clock.advance(minutes=1)
    hall.ok("start_service", window_id="w1")
    hall.clock.advance(minutes=5)
    hall.ok("call_next", window_id="w1")  # first served 5 min; second waited 16 min
    hall.ok("rate", ticket_id=first["ticket_id"], level="dissatisfied", reason="等候时间长")
    hall.ok("skip", window_id="w1")  # second: no-show
    hall.store.record_staff_absence("w1", hall.clock.now, 400, 300)

    report = hall.ok("day_report", bucket_min=30)
    assert report["business_day"] == DAY
    household = next(r for r in report["services"] if r["key"] == "household")
    assert (household["tickets"], household["served"], household["no_shows"]) == (2, 1, 1)
    assert household["mean_wait_s"] == (600 + 960) // 2
    assert household["mean_service_s"] == 300
    assert household["ratings"]["dissatisfied"] == 1 and household["ratings"]["satisfied"] == 0
    w1 = next(r for r in report["windows"] if r["key"] == "w1")
    assert (w1["tickets"], w1["served"], w1["absences"]) == (2, 1, 1)
    assert report["staff"] == [{**w1, "key": "s001", "name": "张敏"}]
    assert [r["reason"] for r in report["ratings"]] == ["等候时间长"]
    # 09:00 local is 30 min after opening: the tickets arrive in the second bucket.
    assert [p["arrivals"] for p in report["series"][:3]] == [0, 2, 0]
    assert sum(p["arrivals"] for p in report["series"]) == 2
    assert second["number"] == "A002"


def test_day_report_lists_every_bad_rating_and_the_newest_others(hall: Hall) -> None:
    hall.ok("login", window_id="w2", staff_id="s002")
    rated = []
    for level in ("satisfied", "very_dissatisfied", "very_satisfied"):
        ticket = hall.take("business")
        hall.ok("call_next", window_id="w2")
        hall.ok("finish", window_id="w2")
        hall.clock.advance(minutes=1)
        hall.ok("rate", ticket_id=ticket["ticket_id"], level=level,
                reason="态度差" if level == "very_dissatisfied" else None)
        rated.append(ticket["number"])
    listed = hall.ok("day_report", ratings_limit=1)["ratings"]
    assert [(r["number"], r["level"]) for r in listed] == [
        (rated[2], "very_satisfied"), (rated[1], "very_dissatisfied")]
    assert [r["level"] for r in hall.ok("day_report", ratings_limit=0)["ratings"]] == [
        "very_dissatisfied"]
    business = next(r for r in hall.ok("day_report", ratings_limit=0)["services"]
                    if r["key"] == "business")
    assert business["ratings"] == {"very_satisfied": 1, "satisfied": 1, "basically_satisfied": 0,
                                   "dissatisfied": 0, "very_dissatisfied": 1}
