"""How every daemon's main thread lives: start, wait for SIGTERM (systemd) or SIGINT (Ctrl-C),
stop cleanly. One place, so the daemons behave alike when a hall is shut down."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Protocol

log = logging.getLogger("hall")


class Daemon(Protocol):
    def start(self, wait: float | None = ...) -> None: ...

    def stop(self) -> None: ...


def stop_on_signals() -> threading.Event:
    """An event that SIGTERM or SIGINT sets; call from the main thread."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    return stop


def run_until_signalled(daemon: Daemon, stopping_message: str) -> int:
    """Start `daemon` (it connects in the background), run until signalled, then stop it."""
    stop = stop_on_signals()
    daemon.start(wait=None)
    try:
        stop.wait()
        log.info("%s", stopping_message)
    finally:
        daemon.stop()
    return 0
