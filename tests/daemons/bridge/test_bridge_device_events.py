"""Device faults and outages reach the backend's supervision as `device_event` records; the rest of
the devices' chatter does not, and a garbled device event is dropped without harm."""

from __future__ import annotations

from pathlib import Path

import pytest
from bridge_fixtures import HALL_KEY, ticket_event, wait_until
from test_bridge_engine_documents import HALL, Console, backend, broker, console, site

from bench.reference_backend import ReferenceBackend
from daemons.bridge.daemon import BridgeDaemon
from firmware_config.loader import load_site
from firmware_config.site import SiteConfig
from hall_bus import topics
from hall_bus.contract.camera import CameraEvent, CameraEventType, CameraHealth
from hall_bus.contract.kiosk import KioskEvent, KioskEventType
from hall_bus.contract.line import LineDeviceEvent, LineDeviceEventType

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

__all__ = ["backend", "broker", "console", "site"]  # fixtures used by name


def test_device_faults_are_uploaded_for_supervision(
    site: SiteConfig, backend: ReferenceBackend, console: Console, tmp_path: Path
) -> None:
    demo = load_site()
    line, kiosk = demo.lines[0].id, demo.kiosks[0].id
    hall = site.model_copy(update={"lines": demo.lines, "kiosks": demo.kiosks})
    assert hall.bridge is not None
    bridge = BridgeDaemon(hall, hall.bridge, tmp_path / "bridge.sqlite3", HALL_KEY)
    bridge.start(wait=10)
    camera_topic = topics.camera_endpoint(HALL, "cam1").event
    strip_topic = f"hall/{HALL}/{line}/strip1/event"
    kiosk_topic = topics.Endpoint(HALL, kiosk).event
    fault = CameraEvent(type=CameraEventType.CAMERA_FAULT, camera="cam1", window_id="w1",
                        health=CameraHealth.FROZEN, message="画面冻结 / picture frozen")
    offline = LineDeviceEvent(type=LineDeviceEventType.WENT_OFFLINE, device_id="strip1",
                              window_id="w1", detail="3 次未应答 / 3 polls unanswered")
    paper = KioskEvent(type=KioskEventType.PRINT_FAILED, ticket_id="2024-03-04-A001",
                       number="A001", detail="缺纸，联系电话 13812345678 / paper out")
    marker = ticket_event(1)
    try:
        for topic, event in (
            (camera_topic, CameraEvent(type=CameraEventType.PRESENCE_CHANGED, camera="cam1",
                                       message="有人 / present")),
            (camera_topic, fault),
            (strip_topic, LineDeviceEvent(type=LineDeviceEventType.KEY_PRESSED,
                                          device_id="caller1", action="call_next", result=0)),
            (strip_topic, offline),
            (kiosk_topic, KioskEvent(type=KioskEventType.TICKET_PRINTED, number="A002")),
            (kiosk_topic, paper),
            (topics.queue_endpoint(HALL).event, marker),
        ):
            console.bus.publish(topic, event)
        console.bus.publish(camera_topic, b"{not json")
        wait_until(lambda: any(r["event_id"] == marker.id for r in backend.store.records(HALL)),
                   30, "the marker event")
    finally:
        bridge.stop()
    records = backend.store.records(HALL)
    assert [(r["event_id"], r["kind"], r["type"]) for r in records] == [
        (fault.id, "device_event", "camera_fault"),
        (offline.id, "device_event", "went_offline"),
        (paper.id, "device_event", "print_failed"),
        (marker.id, "ticket_event", "ticket_issued"),
    ]
    assert records[0]["body"] == {"source": "camera", "node": "camera", "device": "cam1",
                                  "window_id": "w1", "type": "camera_fault", "health": "frozen",
                                  "detail": "画面冻结 / picture frozen"}
    assert records[1]["body"]["node"] == line and records[1]["body"]["device"] == "strip1"
    assert records[2]["body"]["node"] == kiosk and "13812345678" not in str(records[2]["body"])
