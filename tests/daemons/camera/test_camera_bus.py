"""The camera daemon on a real Mosquitto with the queue engine: absence becomes a `staff_absent`
supervision alert; the watchdog reports and restarts a stalled stream."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from bus_helpers import Collector
from camera_rig import desk_camera
from mosquitto import Mosquitto
from queue_fixtures import make_site

from daemons.camera.daemon import CameraDaemon
from daemons.queue.service import QueueEngine
from drivers.camera.regions import Image
from drivers.camera.scene import DeskScene, DeskSpec, DeskTimeline, SeatSpec
from drivers.camera.sources import GeneratedSource
from firmware_config.site import BrokerConfig, SiteConfig, Thresholds
from hall_bus.client import BusClient
from hall_bus.contract import (
    QUEUE_ACTIONS,
    QueueEvent,
    QueueEventType,
    ResponseStatus,
    SupervisionKind,
)
from hall_bus.contract.camera import (
    CameraEvent,
    CameraEventType,
    CameraHealth,
    CameraState,
    SeatState,
)
from hall_bus.simclock import ScaledClock
from hall_bus.topics import OFFLINE, ONLINE, camera_endpoint, queue_endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

SPEED = 60.0  # one real second is a simulated minute
SEATED = DeskSpec(seats=(SeatSpec(person="seated"), SeatSpec()))


def _site(broker: BrokerConfig, tmp_path: Path) -> SiteConfig:
    camera = desk_camera(analysis_fps=4.0, stall_after_s=1.0)
    return make_site().model_copy(update={
        "broker": broker, "data_dir": tmp_path, "cameras": [camera],
        "thresholds": Thresholds(staff_absent_min=2, check_interval_s=1),
    })


class Watcher:
    def __init__(self, site: SiteConfig) -> None:
        endpoint = camera_endpoint(site.hall_id, "desk")
        self.bus = BusClient(site.hall_id, "watcher", site.broker)
        self.camera_events: Collector[CameraEvent] = Collector()
        self.camera_states: Collector[CameraState] = Collector()
        self.status: Collector[str] = Collector()
        self.queue_events: Collector[QueueEvent] = Collector()
        self.bus.subscribe_model(endpoint.event, CameraEvent, self.camera_events.add)
        self.bus.subscribe_model(endpoint.state, CameraState, self.camera_states.add)
        self.bus.subscribe(endpoint.status, lambda t, raw: self.status.add(t, raw.decode()))
        self.bus.subscribe_model(
            queue_endpoint(site.hall_id).event, QueueEvent, self.queue_events.add
        )
        self.bus.start(wait=10)

    def ask(self, action: str, **fields: str) -> None:
        request = QUEUE_ACTIONS[action].request.model_validate(fields)
        response = self.bus.request(queue_endpoint(self.bus.endpoint.hall_id), action, request)
        assert response.status is ResponseStatus.OK, response.error


@pytest.fixture
def site(broker_config: BrokerConfig, tmp_path: Path) -> SiteConfig:
    return _site(broker_config, tmp_path)


@pytest.fixture
def engine(site: SiteConfig, tmp_path: Path) -> Iterator[QueueEngine]:
    running = QueueEngine(site, tmp_path / "queue.sqlite3")
    running.start(wait=10)
    yield running
    running.stop()


@pytest.fixture
def watcher(site: SiteConfig) -> Iterator[Watcher]:
    client = Watcher(site)
    yield client
    client.bus.stop()


def test_absence_seen_by_the_camera_is_a_staff_absent_alert_of_the_engine(
    site: SiteConfig, engine: QueueEngine, watcher: Watcher
) -> None:
    watcher.ask("login", window_id="w1", staff_id="s001")
    clock = ScaledClock(datetime(2024, 3, 4, 1, 0, tzinfo=UTC), SPEED)
    # Empty at installation (the reference), seated for 5 simulated minutes, then away.
    timeline = DeskTimeline([(0, DeskSpec()), (20, SEATED), (300, DeskSpec())])
    source = GeneratedSource(timeline, clock, period_s=10_000, pace_s=0.25)
    camera = CameraDaemon(site, site.cameras[0], source, clock, site.data_dir / "refs",
                          capture_reference=True)
    camera.start(wait=10)
    try:
        present = watcher.camera_events.wait_for(
            lambda e: e.type is CameraEventType.PRESENCE_CHANGED and e.window_id == "w1"
            and e.state is SeatState.PRESENT, timeout=10)
        assert present.camera == "desk"
        absence = watcher.camera_events.wait_for(
            lambda e: e.type is CameraEventType.ABSENCE_STARTED, timeout=20)
        assert (absence.window_id, absence.staff_id, absence.grace_s) == ("w1", "s001", 120)
        assert absence.snapshot_jpeg_b64 is None
        assert absence.message.startswith("1号窗口工作人员离岗")
        alert = watcher.queue_events.wait_for(
            lambda e: e.type is QueueEventType.SUPERVISION_ALERT and e.alert is not None
            and e.alert.kind is SupervisionKind.STAFF_ABSENT, timeout=5)
        assert alert.alert is not None
        assert (alert.alert.window_id, alert.alert.staff_id) == ("w1", "s001")
        assert alert.alert.threshold_s == 120
        state = watcher.camera_states.wait_for(
            lambda s: any(seat.state is SeatState.ABSENT for seat in s.seats), timeout=5)
        assert state.health is CameraHealth.OK
        assert watcher.status.wait_for(lambda s: s == ONLINE)
        # References were stored at installation for a restart.
        assert (site.data_dir / "refs" / "seat-w1.png").exists()
    finally:
        camera.stop()
    assert watcher.status.wait_for(lambda s: s == OFFLINE)
    # One absence, one alert, even though the camera kept reporting the seat empty.
    alerts = watcher.queue_events.matching(
        lambda e: e.alert is not None and e.alert.kind is SupervisionKind.STAFF_ABSENT)
    assert len(alerts) == 1


class UnpluggableSource:
    """A camera that can be unplugged: then it neither opens nor gives frames."""

    description = "unpluggable"
    pace_s = 0.05

    def __init__(self) -> None:
        self.scene = DeskScene()
        self.spec = SEATED
        self.unplugged = threading.Event()
        self.garbage = threading.Event()  # a broken decoder: frames of the wrong shape
        self.opens = 0

    def open(self) -> None:
        if self.unplugged.is_set():
            raise OSError("no such device")
        self.opens += 1

    def read(self) -> Image | None:
        if self.unplugged.is_set():
            return None
        if self.garbage.is_set():
            return np.zeros((7, 3), np.uint8)
        return self.scene.render(self.spec)

    def close(self) -> None:
        pass


def test_watchdog_reports_a_stalled_stream_and_reopens_it(
    site: SiteConfig, watcher: Watcher, tmp_path: Path
) -> None:
    source = UnpluggableSource()
    camera = CameraDaemon(site, site.cameras[0], source, reference_dir=tmp_path / "refs",
                          capture_reference=True)
    camera.start(wait=10)
    try:
        watcher.status.wait_for(lambda s: s == ONLINE, timeout=10)
        source.unplugged.set()
        fault = watcher.camera_events.wait_for(
            lambda e: e.type is CameraEventType.CAMERA_FAULT, timeout=10)
        assert fault.health is CameraHealth.STALLED
        assert watcher.status.wait_for(lambda s: s == OFFLINE, timeout=5)
        assert watcher.camera_states.wait_for(lambda s: s.health is CameraHealth.STALLED)
        assert watcher.camera_events.matching(
            lambda e: e.type is CameraEventType.ABSENCE_STARTED) == []
        source.unplugged.clear()
        watcher.camera_events.wait_for(
            lambda e: e.type is CameraEventType.CAMERA_RECOVERED, timeout=15)
        assert source.opens >= 2
        assert camera.grabber.restarts >= 1
    finally:
        camera.stop()


def test_daemon_survives_garbage_frames_and_a_broker_restart(
    site: SiteConfig, watcher: Watcher, mosquitto: Mosquitto, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = UnpluggableSource()
    clock = ScaledClock(datetime(2024, 3, 4, 1, 0, tzinfo=UTC), SPEED)
    source.spec = DeskSpec()  # empty at installation
    camera = CameraDaemon(site, site.cameras[0], source, clock, tmp_path / "refs",
                          capture_reference=True)
    camera.start(wait=10)
    try:
        watcher.camera_states.wait_for(lambda s: s.health is CameraHealth.OK, timeout=10)
        source.spec = SEATED
        watcher.camera_events.wait_for(
            lambda e: e.window_id == "w1" and e.state is SeatState.PRESENT, timeout=10)
        source.garbage.set()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # let several garbage frames reach the analysis
            time.sleep(0.05)
        source.garbage.clear()
        assert "bad frame dropped: frame (7, 3) uint8" in caplog.text
        mosquitto.restart()
        assert watcher.bus.wait_connected(10)
        # Still analysing after both: the staff member leaves and the seat empties.
        source.spec = DeskSpec()
        watcher.camera_events.wait_for(
            lambda e: e.window_id == "w1" and e.state is SeatState.EMPTY
            and e.type is CameraEventType.PRESENCE_CHANGED, timeout=15)
        assert watcher.status.items[-1] == ONLINE
    finally:
        camera.stop()


class HangingSource(UnpluggableSource):
    """A driver whose read blocks and never returns until released (beyond any timeout)."""

    def __init__(self) -> None:
        super().__init__()
        self.hang = threading.Event()
        self.release = threading.Event()

    def read(self) -> Image | None:
        if self.hang.is_set():
            self.release.wait()
            return None
        return super().read()


def test_watchdog_replaces_a_stream_stuck_in_a_read(
    site: SiteConfig, watcher: Watcher, tmp_path: Path
) -> None:
    stuck = HangingSource()
    replacements: list[UnpluggableSource] = []

    def reopen() -> UnpluggableSource:
        replacements.append(UnpluggableSource())
        return replacements[-1]

    camera = CameraDaemon(site, site.cameras[0], stuck, reference_dir=tmp_path / "refs",
                          capture_reference=True, reopen=reopen)
    camera.start(wait=10)
    try:
        watcher.camera_states.wait_for(lambda s: s.health is CameraHealth.OK, timeout=10)
        stuck.hang.set()
        fault = watcher.camera_events.wait_for(
            lambda e: e.type is CameraEventType.CAMERA_FAULT, timeout=10)
        assert fault.health is CameraHealth.STALLED
        # Three stall periods into the blocked read the stream is replaced and frames flow.
        watcher.camera_events.wait_for(
            lambda e: e.type is CameraEventType.CAMERA_RECOVERED, timeout=15)
        assert camera.watchdog_restarts == 1
        assert len(replacements) == 1 and replacements[0].opens == 1
        assert watcher.status.items[-1] == ONLINE
    finally:
        stuck.release.set()
        camera.stop()
