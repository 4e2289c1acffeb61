"""The bridge daemon between a real Mosquitto and the reference backend over TLS: a backend outage
of a whole simulated day, ratings, and downlink documents (accepted, rejected, applied)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from bridge_fixtures import (
    HALL_KEY,
    bridge_site,
    broker_config_for,
    rating_event,
    ticket_event,
    wait_until,
)
from bridge_fixtures import backend as backend  # a fixture, used by name
from bridge_fixtures import broker as broker  # a fixture, used by name
from bus_helpers import Collector
from mosquitto import Mosquitto
from queue_fixtures import FakeClock

from bench.reference_backend import ReferenceBackend
from daemons.bridge.daemon import BridgeDaemon
from daemons.queue.service import QueueEngine
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus import topics
from hall_bus.client import BusClient
from hall_bus.contract.bridge import BridgeEvent, BridgeState, DownlinkState
from hall_bus.contract.queue import Appointment, RatingLevel

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

HALL = "test-hall"
EVENTS_IN_A_DAY = 3000


@pytest.fixture
def broker_config(broker: Mosquitto) -> BrokerConfig:
    return broker_config_for(broker)


@pytest.fixture
def site(tmp_path: Path, broker_config: BrokerConfig, backend: ReferenceBackend) -> SiteConfig:
    return bridge_site(tmp_path, broker_config, backend.url, tmp_path / "pki" / "test-ca.pem",
                       batch_size=250, rating_upload_limit_h=24)


@pytest.fixture
def engine(site: SiteConfig, tmp_path: Path) -> Iterator[QueueEngine]:
    """The queue engine that catalogues, rosters and follow-ups are applied to."""
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    yield engine
    engine.stop()


def start_bridge(site: SiteConfig, tmp_path: Path) -> BridgeDaemon:
    assert site.bridge is not None
    daemon = BridgeDaemon(site, site.bridge, tmp_path / "bridge.sqlite3", HALL_KEY)
    daemon.start(wait=10)
    return daemon


class Watcher:
    """The bus as a manager's console sees the bridge: its state, events and documents."""

    def __init__(self, site: SiteConfig) -> None:
        self.bus = BusClient(site.hall_id, "tester", site.broker)
        bridge = topics.Endpoint(site.hall_id, "bridge")
        self.states: Collector[BridgeState] = Collector()
        self.events: Collector[BridgeEvent] = Collector()
        self.documents: Collector[DownlinkState] = Collector()
        self.bus.subscribe_model(bridge.state, BridgeState, self.states.add)
        self.bus.subscribe_model(bridge.event, BridgeEvent, self.events.add)
        self.bus.subscribe_model(f"{bridge.base}/+/state", DownlinkState, self.documents.add)
        self.bus.start(wait=10)
        self.queue_event_topic = topics.queue_endpoint(site.hall_id).event


@pytest.fixture
def watcher(site: SiteConfig) -> Iterator[Watcher]:
    watcher = Watcher(site)
    yield watcher
    watcher.bus.stop()


def test_a_day_without_backend_is_delivered_once_and_in_order(
    site: SiteConfig, backend: ReferenceBackend, watcher: Watcher, tmp_path: Path
) -> None:
    backend.set_faults(down=True)
    bridge = start_bridge(site, tmp_path)
    try:
        sent = [ticket_event(n) for n in range(EVENTS_IN_A_DAY)]
        for event in sent:
            assert watcher.bus.publish(watcher.queue_event_topic, event)
        watcher.states.wait_for(lambda s: s.backlog == EVENTS_IN_A_DAY and s.last_error
                                is not None and "503" in s.last_error, timeout=30)
        assert backend.store.records(HALL) == []

        # Back, but flaky: two 500s, then two batches stored with the answer lost.
        backend.set_faults(down=False, fail_next=2, store_then_drop=2)
        wait_until(lambda: len(backend.store.records(HALL)) == EVENTS_IN_A_DAY, 60,
                   "every event at the backend")
        state = watcher.states.wait_for(
            lambda s: s.backlog == 0 and s.delivered_total == EVENTS_IN_A_DAY, timeout=10)
        assert state.last_success_at is not None and state.oldest_undelivered_age_s is None
        assert state.last_error is None
    finally:
        bridge.stop()
    stored = backend.store.records(HALL)
    assert [r["event_id"] for r in stored] == [e.id for e in sent]
    assert [r["seq"] for r in stored] == sorted(r["seq"] for r in stored)
    # The lost answers made the bridge send records the backend had: absorbed as duplicates.
    statuses = [status for _, _, status, _ in backend.store.requests()]
    assert statuses.count(0) == 2 and statuses.count(500) == 2 and statuses.count(503) >= 1
    assert stored[0]["body"]["ticket"]["citizen_masked_id"] == "3301**********1234"


def test_ratings_carry_the_standard_fields_masked_and_flag_late_ones(
    site: SiteConfig, backend: ReferenceBackend, watcher: Watcher, tmp_path: Path
) -> None:
    bridge = start_bridge(site, tmp_path)
    try:
        bad = rating_event(1, RatingLevel.VERY_DISSATISFIED,
                           reason="等太久，电话13812345678没人回")
        late = rating_event(2, RatingLevel.SATISFIED, rated_ago=timedelta(hours=30))
        for event in (bad, late):
            watcher.bus.publish(watcher.queue_event_topic, event)
        wait_until(lambda: len(backend.store.records(HALL)) == 2, 10, "two ratings")
    finally:
        bridge.stop()
    first, second = backend.store.records(HALL)
    assert first["kind"] == "rating" and not first["overdue"]
    body = first["body"]
    assert {k: body[k] for k in ("ticket_id", "service_id", "service_name", "window_id",
                                 "staff_id", "level", "score", "level_zh")} == {
        "ticket_id": "2026-01-05-00001", "service_id": "household", "service_name": "户籍办理",
        "window_id": "w1", "staff_id": "S001", "level": "very_dissatisfied", "score": 1,
        "level_zh": "非常不满意"}
    assert body["reason"] == "等太久，电话1381***5678没人回"
    assert body["citizen_masked_id"] == "3301**********1234"
    assert "rated_at" in body and "due_at" in body
    assert second["overdue"] is True and second["body"]["score"] == 4
    assert not re.search(r"\d{11}", str(backend.store.requests()))


CATALOGUE_V1 = {"services": [
    {"service_id": "household", "prefix": "A", "name_zh": "户籍办理", "name_en": "Household"},
    {"service_id": "business", "prefix": "B", "name_zh": "企业开办", "name_en": "Business"},
    {"service_id": "tax", "prefix": "C", "name_zh": "税务", "name_en": "Tax"},
]}


def test_a_bad_catalogue_is_rejected_and_the_old_one_kept(
    site: SiteConfig, backend: ReferenceBackend, watcher: Watcher, engine: QueueEngine,
    tmp_path: Path,
) -> None:
    backend.publish(HALL, "catalogue", 1, CATALOGUE_V1)
    bridge = start_bridge(site, tmp_path)
    try:
        watcher.documents.wait_for(lambda d: d.kind == "catalogue" and d.version == 1)
        # v2 drops `tax`, which window w3 serves: the hall would be left with a dead window.
        backend.publish(HALL, "catalogue", 2, {"services": CATALOGUE_V1["services"][:2]})
        rejected = watcher.events.wait_for(lambda e: e.type == "downlink_rejected")
        assert (rejected.kind, rejected.version, rejected.kept_version) == ("catalogue", 2, 1)
        assert rejected.error is not None and "tax" in rejected.error
        # v3 repeats a prefix: refused by the schema.
        doubled = [*CATALOGUE_V1["services"], {**CATALOGUE_V1["services"][0],
                                               "service_id": "passport"}]
        backend.publish(HALL, "catalogue", 3, {"services": doubled})
        watcher.events.wait_for(lambda e: e.type == "downlink_rejected" and e.version == 3)
        wait_until(lambda: len(backend.store.reports(HALL)) == 3, 15, "three reports")
    finally:
        bridge.stop()
    assert [(r["version"], r["status"]) for r in backend.store.reports(HALL)] == [
        (1, "accepted"), (2, "rejected"), (3, "rejected")]
    assert "prefix" in str(backend.store.reports(HALL)[2]["error"])
    assert all(d.version == 1 for d in watcher.documents.items)

    # After a restart the kept version is what the bus sees, and the rejects are not retried.
    later = Watcher(site)
    bridge = start_bridge(site, tmp_path)
    try:
        kept = later.documents.wait_for(lambda d: d.kind == "catalogue")
        assert kept.version == 1 and kept.body == CATALOGUE_V1 | {"services": [
            {**s, "expected_service_min": 10.0} for s in CATALOGUE_V1["services"]]}
        bridge.poll_documents()
    finally:
        bridge.stop()
        later.bus.stop()
    assert len(backend.store.reports(HALL)) == 3


def test_appointments_for_the_day_reach_the_queue_engine(
    site: SiteConfig, backend: ReferenceBackend, watcher: Watcher, tmp_path: Path
) -> None:
    clock = FakeClock()
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", clock)
    engine.start(wait=10)
    slot = clock.now + timedelta(minutes=30)
    booking = Appointment(code="YY0100", service_id="tax", slot_start=slot,
                          slot_end=slot + timedelta(minutes=30), citizen_masked_name="王*")
    backend.publish(HALL, "appointments", 7, {"business_day": "2024-03-04",
                                              "appointments": [booking.model_dump(mode="json")]})
    bridge = start_bridge(site, tmp_path)
    try:
        watcher.documents.wait_for(lambda d: d.kind == "appointments" and d.version == 7)
        # The engine has it: the citizen can check in.
        answer = watcher.bus.request(topics.queue_endpoint(HALL), "check_in",
                                     _check_in("YY0100"), timeout=5)
        assert answer.status == "ok", answer.error
        assert answer.data is not None and answer.data["ticket"]["number"] == "C001"
        # One booking for a service the hall does not have: the whole document is refused.
        bad = booking.model_copy(update={"code": "YY0101", "service_id": "fishing"})
        backend.publish(HALL, "appointments", 8, {
            "business_day": "2024-03-04", "appointments": [bad.model_dump(mode="json")]})
        rejected = watcher.events.wait_for(lambda e: e.type == "downlink_rejected")
        assert rejected.kept_version == 7 and "fishing" in str(rejected.error)
    finally:
        bridge.stop()
        engine.stop()


def test_a_day_of_ten_thousand_appointments_reaches_the_engine_in_parts(
    site: SiteConfig, backend: ReferenceBackend, watcher: Watcher, tmp_path: Path
) -> None:
    clock = FakeClock()
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", clock)
    engine.start(wait=10)
    slot = clock.now + timedelta(minutes=30)
    bookings = [Appointment(code=f"YY{n:05d}", service_id="tax", slot_start=slot,
                            slot_end=slot + timedelta(minutes=30), citizen_masked_name="王*")
                for n in range(10_000)]
    backend.publish(HALL, "appointments", 9, {
        "business_day": "2024-03-04",
        "appointments": [booking.model_dump(mode="json") for booking in bookings]})
    bridge = start_bridge(site, tmp_path)
    try:
        # Over the broker's packet limit as one request: it arrives in parts, all of it.
        document = watcher.documents.wait_for(
            lambda d: d.kind == "appointments" and d.version == 9, timeout=60)
        assert document.body["items"] == {"appointments": 10_000}
        for code in ("YY00000", "YY09999"):
            answer = watcher.bus.request(topics.queue_endpoint(HALL), "check_in",
                                         _check_in(code), timeout=10)
            assert answer.status == "ok", answer.error
    finally:
        bridge.stop()
        engine.stop()


def _check_in(code: str) -> object:
    from hall_bus.contract.queue import CheckInRequest

    return CheckInRequest(appointment_code=code)


def test_roster_notices_and_follow_ups_come_down_checked(
    site: SiteConfig, backend: ReferenceBackend, watcher: Watcher, engine: QueueEngine,
    tmp_path: Path,
) -> None:
    backend.publish(HALL, "roster", 3, {"staff": [
        {"staff_id": "s001", "name": "张敏", "windows": ["w1", "w9"]},
        {"staff_id": "s009", "name": "陈静"}]})
    backend.publish(HALL, "notices", 1, {"notices": [{
        "notice_id": "n1", "text_zh": "今日下午社保系统升级", "text_en": "Social insurance upgrade",
        "valid_from": "2026-01-05T00:00:00Z", "valid_until": "2026-01-05T09:00:00Z"}]})
    backend.publish(HALL, "follow_ups", 12, {"follow_ups": [{
        "ticket_id": "2026-01-05-00001", "status": "in_progress", "note": "已回访 / called back",
        "updated_at": "2026-01-05T03:00:00Z"}]})
    bridge = start_bridge(site, tmp_path)
    try:
        for kind, version in (("roster", 3), ("notices", 1), ("follow_ups", 12)):
            watcher.documents.wait_for(lambda d, k=kind, v=version: d.kind == k and d.version == v)
        follow_up = next(d for d in watcher.documents.items if d.kind == "follow_ups")
        assert follow_up.body["follow_ups"][0]["status"] == "in_progress"

        # A roster naming a window the hall does not have, a notice carrying a full ID number:
        # both refused, and what the screens and kiosks use stays as it was.
        backend.publish(HALL, "roster", 4, {"staff": [
            {"staff_id": "s001", "name": "张敏", "windows": ["w42"]}]})
        backend.publish(HALL, "notices", 2, {"notices": [{
            "notice_id": "n2", "text_zh": "请 330102199001011234 到1号窗口",
            "valid_from": "2026-01-05T00:00:00Z", "valid_until": "2026-01-05T09:00:00Z"}]})
        roster = watcher.events.wait_for(lambda e: e.kind == "roster" and e.version == 4)
        notices = watcher.events.wait_for(lambda e: e.kind == "notices" and e.version == 2)
        assert roster.type == notices.type == "downlink_rejected"
        assert "w42" in str(roster.error) and roster.kept_version == 3
        assert "330102199001011234" not in str(notices.error) and notices.kept_version == 1
    finally:
        bridge.stop()
    assert "330102199001011234" not in str(backend.store.reports(HALL))
    assert {(d.kind, d.version) for d in watcher.documents.items} == {
        ("roster", 3), ("notices", 1), ("follow_ups", 12)}


def test_bridge_rides_out_a_broker_restart(
    site: SiteConfig, backend: ReferenceBackend, watcher: Watcher, tmp_path: Path,
    broker: Mosquitto,
) -> None:
    bridge = start_bridge(site, tmp_path)
    try:
        # Garbage first, and an event carrying a full ID number: both dropped and logged.
        watcher.bus.publish(watcher.queue_event_topic, b"\x00not json")
        forged = ticket_event(0).model_dump(mode="json")
        forged["ticket"]["citizen_masked_id"] = "330102199001011234"
        watcher.bus.publish(watcher.queue_event_topic, json.dumps(forged).encode())
        watcher.bus.publish(watcher.queue_event_topic, ticket_event(1))
        wait_until(lambda: len(backend.store.records(HALL)) == 1, 10, "the first event")
        assert "330102199001011234" not in str(backend.store.requests())
        broker.restart()
        assert watcher.bus.wait_connected(15) and bridge.bus.wait_connected(15)
        watcher.bus.publish(watcher.queue_event_topic, ticket_event(2))
        wait_until(lambda: len(backend.store.records(HALL)) == 2, 15, "the event after restart")
    finally:
        bridge.stop()
