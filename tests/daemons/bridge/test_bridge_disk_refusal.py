"""An outbox write the disk refuses is retried before the broker hears the event was received,
so the event waits instead of being lost. The refusal here is real: another connection holds the
SQLite file's write lock, as a backup tool or a damaged disk would."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from bridge_fixtures import HALL_KEY, ticket_event, wait_until
from test_bridge_engine_documents import HALL, Console, backend, broker, console, site

from bench.reference_backend import ReferenceBackend
from daemons.bridge.daemon import BridgeDaemon
from firmware_config.site import SiteConfig
from hall_bus import topics

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

__all__ = ["backend", "broker", "console", "site"]  # fixtures used by name


def test_events_wait_at_the_broker_while_the_outbox_cannot_be_written(
    site: SiteConfig, backend: ReferenceBackend, console: Console, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = tmp_path / "bridge.sqlite3"
    assert site.bridge is not None
    bridge = BridgeDaemon(site, site.bridge, db, HALL_KEY)
    bridge.start(wait=10)
    locker = sqlite3.connect(db, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        sent = [ticket_event(n) for n in range(5)]
        for event in sent:
            console.bus.publish(topics.queue_endpoint(HALL).event, event)
        wait_until(lambda: any("outbox write" in r.getMessage() and r.levelno == logging.ERROR
                               for r in caplog.records), 30, "the refused write logged")
        assert backend.store.records(HALL) == []
        locker.execute("COMMIT")
        wait_until(lambda: len(backend.store.records(HALL)) == len(sent), 30, "all five events")
    finally:
        locker.close()
        bridge.stop()
    assert [r["event_id"] for r in backend.store.records(HALL)] == [e.id for e in sent]
