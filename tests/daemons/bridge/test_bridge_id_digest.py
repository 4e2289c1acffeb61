"""The backend's appointments document carries each citizen's ID digest down to the queue engine,
through the real bridge, reference backend and Mosquitto: the card then finds the booking."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from bridge_fixtures import (
    HALL_KEY,
    bridge_site,
    broker_config_for,
    hall_broker,
    start_backend,
    wait_until,
)
from queue_fixtures import FakeClock

from daemons.bridge.daemon import BridgeDaemon
from daemons.queue.service import QueueEngine
from drivers.scanner import id_card
from hall_bus import topics
from hall_bus.client import BusClient
from hall_bus.contract import Appointment, CheckInRequest, Response, ResponseStatus

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

HALL = "test-hall"
CITIZEN_KEY = b"hall-citizen-id-key-0123456789"
ID_NUMBER = "11010519491231002X"


def test_a_downlinked_digest_lets_the_card_check_in(tmp_path: Path) -> None:
    backend = start_backend(tmp_path, HALL)
    broker = hall_broker(tmp_path / "mosquitto")
    site = bridge_site(tmp_path, broker_config_for(broker), backend.url,
                       tmp_path / "pki" / "test-ca.pem")
    assert site.bridge is not None
    clock = FakeClock()
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", clock)
    engine.start(wait=10)
    bus = BusClient(site.hall_id, "tester", site.broker, clean_session=True)
    seen: list[bytes] = []
    bus.subscribe(f"hall/{site.hall_id}/#", lambda _topic, payload: seen.append(payload))
    bus.start(wait=10)
    bridge = BridgeDaemon(site, site.bridge, tmp_path / "bridge.sqlite3", HALL_KEY)
    try:
        digest = id_card.keyed_digest(ID_NUMBER, CITIZEN_KEY)
        slot = clock.now + timedelta(minutes=30)
        booking = Appointment(code="YY0200", service_id="tax", slot_start=slot,
                              slot_end=slot + timedelta(minutes=30), citizen_id_digest=digest)
        backend.publish(HALL, "appointments", 1, {
            "business_day": "2024-03-04", "appointments": [booking.model_dump(mode="json")]})
        bridge.start(wait=10)
        answers: list[Response] = []

        def checked_in() -> bool:
            answer = bus.request(topics.queue_endpoint(HALL), "check_in",
                                 CheckInRequest(citizen_id_digest=digest), timeout=10)
            answers.append(answer)
            return answer.status is ResponseStatus.OK

        wait_until(checked_in, 20, "the downlinked appointment to be found by its digest")
        assert {a.code for a in answers[:-1]} <= {"unknown_appointment"}
        assert answers[-1].data is not None
        assert answers[-1].data["ticket"]["appointment_code"] == "YY0200"
        # The retained document on the bus holds the digest, never a number. The bridge
        # publishes it once the engine has taken it, so it may follow the check-in's answer.

        def documents() -> list[object]:
            return [json.loads(p) for p in list(seen) if b'"kind":"appointments"' in p]

        wait_until(lambda: any(digest in json.dumps(d) for d in documents()), 10,
                   "the retained appointments document with the digest")
        assert not any(ID_NUMBER.encode() in p for p in list(seen))
    finally:
        bridge.stop()
        bus.stop()
        engine.stop()
        broker.kill()
        backend.stop()
