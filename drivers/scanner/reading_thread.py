"""The reading thread of a scanner: a real one's evdev device or the simulator's FIFO."""

from __future__ import annotations

import os
import threading
from typing import Self


class ScannerThread:
    """Runs `_run` in a daemon thread. `stop()` writes to a pipe of the scanner's own that `_run`
    selects on beside its device, so the thread wakes at once instead of sitting in a read (or a
    rescan wait) after the kiosk stops."""

    def __init__(self, name: str) -> None:
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=2)
        os.close(self._stop_r)
        os.close(self._stop_w)

    def _run(self) -> None:
        raise NotImplementedError
