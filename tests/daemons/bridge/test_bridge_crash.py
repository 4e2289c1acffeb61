"""`hall bridge` as a real process, killed with SIGKILL while uploads are in flight: nothing is
lost (events published while it is dead wait in its broker session), and what the backend had
already stored is sent again and absorbed as duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import repo_paths
from bridge_fixtures import backend as backend  # a fixture, used by name
from bridge_fixtures import (
    bridge_site,
    broker_config_for,
    hall_broker,
    ticket_event,
    wait_until,
)
from bus_helpers import Collector

from bench.engine_process import write_site as write_site_yaml
from bench.reference_backend import ReferenceBackend
from firmware_config.loader import load_site
from firmware_config.site import SiteConfig
from hall_bus import topics
from hall_bus.client import BusClient

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

HALL = "test-hall"
REPO = repo_paths.REPO


def write_site(site: SiteConfig, path: Path) -> Path:
    written = write_site_yaml(site, path)
    assert load_site(written) == site  # the YAML the daemon reads is the site the test means
    return written


def spawn_bridge(site_file: Path, db: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "operations.cli", "bridge", "--site", str(site_file),
             "--db", str(db)],
            cwd=REPO, stdout=out, stderr=out, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


@pytest.mark.slow
def test_sigkill_mid_delivery_loses_nothing_and_duplicates_are_absorbed(
    tmp_path: Path, backend: ReferenceBackend
) -> None:
    broker = hall_broker(tmp_path / "mosquitto")
    site = bridge_site(tmp_path, broker_config_for(broker), backend.url,
                       tmp_path / "pki" / "test-ca.pem", batch_size=100)
    site_file = write_site(site, tmp_path / "site.yaml")
    db, log = tmp_path / "bridge.sqlite3", tmp_path / "bridge.log"
    # Slow answers: each batch is stored at the backend a while before the bridge hears so.
    backend.set_faults(delay_s=0.3)
    publisher = BusClient(HALL, "tester", site.broker)
    statuses: Collector[bytes] = Collector()
    publisher.subscribe(topics.Endpoint(HALL, "bridge").status, statuses.add)
    publisher.start(wait=10)
    topic = topics.queue_endpoint(HALL).event
    sent = [ticket_event(n) for n in range(2000)]
    bridge = spawn_bridge(site_file, db, log)
    try:
        # Its first connection creates the broker session that keeps events while it is away.
        statuses.wait_for(lambda payload: payload == b"online", timeout=15)
        for event in sent[:1000]:
            publisher.publish(topic, event)
        for kill in range(3):
            already = len(backend.store.records(HALL))
            wait_until(lambda a=already: len(backend.store.records(HALL)) > a, 30,
                       f"a new batch at the backend\n{log.read_text()[-2000:]}")
            bridge.send_signal(signal.SIGKILL)
            bridge.wait()
            # While it is dead the hall goes on: these wait in the bridge's broker session.
            for event in sent[1000 + 300 * kill: 1300 + 300 * kill]:
                publisher.publish(topic, event)
            bridge = spawn_bridge(site_file, db, log)
        for event in sent[1900:]:
            publisher.publish(topic, event)
        backend.set_faults(delay_s=0.0)
        wait_until(lambda: len(backend.store.records(HALL)) == len(sent), 60,
                   f"every event at the backend\n{log.read_text()[-2000:]}")
    finally:
        bridge.send_signal(signal.SIGTERM)
        assert bridge.wait(timeout=15) == 0
        publisher.stop()
        broker.kill()
    stored = backend.store.records(HALL)
    assert [r["event_id"] for r in stored] == [e.id for e in sent]
    assert backend.store.duplicates_received > 0
