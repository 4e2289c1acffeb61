"""Clocks for the queue domain.

The queue engine reads domain time (when a ticket was issued, how long it waited) from a clock
function. Production uses the wall clock. The default run plays a hall day faster than real time,
so the engine and the traffic generator share a scaled clock: both are started with the same
simulated start instant and speed, and so agree on "now" without talking to each other.
Transport times (message `ts`, request deadlines) always stay on the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from hall_bus.ids import utc_now

Clock = Callable[[], datetime]


class ScaledClock:
    """`start + (wall time since anchor) × speed`, anchored on a monotonic reading."""

    def __init__(self, start: datetime, speed: float, anchor_wall: float | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start
        self.speed = speed
        # The anchor is a wall-clock epoch so separate processes started at different moments
        # still agree on the simulated time.
        self.anchor_wall = time.time() if anchor_wall is None else anchor_wall

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.anchor_wall) * self.speed)

    def real_seconds_until(self, moment: datetime) -> float:
        return max(0.0, (moment - self()).total_seconds() / self.speed)

    def describe(self) -> str:
        return f"{self.start.isoformat()}@{self.anchor_wall:.3f}x{self.speed:g}"

    @classmethod
    def parse(cls, text: str) -> ScaledClock:
        """Inverse of `describe`: `<start ISO>@<anchor epoch>x<speed>`."""
        try:
            start_text, rest = text.rsplit("@", 1)
            anchor_text, speed_text = rest.split("x", 1)
            return cls(datetime.fromisoformat(start_text), float(speed_text), float(anchor_text))
        except ValueError as exc:
            raise ValueError(f"bad simulated clock {text!r}: {exc}") from exc


def wall_clock() -> datetime:
    return utc_now()
