"""Backend documents applied by the queue store: roster, catalogue and follow-ups, on disk."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from queue_fixtures import DAY
from test_queue_store import Hall

from daemons.queue.store import MIGRATIONS, SCHEMA_VERSION
from hall_bus.contract import RatingLevel

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

ROSTER = [
    {"staff_id": "s001", "name": "张敏", "windows": ["w1", "w9"]},
    {"staff_id": "s002", "name": "李强", "windows": ["w2"]},
    {"staff_id": "s010", "name": "陈静", "windows": ["w3"]},
]
CATALOGUE = [
    {"service_id": "household", "prefix": "A", "name_zh": "户籍业务", "name_en": "Residence",
     "expected_service_min": 3, "daily_limit": 2},
    {"service_id": "business", "prefix": "B", "name_zh": "企业开办", "name_en": "Business"},
    {"service_id": "tax", "prefix": "C", "name_zh": "税务", "name_en": "Tax"},
]


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[Hall]:
    h = Hall(tmp_path / "queue.sqlite3")
    yield h
    h.store.close()


def test_a_roster_lets_new_staff_log_in_and_survives_a_restart(hall: Hall) -> None:
    hall.fail("login", "unknown_staff", window_id="w3", staff_id="s010")
    applied = hall.ok("apply_roster", version=4, staff=ROSTER)
    assert applied == {"kind": "roster", "version": 4, "changed": True, "ignored": []}
    hall.ok("login", window_id="w3", staff_id="s010")
    assert hall.window("w3")["staff_name"] == "陈静"
    # s003 was in the site config but is not on the roster: no longer allowed.
    hall.fail("login", "unknown_staff", window_id="w9", staff_id="s003")
    hall.reopen()
    assert hall.window("w3")["staff_name"] == "陈静"
    hall.fail("login", "unknown_staff", window_id="w9", staff_id="s003")
    # The same version again changes nothing; an older one is refused.
    assert hall.ok("apply_roster", version=4, staff=ROSTER)["changed"] is False
    hall.fail("apply_roster", "stale_version", version=3, staff=ROSTER)


def test_a_roster_dropping_someone_logged_in_is_refused_and_the_old_kept(hall: Hall) -> None:
    hall.ok("apply_roster", version=1, staff=ROSTER)
    hall.ok("login", window_id="w2", staff_id="s002")
    without = [p for p in ROSTER if p["staff_id"] != "s002"]
    hall.fail("apply_roster", "staff_logged_in", version=2, staff=without)
    moved = [p | {"windows": ["w1"]} if p["staff_id"] == "s002" else p for p in ROSTER]
    hall.fail("apply_roster", "staff_logged_in", version=2, staff=moved)
    unknown = [*ROSTER, {"staff_id": "s011", "name": "周洋", "windows": ["w42"]}]
    hall.fail("apply_roster", "unknown_window", version=2, staff=unknown)
    hall.reopen()
    # Version 1 is still in force: s010 may log in, and version 2 is still free to be taken.
    hall.ok("login", window_id="w3", staff_id="s010")
    hall.ok("logout", window_id="w2")
    assert hall.ok("apply_roster", version=2, staff=without)["changed"] is True
    hall.fail("login", "unknown_staff", window_id="w2", staff_id="s002")


def test_a_catalogue_renames_and_limits_services(hall: Hall) -> None:
    applied = hall.ok("apply_catalogue", version=9, services=[
        *CATALOGUE, {"service_id": "fishing", "prefix": "F", "name_zh": "钓鱼证",
                     "name_en": "Fishing"}])
    assert applied["ignored"] == ["fishing"]
    described = hall.ok("describe")
    assert [s["name_zh"] for s in described["services"]] == ["户籍业务", "企业开办", "税务"]
    assert "fishing" not in {s["service_id"] for s in described["services"]}
    first = hall.take("household")
    assert first["service_name"] == "户籍业务"
    # Three minutes expected per citizen, one open window for the service: 180 s per person.
    hall.ok("login", window_id="w1", staff_id="s001")
    issued = hall.ok("take_ticket", service_id="household")
    assert issued["people_ahead"] == 1 and issued["estimated_wait_s"] == 180
    hall.fail("take_ticket", "daily_limit_reached", service_id="household")
    hall.reopen()
    summary = hall.store.summary()
    assert summary.services[0].name == "户籍业务"
    hall.fail("take_ticket", "daily_limit_reached", service_id="household")
    # Without a limit of its own the site config's limit holds again.
    hall.ok("apply_catalogue", version=10, services=[
        {k: v for k, v in CATALOGUE[0].items() if k != "daily_limit"}, *CATALOGUE[1:]])
    assert hall.take("household")["number"] == "A003"


def test_a_catalogue_may_not_drop_a_service_or_change_a_prefix(hall: Hall) -> None:
    hall.ok("apply_catalogue", version=1, services=CATALOGUE)
    hall.fail("apply_catalogue", "service_missing", version=2, services=CATALOGUE[:2])
    renumbered = [CATALOGUE[0] | {"prefix": "H"}, *CATALOGUE[1:]]
    hall.fail("apply_catalogue", "prefix_changed", version=2, services=renumbered)
    hall.reopen()
    assert hall.ok("describe")["services"][0]["name_zh"] == "户籍业务"
    assert _documents(hall) == [("catalogue", 1)]


def _documents(hall: Hall) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(hall.path)
    try:
        return conn.execute("SELECT kind, version FROM documents ORDER BY kind").fetchall()
    finally:
        conn.close()


def test_follow_ups_mark_bad_ratings_resolved(hall: Hall) -> None:
    hall.ok("login", window_id="w1", staff_id="s001")
    bad = hall.take("household")
    good = hall.take("household")
    for ticket, level in ((bad, RatingLevel.DISSATISFIED), (good, RatingLevel.SATISFIED)):
        hall.ok("call_next", window_id="w1")
        hall.ok("finish", window_id="w1")
        hall.ok("rate", ticket_id=ticket["ticket_id"], level=level,
                reason="等太久" if level.is_bad else None)
    answer = hall.ok("apply_follow_ups", updates=[
        {"ticket_id": bad["ticket_id"], "status": "in_progress"},
        {"ticket_id": good["ticket_id"], "status": "resolved"},
        {"ticket_id": f"{DAY}-Z999", "status": "resolved"}])
    assert answer == {"updated": 0, "unchanged": 1, "unknown": 2}
    answer = hall.ok("apply_follow_ups", updates=[
        {"ticket_id": bad["ticket_id"], "status": "resolved", "note": "已回访"}])
    assert answer == {"updated": 1, "unchanged": 0, "unknown": 0}
    hall.reopen()
    follow_ups = dict(sqlite3.connect(hall.path).execute(
        "SELECT ticket_id, follow_up FROM ratings").fetchall())
    assert follow_ups == {bad["ticket_id"]: "resolved", good["ticket_id"]: "none"}


def test_a_database_of_the_previous_schema_opens_and_takes_documents(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    conn = sqlite3.connect(path)
    for statements in MIGRATIONS[:-1]:
        for statement in statements:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION - 1}")
    conn.execute("INSERT INTO meta (key, value) VALUES ('business_day', ?)", (DAY,))
    conn.execute(
        "INSERT INTO windows (window_id, staff_id, mode_since)"
        " VALUES ('w2', 's002', '2024-03-04T00:50:00.000000+00:00')")
    conn.commit()
    conn.close()
    hall = Hall(path)
    try:
        assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert hall.window("w2")["staff_id"] == "s002"
        # The login kept from before the upgrade still protects its person.
        without = [p for p in ROSTER if p["staff_id"] != "s002"]
        hall.fail("apply_roster", "staff_logged_in", version=1, staff=without)
        hall.ok("apply_roster", version=1, staff=ROSTER)
    finally:
        hall.store.close()
