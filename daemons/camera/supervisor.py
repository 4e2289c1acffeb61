"""One camera's analysis: frames in, bus payloads out. No bus, no threads, no wall clock.

The daemon feeds it frames with the time they were taken and which windows the queue engine has
open; tests feed it generated scenes on a fake clock.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime

import cv2
import numpy as np

from daemons.camera.attendance import SeatAttendance, SeatChange
from daemons.camera.crowd import CrowdingLevels, PeopleCounter
from daemons.camera.faces import FaceFinder
from daemons.camera.health import HealthCheck
from daemons.camera.references import ReferenceStore
from daemons.camera.seat import SeatDetector
from daemons.camera.snapshot import alert_snapshot
from drivers.camera.regions import Gray, Image, PixelRegion, rasterise, to_gray
from firmware_config.camera import CameraConfig
from hall_bus.contract.camera import (
    CROWDING_LABELS,
    CameraEvent,
    CameraEventType,
    CameraHealth,
    CameraState,
    SeatState,
    SeatView,
    WaitingAreaView,
)

log = logging.getLogger("hall.camera")

AREA_KEY = "waiting-area"
_STATE_ZH = {
    SeatState.UNKNOWN: "未知", SeatState.PRESENT: "在岗", SeatState.EMPTY: "离座",
    SeatState.ABSENT: "缺岗",
}
_HEALTH_ZH = {
    CameraHealth.STARTING: "启动中", CameraHealth.OK: "正常", CameraHealth.FROZEN: "画面冻结",
    CameraHealth.BLACK: "黑屏", CameraHealth.COVERED: "镜头被遮挡",
    CameraHealth.STALLED: "视频流中断",
    CameraHealth.NO_REFERENCE: "缺少空座参考图",
}


class BadFrame(ValueError):
    """A frame that is not an 8-bit BGR picture (a broken decoder or driver)."""


def seat_key(window_id: str) -> str:
    return f"seat-{window_id}"


class CameraSupervisor:
    def __init__(
        self,
        config: CameraConfig,
        grace_s: float,
        references: ReferenceStore | None,
        now: datetime,
        window_names: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        # Messages name windows as the hall does ("3号窗口"); the id where no name is known.
        self._window_names = dict(window_names or {})
        self.grace_s = grace_s
        self._references = references
        self._faces = FaceFinder()
        self._health_check = HealthCheck(config.frozen_after_s)
        self.health = CameraHealth.STARTING
        size = (config.width, config.height)
        self._size = size
        self.seats: list[tuple[SeatDetector, SeatAttendance]] = []
        for seat in config.seats:
            key = seat_key(seat.window)
            region = rasterise(seat.polygon, *size)
            detector = SeatDetector(
                region, seat.occupied_change, seat.empty_change,
                self._faces, self._load(key, region), on_reference=self._saver(key),
            )
            self.seats.append(
                (detector, SeatAttendance(seat.window, grace_s, config.clear_after_s, now))
            )
        self.counter: PeopleCounter | None = None
        self.levels: CrowdingLevels | None = None
        area = config.waiting_area
        if area is not None:
            person_px = area.person_area * config.width * config.height
            region = rasterise(area.polygon, *size)
            self.counter = PeopleCounter(region, person_px, self._load(AREA_KEY, region))
            self.levels = CrowdingLevels(list(area.levels), area.hysteresis)
        self._analysed: deque[float] = deque(maxlen=20)

    # --- references ------------------------------------------------------------------------

    def _load(self, key: str, region: PixelRegion) -> Gray | None:
        picture = self._references.load(key) if self._references else None
        if picture is not None and picture.shape != region.mask.shape:
            # The polygon or the analysis size changed since installation: the old picture no
            # longer lines up, so the seat needs a new reference (health says no_reference).
            log.warning("参考图与区域不符，需重新拍摄 / reference %s is %s, region needs %s; "
                        "take it again with --capture-reference", key, picture.shape,
                        region.mask.shape)
            return None
        return picture

    def _saver(self, key: str) -> Callable[[Gray], None]:
        def save(picture: Gray) -> None:
            if self._references is not None:
                try:
                    self._references.save(key, picture)
                except OSError:
                    log.exception("参考图保存失败 / cannot save reference %s", key)
        return save

    @property
    def missing_references(self) -> list[str]:
        missing = [seat_key(a.window_id) for d, a in self.seats if not d.has_reference]
        if self.counter is not None and not self.counter.has_reference:
            missing.append(AREA_KEY)
        return missing

    def capture_references(self, frame: Image) -> None:
        """Take the current picture as the empty seats and empty waiting area (installation)."""
        gray = to_gray(self._fit(frame))
        for detector, attendance in self.seats:
            picture = detector.capture_reference(gray)
            if self._references is not None:
                self._references.save(seat_key(attendance.window_id), picture)
        if self.counter is not None:
            picture = self.counter.capture_reference(gray)
            if self._references is not None:
                self._references.save(AREA_KEY, picture)

    # --- analysis --------------------------------------------------------------------------

    def _fit(self, frame: Image) -> Image:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.size == 0 or frame.dtype != np.uint8:
            raise BadFrame(f"frame {frame.shape} {frame.dtype}; an 8-bit BGR picture is expected")
        if (frame.shape[1], frame.shape[0]) != self._size:
            return cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        return frame

    def process(
        self, frame: Image, now: datetime, open_windows: Mapping[str, str | None]
    ) -> list[CameraEvent]:
        """Analyse one frame taken at `now`; `open_windows` maps each window open in the queue
        engine (logged in, not paused) to its staff id."""
        fitted = self._fit(frame)
        self._analysed.append(time.monotonic())
        gray = to_gray(fitted)
        health = self._health_check.check(gray, now.timestamp())
        if health is CameraHealth.OK and self.missing_references:
            health = CameraHealth.NO_REFERENCE
        events = self._health_events(health)
        for detector, attendance in self.seats:
            occupied: bool | None = None
            if health is CameraHealth.OK:
                occupied = detector.observe(gray, now.timestamp()).occupied
            window_open = attendance.window_id in open_windows
            for change in attendance.update(now, occupied, window_open):
                staff = open_windows.get(attendance.window_id)
                events.append(self._seat_event(change, staff, fitted, detector))
        if health is CameraHealth.OK and self.counter is not None and self.levels is not None:
            level_change = self.levels.update(self.counter.count(gray))
            if level_change is not None:
                label = CROWDING_LABELS[min(level_change.level, len(CROWDING_LABELS) - 1)]
                events.append(CameraEvent(
                    type=CameraEventType.CROWDING_CHANGED, camera=self.config.name,
                    count=level_change.count, level=level_change.level,
                    message=f"等候区{label.split(' / ')[0]}，约{level_change.count}人 / waiting "
                    f"area {label.split(' / ')[1]}, about {level_change.count} people",
                ))
        return events

    def mark_stalled(
        self, now: datetime, open_windows: Mapping[str, str | None]
    ) -> list[CameraEvent]:
        """No frames arrive: a fault like the others, never an absence."""
        events = self._health_events(CameraHealth.STALLED)
        for _, attendance in self.seats:
            for change in attendance.update(now, None, attendance.window_id in open_windows):
                events.append(self._seat_event(change, open_windows.get(attendance.window_id)))
        return events

    def _health_events(self, health: CameraHealth) -> list[CameraEvent]:
        previous, self.health = self.health, health
        if health is previous:
            return []
        name = self.config.name
        if health is CameraHealth.OK:
            if previous is CameraHealth.STARTING:
                return []
            return [CameraEvent(
                type=CameraEventType.CAMERA_RECOVERED, camera=name, health=health,
                message=f"摄像头{name}恢复正常 / camera {name} recovered",
            )]
        if health is CameraHealth.STARTING:
            return []
        log.warning("摄像头故障 / camera %s fault: %s", name, health.value)
        return [CameraEvent(
            type=CameraEventType.CAMERA_FAULT, camera=name, health=health,
            message=f"摄像头{name}故障：{_HEALTH_ZH[health]} / camera {name} fault: "
            f"{health.value}",
        )]

    def _seat_event(
        self,
        change: SeatChange,
        staff_id: str | None,
        frame: Image | None = None,
        detector: SeatDetector | None = None,
    ) -> CameraEvent:
        window = change.window_id
        name = self._window_names.get(window, f"{window}窗口")
        snapshot = None
        if change.type is CameraEventType.ABSENCE_STARTED:
            minutes = (change.absent_s or 0) // 60
            message = (f"{name}工作人员离岗{minutes}分钟 / staff of window {window} away "
                       f"for {minutes} min")
            if self.config.snapshot_on_alert and frame is not None:
                snapshot = alert_snapshot(frame, self._faces, detector.region if detector else None)
        elif change.type is CameraEventType.ABSENCE_ENDED:
            message = f"{name}缺岗结束 / absence at window {window} ended ({change.reason})"
        else:
            message = (f"{name}座位：{_STATE_ZH[change.state]} / seat of window {window}: "
                       f"{change.state.value}")
        return CameraEvent(
            type=change.type, camera=self.config.name, window_id=window, staff_id=staff_id,
            state=change.state, absent_since=change.absent_since, absent_s=change.absent_s,
            grace_s=round(self.grace_s) if change.type is CameraEventType.ABSENCE_STARTED else None,
            message=message, snapshot_jpeg_b64=snapshot,
        )

    # --- state -----------------------------------------------------------------------------

    def analysed_fps(self) -> float:
        stamps = self._analysed
        if len(stamps) < 2 or stamps[-1] <= stamps[0]:
            return 0.0
        return round((len(stamps) - 1) / (stamps[-1] - stamps[0]), 2)

    def state(self) -> CameraState:
        area = None
        if self.levels is not None:
            label = CROWDING_LABELS[min(self.levels.level, len(CROWDING_LABELS) - 1)]
            area = WaitingAreaView(count=self.levels.count, level=self.levels.level, label=label)
        return CameraState(
            camera=self.config.name, health=self.health, analysed_fps=self.analysed_fps(),
            seats=[
                SeatView(window_id=a.window_id, state=a.state, since=a.since,
                         empty_since=a.empty_since)
                for _, a in self.seats
            ],
            waiting_area=area,
        )
