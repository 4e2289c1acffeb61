"""Reads a frame source on its own thread and keeps the newest frame; restarts a dead stream.

Analysis wants the newest picture, not a backlog, so older frames are simply replaced. When the
source gives nothing (`read()` returns None: stream ended or dropped, device unplugged) the source
is closed and opened again after a paced, growing delay, each failure logged. A stream that hangs
inside `read()` is normally ended by OpenCV's read timeout; if a driver blocks beyond it,
`stuck_for()` tells the daemon's watchdog, which abandons this grabber (its thread is a daemon
thread blocked in C code that cannot be interrupted) and starts a new one on a new source.
"""

from __future__ import annotations

import logging
import threading
import time

from drivers.camera.regions import Image
from drivers.camera.sources import FrameSource

log = logging.getLogger("hall.camera")

RETRY_MIN_S = 0.5
RETRY_MAX_S = 30.0


class FrameGrabber:
    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self.restarts = 0
        self._lock = threading.Lock()
        self._frame: Image | None = None
        self._frame_at = time.monotonic()
        self._taken = True
        self._reading_since: float | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="camera-grabber", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.source.close()

    def abandon(self) -> None:
        """Give up on a grabber stuck in `read()`: it stops by itself if the read ever returns."""
        self._stopping.set()

    def stuck_for(self) -> float:
        """Seconds the current `read()` has been blocking; 0 when not reading."""
        with self._lock:
            since = self._reading_since
        return 0.0 if since is None else time.monotonic() - since

    def take(self) -> Image | None:
        """The newest frame not taken yet, or None."""
        with self._lock:
            if self._taken:
                return None
            self._taken = True
            return self._frame

    def seconds_since_frame(self) -> float:
        with self._lock:
            return time.monotonic() - self._frame_at

    def _run(self) -> None:
        delay = RETRY_MIN_S
        opened = False
        while not self._stopping.is_set():
            if not opened:
                try:
                    self.source.open()
                    opened = True
                    log.info("视频源已打开 / source %s open", self.source.description)
                except Exception as exc:
                    log.warning("视频源无法打开 / cannot open %s: %s; retry in %.1f s",
                                self.source.description, exc, delay)
                    self._stopping.wait(delay)
                    delay = min(delay * 2, RETRY_MAX_S)
                    continue
            with self._lock:
                self._reading_since = time.monotonic()
            try:
                frame = self.source.read()
            except Exception:
                log.exception("读取视频帧失败 / reading %s failed", self.source.description)
                frame = None
            with self._lock:
                self._reading_since = None
            if self._stopping.is_set():
                break
            if frame is None:
                # Dropped or ended: close, wait, open again (a looping file starts over).
                log.warning("视频源无画面，重新连接 / no frame from %s; reopening in %.1f s",
                            self.source.description, delay)
                self.source.close()
                opened = False
                self.restarts += 1
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            delay = RETRY_MIN_S
            with self._lock:
                self._frame = frame
                self._frame_at = time.monotonic()
                self._taken = False
            if self.source.pace_s:
                self._stopping.wait(self.source.pace_s)
