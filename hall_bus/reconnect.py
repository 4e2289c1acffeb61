"""Paced reconnect delays: exponential backoff with jitter.

After a broker restart every daemon of the hall notices the loss at the same instant; without
jitter they would all hammer the new broker in lockstep. Each delay is drawn from the upper half of
the current exponential step, so the pace stays predictable (never faster than half the step) while
the daemons spread out.
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    def __init__(
        self,
        min_s: float,
        max_s: float,
        *,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if min_s <= 0 or max_s < min_s:
            raise ValueError(f"need 0 < min_s <= max_s, got {min_s} and {max_s}")
        self.min_s = min_s
        self.max_s = max_s
        self._uniform = uniform
        self.failures = 0

    def next_delay(self) -> float:
        """Count one more failure and return how long to wait before the next attempt."""
        step = min(self.max_s, self.min_s * 2.0 ** min(self.failures, 32))
        self.failures += 1
        return max(self.min_s, self._uniform(step / 2, step))

    def reset(self) -> None:
        self.failures = 0
