"""What the line does next: call-triggered writes first, then polls spread with routine writes.

One RS-485 line carries one frame at a time, so the order of frames is the whole policy:

1. urgent writes (a call's strip and hall screen text, a keypad's acknowledgement) go first;
2. then polls, round-robin, so every keypad and pad is asked once per cycle and a press waits at
   most one cycle;
3. routine writes (idle texts, waiting counts) take one slot between two polls, so they neither
   starve nor stretch the poll cycle by more than one frame each;
4. a device that stopped answering is polled only once every `offline_poll_every` cycles, so it
   costs the others one reply timeout per that many cycles instead of one per cycle.

Pure: no I/O and no clock; the daemon reports answers and misses back.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar

J = TypeVar("J")


@dataclass
class PollTarget:
    address: int
    online: bool = True
    misses_in_row: int = 0
    skipped: int = 0


@dataclass
class LineScheduler(Generic[J]):
    poll_addresses: list[int]
    offline_after: int = 3
    offline_poll_every: int = 10
    urgent: deque[J] = field(default_factory=deque)
    routine: deque[J] = field(default_factory=deque)
    targets: list[PollTarget] = field(init=False)
    cycles: int = 0
    _next: int = 0
    _routine_turn: bool = False

    def __post_init__(self) -> None:
        self.targets = [PollTarget(a) for a in self.poll_addresses]

    def next_job(self) -> J | int | None:
        """An urgent or routine job, the address to poll next, or None when there is nothing."""
        if self.urgent:
            return self.urgent.popleft()
        if self.routine and (self._routine_turn or not self.targets):
            self._routine_turn = False
            return self.routine.popleft()
        address = self._next_poll()
        if address is None:
            return self.routine.popleft() if self.routine else None
        self._routine_turn = True
        return address

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
            if target.online:
                return target.address
            target.skipped += 1
            if target.skipped >= self.offline_poll_every:
                target.skipped = 0
                return target.address
        return None

    def _target(self, address: int) -> PollTarget:
        return next(t for t in self.targets if t.address == address)
