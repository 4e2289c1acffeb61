"""What the line does next: a call's strip first, then other urgent writes, then polls spread with
routine writes.

One RS-485 line carries one frame at a time, so the order of frames is the whole policy:

1. a call's window strip text goes before anything else: the citizen at the window looks there;
2. then other urgent writes (the hall screen's call list, a keypad's acknowledgement, a pad's
   prompt);
3. then polls, round-robin. Caller keypads are asked once per cycle, so a press waits at most one
   cycle. An evaluation pad that is idle has nothing to report (a press on an idle pad rates
   nothing), so it is asked only once every `idle_poll_every` cycles, spread so each cycle asks
   the same share of idle pads; a pad that prompts for a rating is asked every cycle, like a
   keypad. This is what keeps a keypad's turn short on a line of 16 windows;
4. routine writes (idle texts, waiting counts, refreshes) take one slot between two polls and at
   most `routine_share` of the line's time, so a burst of them (every display refreshed at once)
   stretches a poll cycle by at most 1 / (1 - routine_share) instead of by the whole burst;
5. a device that stopped answering is polled only once every `offline_poll_every` cycles, so it
   costs the others one reply timeout per that many cycles instead of one per cycle.

Pure: no I/O and no clock; the daemon reports answers, misses and the time each frame took.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Generic, TypeVar

J = TypeVar("J")

# Routine writes may bank about one strip frame of line time while there are none, so a quiet line
# sends the next idle text at once, yet a burst after a quiet spell cannot hold the polls up.
MAX_ROUTINE_CREDIT_S = 0.05


class Lane(IntEnum):
    """Where a write waits; a lower value goes first."""

    CALL = 0
    URGENT = 1
    ROUTINE = 2


@dataclass
class PollTarget:
    address: int
    online: bool = True
    misses_in_row: int = 0
    skipped: int = 0
    idle_every: int = 1  # while idle, polled once every this many cycles
    phase: int = 0  # which of those cycles
    active: bool = True


@dataclass
class LineScheduler(Generic[J]):
    poll_addresses: list[int]
    offline_after: int = 3
    offline_poll_every: int = 10
    idle_poll_every: dict[int, int] = field(default_factory=dict)  # address -> cycles, pads
    routine_share: float = 0.1
    lanes: dict[Lane, deque[J]] = field(init=False)
    targets: list[PollTarget] = field(init=False)
    cycles: int = 0
    routine_credit: float = 0.0  # seconds of line time routine writes may still take
    _next: int = 0
    _routine_turn: bool = False

    def __post_init__(self) -> None:
        self.lanes = {lane: deque() for lane in Lane}
        self.targets = [PollTarget(a) for a in self.poll_addresses]
        sparse = [t for t in self.targets if self.idle_poll_every.get(t.address, 1) > 1]
        for index, target in enumerate(sparse):
            target.idle_every = self.idle_poll_every[target.address]
            target.phase = index % target.idle_every
            target.active = False

    @property
    def urgent(self) -> deque[J]:
        return self.lanes[Lane.URGENT]

    @property
    def routine(self) -> deque[J]:
        return self.lanes[Lane.ROUTINE]

    def next_job(self) -> J | int | None:
        """A write, the address to poll next, or None when there is nothing."""
        for lane in (Lane.CALL, Lane.URGENT):
            if self.lanes[lane]:
                return self.lanes[lane].popleft()
        routine_allowed = self.routine_credit >= 0 or not self.targets
        if self.routine and routine_allowed and (self._routine_turn or not self.targets):
            self._routine_turn = False
            return self.routine.popleft()
        address = self._next_poll()
        if address is None:
            return self.routine.popleft() if self.routine else None
        self._routine_turn = True
        return address

    def spent(self, seconds: float, lane: Lane | None) -> None:
        """A frame took `seconds` of the line; lane None for a poll."""
        if lane is Lane.ROUTINE:
            self.routine_credit -= seconds
        else:
            earned = seconds * self.routine_share / (1 - self.routine_share)
            self.routine_credit = min(MAX_ROUTINE_CREDIT_S, self.routine_credit + earned)

    def set_active(self, address: int, active: bool) -> None:
        """A sparse (pad) target that has something to report is polled every cycle."""
        target = self._target(address)
        if target.idle_every > 1:
            target.active = active

    def polls_per_cycle(self) -> float:
        """Polls in one cycle while every target is online: the cycle's share of each target."""
        return sum(1.0 if t.active else 1.0 / t.idle_every for t in self.targets)

    def answered(self, address: int) -> bool:
        """The device answered; True if it just came back online."""
        target = self._target(address)
        came_back = not target.online
        target.online, target.misses_in_row, target.skipped = True, 0, 0
        return came_back

    def missed(self, address: int) -> bool:
        """The device did not answer; True if it just went offline."""
        target = self._target(address)
        target.misses_in_row += 1
        if target.online and target.misses_in_row >= self.offline_after:
            target.online = False
            return True
        return False

    def is_online(self, address: int) -> bool:
        return self._target(address).online

    def _next_poll(self) -> int | None:
        for _ in range(len(self.targets)):
            if self._next >= len(self.targets):
                self._next = 0
                self.cycles += 1
            target = self.targets[self._next]
            self._next += 1
            if not target.online:
                target.skipped += 1
                if target.skipped >= self.offline_poll_every:
                    target.skipped = 0
                    return target.address
            elif target.active or (self.cycles + target.phase) % target.idle_every == 0:
                return target.address
        return None

    def _target(self, address: int) -> PollTarget:
        return next(t for t in self.targets if t.address == address)
