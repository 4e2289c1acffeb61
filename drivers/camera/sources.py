"""Where frames come from: an RTSP URL, a USB camera, a video file, or a generated scene.

`open_source` picks the kind from the config's `source` string. `read()` returns a BGR frame, or
None when the stream has nothing (ended, dropped, unplugged); the daemon's watchdog decides when
to close and open it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import cv2

from drivers.camera.regions import Image
from drivers.camera.scene import DeskTimeline, demo_timeline

log = logging.getLogger("hall.camera")

NETWORK_TIMEOUT_MS = 5000
GENERATED_PREFIX = "generated:"
USB_PREFIX = "usb:"


class FrameSource(Protocol):
    description: str
    pace_s: float  # pause between reads for sources whose read() does not wait for a frame

    def open(self) -> None: ...

    def read(self) -> Image | None: ...

    def close(self) -> None: ...


class SourceError(RuntimeError):
    """The stream cannot be opened."""


class OpenCvSource:
    """RTSP, USB (V4L2) or a file through OpenCV's FFmpeg/V4L2 back-ends."""

    def __init__(self, target: str | int) -> None:
        self.target = target
        self.description = f"usb:{target}" if isinstance(target, int) else _without_password(target)
        self.is_file = isinstance(target, str) and "://" not in target
        self.pace_s = 0.0
        self._capture: cv2.VideoCapture | None = None

    def open(self) -> None:
        self.close()
        if isinstance(self.target, str) and not self.is_file:
            # Network streams: give up on a dead camera after seconds, not FFmpeg's default 30 s.
            capture = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, NETWORK_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, NETWORK_TIMEOUT_MS,
            ])
        else:
            capture = cv2.VideoCapture(self.target)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open {self.description}")
        # Keep at most one frame buffered: analysis wants the newest picture, not a backlog.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if self.is_file:
            # A file plays at its own frame rate, as the camera that recorded it did.
            fps = capture.get(cv2.CAP_PROP_FPS)
            self.pace_s = 1.0 / fps if 0 < fps < 240 else 0.04
        self._capture = capture

    def read(self) -> Image | None:
        if self._capture is None:
            return None
        ok, frame = self._capture.read()
        return frame if ok and frame is not None else None

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class GeneratedSource:
    """A scripted scene rendered at the time of the given clock (for tests and the demo)."""

    def __init__(
        self,
        timeline: DeskTimeline,
        clock: Callable[[], datetime],
        period_s: float,
        pace_s: float = 0.5,
    ) -> None:
        self.description = "generated"
        self.pace_s = pace_s
        self.timeline = timeline
        self.clock = clock
        self.period_s = period_s
        self._started: datetime | None = None

    def open(self) -> None:
        if self._started is None:
            self._started = self.clock()

    def read(self) -> Image | None:
        if self._started is None:
            return None
        elapsed = (self.clock() - self._started).total_seconds() % self.period_s
        return self.timeline.render(elapsed)

    def close(self) -> None:
        pass


def _without_password(url: str) -> str:
    # rtsp://user:password@host/… — the password must not reach logs or the bus.
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def open_source(
    spec: str, clock: Callable[[], datetime], demo_period_s: float, analysis_fps: float
) -> FrameSource:
    if spec.startswith(GENERATED_PREFIX):
        scene = spec[len(GENERATED_PREFIX):]
        if scene != "desk":
            raise SourceError(f"unknown generated scene {scene!r} (known: desk)")
        # Rendered at the analysis rate: a scene has no frame rate of its own.
        return GeneratedSource(
            demo_timeline(demo_period_s), clock, demo_period_s, 1.0 / analysis_fps
        )
    if spec.startswith(USB_PREFIX):
        index = spec[len(USB_PREFIX):]
        if not index.isdigit():
            raise SourceError(f"usb source needs a device number, got {spec!r}")
        return OpenCvSource(int(index))
    return OpenCvSource(spec)
