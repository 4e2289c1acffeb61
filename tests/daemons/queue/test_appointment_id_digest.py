"""Appointment check-in by the keyed digest of the citizen's ID number, in the queue engine."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from queue_fixtures import DAY, START
from test_queue_engine import Hall as BusHall
from test_queue_store import Hall

from daemons.queue.rows import to_db
from daemons.queue.service import QueueEngine
from daemons.queue.store import MIGRATIONS, SCHEMA_VERSION, QueueStore
from drivers.scanner import id_card
from firmware_config.site import BrokerConfig
from hall_bus.contract import Appointment, CheckInRequest, QueueEventType

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

KEY = b"hall-citizen-id-key-0123456789"
ID_NUMBER = "11010519491231002X"
OTHER_ID = "440524188001010014"
DIGEST = id_card.keyed_digest(ID_NUMBER, KEY)


def booking(code: str, slot: datetime, digest: str | None = DIGEST,
            service: str = "business", masked: str | None = None) -> Appointment:
    return Appointment(code=code, service_id=service, slot_start=slot,
                       slot_end=slot + timedelta(minutes=30), citizen_id_digest=digest,
                       citizen_masked_id=masked)


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[Hall]:
    h = Hall(tmp_path / "queue.sqlite3")
    yield h
    h.store.close()


def test_the_digest_is_hmac_sha256_of_the_normalised_number() -> None:
    # What the booking backend computes, written out without our code.
    expected = hmac.new(KEY, b"11010519491231002X", hashlib.sha256).hexdigest()
    assert expected == DIGEST
    assert id_card.keyed_digest(" 11010519491231002x\n", KEY) == expected
    assert id_card.keyed_digest(ID_NUMBER, b"another-hall-key-0123") != expected
    assert hashlib.sha256(ID_NUMBER.encode()).hexdigest() != expected
    with pytest.raises(id_card.InvalidIdNumber):
        id_card.keyed_digest(ID_NUMBER[:17] + "1", KEY)


def test_check_in_by_digest_takes_the_earliest_unused_slot_of_today(hall: Hall) -> None:
    morning, afternoon = START + timedelta(hours=1), START + timedelta(hours=5)
    hall.ok("load_appointments", appointments=[
        booking("LATE", afternoon, service="tax"),
        booking("EARLY", morning, masked="1101**********002X"),
        booking("TOMORROW", morning + timedelta(days=1)),
        booking("SOMEONE", morning, digest=id_card.keyed_digest(OTHER_ID, KEY)),
    ])
    first = hall.run("check_in", citizen_id_digest=DIGEST, citizen_masked_id="1101****002X",
                     source="kiosk1")
    data = first.response.data or {}
    assert data["ticket"]["appointment_code"] == "EARLY"
    assert data["ticket"]["number"] == "B001"
    assert data["ticket"]["priority_class"] == "appointment"
    # The appointment's own masked ID wins over the one the kiosk read.
    assert data["ticket"]["citizen_masked_id"] == "1101**********002X"
    assert [(e.type, e.detail) for e in first.events] == [
        (QueueEventType.APPOINTMENT_CHECKED_IN, "EARLY"), (QueueEventType.TICKET_ISSUED, None)]
    second = hall.ok("check_in", citizen_id_digest=DIGEST, citizen_masked_id="1101****002X")
    assert second["ticket"]["appointment_code"] == "LATE"
    assert second["ticket"]["number"] == "C001"
    assert second["ticket"]["citizen_masked_id"] == "1101****002X"
    hall.fail("check_in", "appointment_used", citizen_id_digest=DIGEST)
    # The code still works for the others, and a used slot is used whichever way it is asked.
    hall.fail("check_in", "appointment_used", appointment_code="EARLY")
    assert hall.ok("check_in", appointment_code="SOMEONE")["ticket"]["number"] == "B002"


def test_digest_errors_are_clear_and_never_echo_the_digest(hall: Hall) -> None:
    hall.ok("load_appointments", appointments=[
        booking("TOMORROW", START + timedelta(days=1, hours=1))])
    unknown = hall.fail("check_in", "unknown_appointment",
                        citizen_id_digest=id_card.keyed_digest(OTHER_ID, KEY))
    assert "没有预约" in (unknown.response.error or "")
    not_today = hall.fail("check_in", "appointment_not_today", citizen_id_digest=DIGEST)
    for outcome in (unknown, not_today):
        assert DIGEST[:16] not in (outcome.response.error or "")
    assert hall.tickets() == []


def test_reloading_keeps_the_check_in_and_updates_the_digest(hall: Hall) -> None:
    slot = START + timedelta(hours=1)
    hall.ok("load_appointments", appointments=[booking("AP1", slot, digest=None)])
    hall.fail("check_in", "unknown_appointment", citizen_id_digest=DIGEST)
    # The backend sends the day's list again, now with the digest: the card finds it.
    assert hall.ok("load_appointments", appointments=[booking("AP1", slot)])["replaced"] == 1
    assert hall.ok("check_in", citizen_id_digest=DIGEST)["ticket"]["appointment_code"] == "AP1"
    hall.ok("load_appointments", appointments=[booking("AP1", slot)])
    hall.fail("check_in", "appointment_used", citizen_id_digest=DIGEST)
    hall.reopen()
    hall.fail("check_in", "appointment_used", citizen_id_digest=DIGEST)


def test_check_in_needs_exactly_one_way_to_find_the_appointment() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        CheckInRequest()
    with pytest.raises(ValueError, match="exactly one"):
        CheckInRequest(appointment_code="AP1", citizen_id_digest=DIGEST)
    with pytest.raises(ValueError, match="citizen_id_digest"):
        CheckInRequest(citizen_id_digest=DIGEST.upper())
    with pytest.raises(ValueError, match="full ID-card number"):
        CheckInRequest(citizen_id_digest=DIGEST, citizen_masked_id=ID_NUMBER)


def test_engine_answers_invalid_payload_for_both_or_neither(
    broker_config: BrokerConfig, tmp_path: Path
) -> None:
    from queue_fixtures import FakeClock, make_site

    site = make_site().model_copy(update={"broker": broker_config, "data_dir": tmp_path})
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    hall = BusHall(site)
    try:
        hall.ok("load_appointments", appointments=[
            booking("AP1", START + timedelta(hours=1)).model_dump(mode="json")])
        topic = hall.endpoint.request("check_in")
        for request_id, body in (("both-1", {"appointment_code": "AP1",
                                             "citizen_id_digest": DIGEST}),
                                 ("neither-1", {"source": "kiosk1"})):
            hall.bus.publish(topic, json.dumps({"id": request_id, **body}).encode())
            answer = hall.raw_responses.wait_for(lambda r, i=request_id: r.get("id") == i)
            assert answer["code"] == "invalid_payload"
            assert "exactly one of appointment_code and citizen_id_digest" in answer["error"]
        assert hall.tickets() == []
        assert hall.ok("check_in", citizen_id_digest=DIGEST)["ticket"]["number"] == "B001"
    finally:
        hall.bus.stop()
        engine.stop()


def test_a_database_of_the_previous_schema_opens_and_migrates(tmp_path: Path) -> None:
    """A hall upgraded in place: its queue file was written by schema 1, before the digest."""
    path = tmp_path / "queue.sqlite3"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    slot = to_db(START + timedelta(hours=1))
    conn.execute(
        "INSERT INTO appointments (code, service_id, slot_start, slot_end, citizen_masked_id,"
        " loaded_at) VALUES ('OLD1', 'business', ?, ?, '1101**********002X', ?)",
        (slot, slot, to_db(START)),
    )
    conn.commit()
    conn.close()

    hall = Hall(path)
    try:
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = [row[1] for row in conn.execute("PRAGMA table_info(appointments)")]
        assert "citizen_id_digest" in columns
        assert conn.execute("SELECT code, citizen_id_digest FROM appointments").fetchall() == [
            ("OLD1", None)]
        conn.close()
        # The appointment booked before the upgrade still checks in by its code...
        old = hall.ok("check_in", appointment_code="OLD1")["ticket"]
        assert (old["number"], old["business_day"]) == ("B001", DAY)
        # ...and the migrated file takes digests from now on, also after a reopen.
        hall.ok("load_appointments", appointments=[booking("NEW1", START + timedelta(hours=2))])
        hall.reopen()
        assert hall.ok("check_in", citizen_id_digest=DIGEST)["ticket"]["appointment_code"] == \
            "NEW1"
    finally:
        hall.store.close()
    store = QueueStore(path, hall.site, hall.clock)  # opening a current file changes nothing
    store.close()
