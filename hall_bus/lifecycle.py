"""How every daemon's main thread lives: start, tell systemd it is ready, ping its watchdog while
the daemon's working loops are alive, wait for SIGTERM (systemd) or SIGINT (Ctrl-C), stop cleanly.
One place, so the daemons behave alike when a hall is started, watched and shut down."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Protocol

from hall_bus.liveness import Heartbeat, WatchdogPinger
from hall_bus.systemd_notify import Notifier

log = logging.getLogger("hall")


class Daemon(Protocol):
    def start(self, wait: float | None = ...) -> None: ...

    def stop(self) -> None: ...

    @property
    def heartbeats(self) -> Sequence[Heartbeat]: ...


def stop_on_signals() -> threading.Event:
    """An event that SIGTERM or SIGINT sets; call from the main thread."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    return stop


def watch_until(stop: threading.Event, pinger: WatchdogPinger) -> None:
    """The main loop of a daemon: sleep until `stop`, waking to ping the watchdog when due."""
    while not stop.wait(pinger.next_wait()):
        pinger.tick()


def serve_until(
    daemon: Daemon, stop: threading.Event, stopping_message: str, notifier: Notifier
) -> int:
    """Start `daemon` (it connects in the background), report ready, run until `stop`, stop it."""
    daemon.start(wait=None)
    try:
        notifier.ready()
        watch_until(stop, WatchdogPinger(notifier, daemon.heartbeats))
        log.info("%s", stopping_message)
        notifier.stopping()
    finally:
        daemon.stop()
    return 0


def run_until_signalled(daemon: Daemon, stopping_message: str) -> int:
    """`serve_until` SIGTERM or SIGINT, notifying the service manager systemd passed us, if any."""
    return serve_until(daemon, stop_on_signals(), stopping_message, Notifier.from_environment())
