"""The hall's big LED screen: the latest calls, waiting counts and a scrolling notice."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from hall_bus.contract import QueueSummaryState


@dataclass
class HallScreen:
    """What the screen should show, rebuilt from calls and the retained queue summary."""

    call_rows: int = 4
    notice: str = ""
    calls: deque[str] = field(default_factory=deque)
    waiting_line: str = ""

    def called(self, number: str, window_number: int) -> None:
        line = f"{number}→{window_number}号窗口"
        if line in self.calls:
            self.calls.remove(line)
        self.calls.appendleft(line)
        while len(self.calls) > self.call_rows:
            self.calls.pop()

    def summary(self, state: QueueSummaryState) -> None:
        busy = [s for s in state.services if s.waiting]
        self.waiting_line = "等候: " + (
            " ".join(f"{s.prefix}{s.waiting}" for s in busy) if busy else "无"
        )

    def lines(self) -> tuple[str, ...]:
        rows = list(self.calls) or ["欢迎光临"]
        rows.append(self.waiting_line or "等候: 无")
        if self.notice:
            rows.append(self.notice)
        return tuple(rows)
