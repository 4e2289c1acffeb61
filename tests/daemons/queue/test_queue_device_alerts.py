"""Device faults and crowding reported on the bus become supervision alerts in the engine, once
per report, which a manager can then acknowledge like any other."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bus_helpers import Collector
from line_fixtures import make_line
from queue_fixtures import make_site

from daemons.queue.service import QueueEngine
from firmware_config.kiosk import KioskConfig
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus.client import BusClient
from hall_bus.contract import (
    QUEUE_ACTIONS,
    CameraEvent,
    CameraEventType,
    KioskEvent,
    KioskEventType,
    LineDeviceEvent,
    LineDeviceEventType,
    QueueEvent,
    QueueEventType,
    ResponseStatus,
)
from hall_bus.topics import Endpoint, camera_endpoint, queue_endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)


@pytest.fixture
def site(broker_config: BrokerConfig, tmp_path: Path) -> SiteConfig:
    line, _sim = make_line(tmp_path / "ttyLINE1")
    return make_site().model_copy(update={
        "broker": broker_config, "data_dir": tmp_path, "lines": [line],
        "kiosks": [KioskConfig(id="kiosk1")],
    })


@pytest.fixture
def engine(site: SiteConfig, tmp_path: Path) -> Iterator[QueueEngine]:
    engine = QueueEngine(site, tmp_path / "queue.sqlite3")
    engine.start(wait=10)
    yield engine
    engine.stop()


def test_faults_and_crowding_are_alerts_raised_once(site: SiteConfig, engine: QueueEngine) -> None:
    events: Collector[QueueEvent] = Collector()
    bus = BusClient(site.hall_id, "devices", site.broker)
    bus.subscribe_model(queue_endpoint(site.hall_id).event, QueueEvent, events.add)
    bus.start(wait=10)
    try:
        offline = LineDeviceEvent(type=LineDeviceEventType.WENT_OFFLINE, device_id="w1-caller",
                                  window_id="w1")
        camera = camera_endpoint(site.hall_id, "cam1").event
        reports: list[tuple[str, object]] = [
            (Endpoint(site.hall_id, "line1", "w1-caller").event, offline),
            (Endpoint(site.hall_id, "line1", "w1-caller").event, offline),  # repeated: once
            (Endpoint(site.hall_id, "line1", "w1-strip").event, LineDeviceEvent(
                type=LineDeviceEventType.CAME_ONLINE, device_id="w1-strip")),  # no alert
            (camera, CameraEvent(type=CameraEventType.CAMERA_FAULT, camera="cam1",
                                 message="画面冻结 / picture frozen")),
            (camera, CameraEvent(type=CameraEventType.CROWDING_CHANGED, camera="cam1", count=20,
                                 level=1, message="繁忙 / busy")),  # busy is no alert
            (camera, CameraEvent(type=CameraEventType.CROWDING_CHANGED, camera="cam1", count=45,
                                 level=2, message="拥挤 / crowded")),
            (Endpoint(site.hall_id, "kiosk1").event, KioskEvent(
                type=KioskEventType.PRINT_FAILED, number="A001", detail="缺纸 / paper out")),
        ]
        for topic, payload in reports:
            bus.publish(topic, payload)  # type: ignore[arg-type]
        events.wait_for(lambda e: e.alert is not None and e.alert.subject == "kiosk1/printer")
        response = bus.request(queue_endpoint(site.hall_id), "list_alerts",
                               QUEUE_ACTIONS["list_alerts"].request())
        assert response.status is ResponseStatus.OK and response.data is not None
        found = sorted((r["alert"]["kind"], r["alert"]["subject"])
                       for r in response.data["alerts"])
        assert found == [("crowding", "camera/cam1"), ("device_fault", "camera/cam1"),
                         ("device_fault", "kiosk1/printer"), ("device_fault", "line1/w1-caller")]
        caller = next(e for e in events.items if e.alert and e.alert.subject == "line1/w1-caller")
        assert caller.window is not None and caller.window.window_id == "w1"
        [crowded] = [e.alert for e in events.items
                     if e.alert is not None and e.alert.kind.value == "crowding"]
        assert crowded is not None and crowded.value_s == 45
        alerts = [e for e in events.items if e.type is QueueEventType.SUPERVISION_ALERT]
        assert len(alerts) == 4
    finally:
        bus.stop()
