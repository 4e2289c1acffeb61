"""Heartbeats of a daemon's working loops, and the watchdog ping that depends on them.

systemd restarts a service whose watchdog pings stop. A timer that pings regardless would keep a
daemon alive whose real work is stuck (a deadlock on the store, a serial write that never
returns), so each working loop beats its own `Heartbeat` every turn, and the main loop pings only
while every heartbeat is fresh. A stuck loop stops its heartbeat, the pings stop, systemd restarts
the daemon.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from hall_bus.systemd_notify import Notifier

log = logging.getLogger("hall.systemd")

# A loop that sleeps waits in slices this long and beats between them, so a quiet daemon (nothing
# to do for minutes) still counts as alive while a loop stuck inside its work does not.
PAUSE_SLICE_S = 0.25


class Heartbeat:
    """When a working loop last went round; the loop calls `beat()` every turn."""

    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._clock = clock
        self._last = clock()

    def beat(self) -> None:
        # One float assignment: atomic under the GIL, cheap enough for every turn of a hot loop.
        self._last = self._clock()

    def age(self) -> float:
        return self._clock() - self._last

    def pause(self, stopping: threading.Event, seconds: float) -> bool:
        """`stopping.wait(seconds)` that keeps beating while it waits; True if `stopping` is set."""
        deadline = self._clock() + seconds
        while True:
            self.beat()
            left = deadline - self._clock()
            if left <= 0:
                return stopping.is_set()
            if stopping.wait(min(left, PAUSE_SLICE_S)):
                self.beat()
                return True


class WatchdogPinger:
    """Pings the service manager's watchdog while every heartbeat is fresh.

    `tick()` is called from the daemon's main loop; `next_wait()` says how long that loop may
    sleep before the next ping is due. A heartbeat counts as stale once it is older than the whole
    watchdog period (twice the ping interval): one turn of a loop may legitimately take a while (a
    slow upload), and a stuck loop is still restarted within two periods.
    """

    def __init__(
        self,
        notifier: Notifier,
        heartbeats: Sequence[Heartbeat],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.notifier = notifier
        self.heartbeats = list(heartbeats)
        self.interval_s = notifier.watchdog_interval_s
        self._clock = clock
        self._next_due = clock()
        self._withheld: str | None = None

    def stale(self) -> list[Heartbeat]:
        if self.interval_s is None:
            return []
        limit = 2 * self.interval_s
        return [beat for beat in self.heartbeats if beat.age() > limit]

    def next_wait(self, at_most: float | None = None) -> float | None:
        """Seconds until the next ping is due, but no more than `at_most` (for a main loop with
        other checks to make); None (wait for ever) when there is neither."""
        if self.interval_s is None:
            return at_most
        due_in = max(0.0, self._next_due - self._clock())
        return due_in if at_most is None else min(due_in, at_most)

    def tick(self) -> bool:
        """Ping if due and every loop is alive; True if a ping was sent."""
        if self.interval_s is None or self._clock() < self._next_due:
            return False
        self._next_due = self._clock() + self.interval_s
        stale = self.stale()
        if stale:
            names = ", ".join(beat.name for beat in stale)
            if names != self._withheld:  # once per change, not every half period
                log.error("工作循环停滞，停止看门狗心跳 / working loop stuck, watchdog ping "
                          "withheld: %s (%.1f s)", names, max(beat.age() for beat in stale))
            self._withheld = names
            return False
        if self._withheld is not None:
            log.warning("工作循环恢复 / working loops alive again; watchdog pings resume")
            self._withheld = None
        return self.notifier.watchdog()
