"""Roster, catalogue and follow-ups from the reference backend put in force in the queue engine,
over a real Mosquitto: accepted, refused with the old kept, and still in force after a restart."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import repo_paths
import yaml
from bridge_fixtures import (
    HALL_KEY,
    bridge_site,
    broker_config_for,
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
from firmware_config.site import SiteConfig
from hall_bus import topics
from hall_bus.client import BusClient
from hall_bus.contract import Request, Response
from hall_bus.contract.bridge import BridgeEvent, DownlinkState
from hall_bus.contract.queue import (
    CallNextRequest,
    DescribeRequest,
    FinishRequest,
    LoginRequest,
    LogoutRequest,
    RateRequest,
    RatingLevel,
    TakeTicketRequest,
)

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

HALL = "test-hall"
REPO = repo_paths.REPO
ROSTER_V1 = {"staff": [
    {"staff_id": "s001", "name": "张敏", "windows": ["w1", "w9"]},
    {"staff_id": "s010", "name": "陈静", "windows": ["w3"]}]}
CATALOGUE_V1 = {"services": [
    {"service_id": "household", "prefix": "A", "name_zh": "户籍业务", "name_en": "Residence"},
    {"service_id": "business", "prefix": "B", "name_zh": "企业开办", "name_en": "Business"},
    {"service_id": "tax", "prefix": "C", "name_zh": "税务", "name_en": "Tax"}]}


@pytest.fixture
def site(tmp_path: Path, broker: Mosquitto, backend: ReferenceBackend) -> SiteConfig:
    return bridge_site(tmp_path, broker_config_for(broker), backend.url,
                       tmp_path / "pki" / "test-ca.pem")


class Console:
    """A manager's console: asks the engine, watches the bridge's documents and events."""

    def __init__(self, site: SiteConfig) -> None:
        self.bus = BusClient(site.hall_id, "console", site.broker)
        bridge = topics.Endpoint(site.hall_id, "bridge")
        self.events: Collector[BridgeEvent] = Collector()
        self.documents: Collector[DownlinkState] = Collector()
        self.bus.subscribe_model(bridge.event, BridgeEvent, self.events.add)
        self.bus.subscribe_model(f"{bridge.base}/+/state", DownlinkState, self.documents.add)
        self.bus.start(wait=10)

    def ask(self, action: str, request: Request) -> Response:
        return self.bus.request(topics.queue_endpoint(HALL), action, request, timeout=5)

    def wait_accepted(self, kind: str, version: int) -> None:
        self.documents.wait_for(lambda d: d.kind == kind and d.version == version)


@pytest.fixture
def console(site: SiteConfig) -> Iterator[Console]:
    console = Console(site)
    yield console
    console.bus.stop()


def test_documents_are_in_force_in_the_engine_and_survive_its_restart(
    site: SiteConfig, backend: ReferenceBackend, console: Console, tmp_path: Path
) -> None:
    clock = FakeClock()
    db = tmp_path / "queue.sqlite3"
    engine = QueueEngine(site, db, clock)
    engine.start(wait=10)
    assert site.bridge is not None
    bridge = BridgeDaemon(site, site.bridge, tmp_path / "bridge.sqlite3", HALL_KEY)
    try:
        # s010 is not in the site config: only the roster lets them log in.
        refused = console.ask("login", LoginRequest(window_id="w3", staff_id="s010"))
        assert refused.code == "unknown_staff"
        backend.publish(HALL, "roster", 1, ROSTER_V1)
        backend.publish(HALL, "catalogue", 1, CATALOGUE_V1)
        bridge.start(wait=10)
        console.wait_accepted("roster", 1)
        console.wait_accepted("catalogue", 1)
        assert console.ask("login", LoginRequest(window_id="w3", staff_id="s010")).status == "ok"

        # v2 drops s010, who is at window w3 right now: the engine refuses, v1 stays.
        backend.publish(HALL, "roster", 2, {"staff": ROSTER_V1["staff"][:1]})
        rejected = console.events.wait_for(lambda e: e.kind == "roster" and e.version == 2)
        assert rejected.type == "downlink_rejected" and rejected.kept_version == 1
        assert "s010" in str(rejected.error)
        wait_until(lambda: (backend.store.reports(HALL)[-1]["version"],
                            backend.store.reports(HALL)[-1]["status"]) == (2, "rejected"),
                   5, "the rejection reported")

        # A bad rating, later resolved by the backend.
        assert console.ask("login", LoginRequest(window_id="w1", staff_id="s001")).status == "ok"
        answer = console.ask("take_ticket", TakeTicketRequest(service_id="household"))
        assert answer.data is not None and answer.data["ticket"]["service_name"] == "户籍业务"
        ticket_id = answer.data["ticket"]["ticket_id"]
        assert console.ask("call_next", CallNextRequest(window_id="w1")).status == "ok"
        assert console.ask("finish", FinishRequest(window_id="w1")).status == "ok"
        rated = console.ask("rate", RateRequest(ticket_id=ticket_id,
                                                level=RatingLevel.DISSATISFIED, reason="态度差"))
        assert rated.data is not None and rated.data["rating"]["follow_up"] == "pending"
        backend.publish(HALL, "follow_ups", 1, {"follow_ups": [{
            "ticket_id": ticket_id, "status": "resolved", "note": "已回访",
            "updated_at": "2024-03-04T03:00:00Z"}]})
        console.wait_accepted("follow_ups", 1)
    finally:
        bridge.stop()
        engine.stop()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT follow_up FROM ratings").fetchall() == [("resolved",)]
    finally:
        conn.close()

    # After a restart of the engine roster v1 and catalogue v1 are still what it works with.
    engine = QueueEngine(site, db, clock)
    engine.start(wait=10)
    try:
        assert console.ask("logout", LogoutRequest(window_id="w3")).status == "ok"
        assert console.ask("login", LoginRequest(window_id="w3", staff_id="s010")).status == "ok"
        refused = console.ask("login", LoginRequest(window_id="w2", staff_id="s002"))
        assert refused.code == "unknown_staff"
        described = console.ask("describe", DescribeRequest())
        assert described.data is not None
        assert described.data["services"][0]["name_zh"] == "户籍业务"
    finally:
        engine.stop()


def test_events_before_the_first_start_wait_once_the_session_is_opened(
    site: SiteConfig, backend: ReferenceBackend, console: Console, tmp_path: Path
) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(yaml.safe_dump(site.model_dump(mode="json"), allow_unicode=True),
                         encoding="utf-8")
    db = tmp_path / "bridge.sqlite3"
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "hall"), "bridge", "--site", str(site_file), "--db", str(db),
         "--open-session"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    # The bridge is not running: the broker keeps these for its session.
    sent = [ticket_event(n) for n in range(40)]
    topic = topics.queue_endpoint(HALL).event
    publishes = [console.bus.publish(topic, event) for event in sent]
    wait_until(lambda: all(p.is_published() for p in publishes), 10, "broker acknowledgements")
    assert backend.store.records(HALL) == []
    assert site.bridge is not None
    bridge = BridgeDaemon(site, site.bridge, db, HALL_KEY)
    bridge.start(wait=10)
    try:
        wait_until(lambda: len(backend.store.records(HALL)) == len(sent), 30, "all 40 events")
    finally:
        bridge.stop()
    assert [r["event_id"] for r in backend.store.records(HALL)] == [e.id for e in sent]


def test_a_new_engine_database_gets_the_documents_in_force_again(
    site: SiteConfig, backend: ReferenceBackend, console: Console, tmp_path: Path
) -> None:
    assert site.bridge is not None
    first, second = tmp_path / "queue-1.sqlite3", tmp_path / "queue-2.sqlite3"
    engine = QueueEngine(site, first, FakeClock())
    engine.start(wait=10)
    backend.publish(HALL, "roster", 1, ROSTER_V1)
    bridge = BridgeDaemon(site, site.bridge, tmp_path / "bridge.sqlite3", HALL_KEY)
    bridge.start(wait=10)
    try:
        console.wait_accepted("roster", 1)
    finally:
        bridge.stop()
        engine.stop()
    # The controller's engine database is replaced (a new disk); the bridge still has roster v1.
    engine = QueueEngine(site, second, FakeClock())
    engine.start(wait=10)
    try:
        def login() -> Response:  # a new request each time: a repeated id is answered once
            return console.ask("login", LoginRequest(window_id="w3", staff_id="s010"))

        assert login().code == "unknown_staff"
        bridge = BridgeDaemon(site, site.bridge, tmp_path / "bridge.sqlite3", HALL_KEY)
        bridge.start(wait=10)
        try:
            wait_until(lambda: login().status == "ok", 20,
                       "roster v1 in force in the new engine")
        finally:
            bridge.stop()
    finally:
        engine.stop()
    assert [r["version"] for r in backend.store.reports(HALL)] == [1]
