"""Drive a CameraSupervisor with a generated desk scene on a fake clock, frame by frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from queue_fixtures import START

from daemons.camera.references import ReferenceStore
from daemons.camera.supervisor import CameraSupervisor
from drivers.camera.scene import SEAT_POLYGONS, DeskSpec, DeskTimeline
from firmware_config.camera import CameraConfig, SeatConfig
from hall_bus.contract.camera import CameraEvent, CameraEventType

GRACE_S = 120.0


def desk_camera(**overrides: object) -> CameraConfig:
    settings: dict[str, object] = {
        "name": "desk",
        "source": "generated:desk",
        "analysis_fps": 1.0,
        "seats": [
            SeatConfig(window="w1", polygon=SEAT_POLYGONS["left"]),
            SeatConfig(window="w2", polygon=SEAT_POLYGONS["right"]),
        ],
    }
    settings.update(overrides)
    return CameraConfig.model_validate(settings)


@dataclass
class Rig:
    timeline: DeskTimeline
    config: CameraConfig = field(default_factory=desk_camera)
    grace_s: float = GRACE_S
    open_windows: dict[str, str | None] = field(default_factory=lambda: {"w1": "s001"})
    events: list[tuple[float, CameraEvent]] = field(default_factory=list)
    elapsed: float = 0.0
    references: ReferenceStore | None = None

    def __post_init__(self) -> None:
        self.supervisor = CameraSupervisor(self.config, self.grace_s, self.references, START)
        # Installation: the reference is taken with both seats empty.
        self.supervisor.capture_references(self.timeline.scene.render(DeskSpec()))

    @property
    def now(self) -> datetime:
        return START + timedelta(seconds=self.elapsed)

    def run(self, seconds: float, fps: float | None = None) -> list[tuple[float, CameraEvent]]:
        """Analyse frames for `seconds` at `fps` (default: the camera's rate); new events."""
        step = 1.0 / (fps or self.config.analysis_fps)
        first = len(self.events)
        end = self.elapsed + seconds
        while self.elapsed < end - 1e-9:
            frame = self.timeline.render(self.elapsed)
            for event in self.supervisor.process(frame, self.now, self.open_windows):
                self.events.append((self.elapsed, event))
            self.elapsed += step
        return self.events[first:]

    def of(
        self, kind: CameraEventType, window: str | None = None
    ) -> list[tuple[float, CameraEvent]]:
        return [
            (t, e) for t, e in self.events
            if e.type is kind and (window is None or e.window_id == window)
        ]

    def seat(self, window: str) -> str:
        return next(s.state.value for s in self.supervisor.state().seats if s.window_id == window)
