"""The evaluation pad at a window (好差评): its keys, screens and the rating conversation.

The pad is a dumb terminal on the reference protocol: it shows what it is told and reports key
presses. `PadSession` holds the conversation for one pad, with no I/O and an injected clock:

    idle (亮证上岗: staff name, number, photo)
      --ticket finished--> prompt "请对我的服务进行评价" with the five levels
      --level 1..3--> rated, thanks, idle
      --level 4..5--> ask a reason from the configured list --reason--> rated, thanks, idle
      --timeout--> unrated, idle

One rating per ticket: once a ticket is rated or timed out, its session is over. Presses closer
together than `min_interval_s` to the last accepted one are ignored (a finger resting on the pad,
or a child drumming on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from hall_bus.contract import RatingLevel

PROMPT = "请对我的服务进行评价"
REASON_PROMPT = "请选择不满意的原因"
THANKS = "感谢您的评价"
LEVELS = list(RatingLevel)  # best first, as the pad's keys 1..5


class PadKey(IntEnum):
    LEVEL_1 = 0x11  # 非常满意
    LEVEL_2 = 0x12
    LEVEL_3 = 0x13
    LEVEL_4 = 0x14
    LEVEL_5 = 0x15  # 非常不满意
    REASON_BASE = 0x20  # 0x21.. = reason 1..


class PadMode(StrEnum):
    IDLE = "idle"
    PROMPT = "prompt"
    REASON = "reason"


@dataclass(frozen=True)
class Rating:
    """A finished conversation: a level (and reason), or None when the citizen did not rate."""

    ticket_id: str
    level: RatingLevel | None
    reason: str | None = None


@dataclass
class PadSession:
    reasons: list[str]
    timeout_s: float = 30.0
    min_interval_s: float = 0.5
    mode: PadMode = PadMode.IDLE
    ticket_id: str | None = None
    number: str | None = None
    level: RatingLevel | None = None
    prompted_at: float = 0.0
    last_press_at: float = -1e9
    done_tickets: set[str] = field(default_factory=set)

    def ticket_finished(self, ticket_id: str, number: str, now: float) -> bool:
        """Start asking for a rating; False if this ticket was already rated or asked for."""
        if ticket_id in self.done_tickets or ticket_id == self.ticket_id:
            return False
        self.mode, self.ticket_id, self.number, self.level = PadMode.PROMPT, ticket_id, number, None
        self.prompted_at = now
        return True

    def press(self, key: int, now: float) -> Rating | None:
        """Handle one key; returns the rating when the conversation ends with one."""
        if now - self.last_press_at < self.min_interval_s or self.ticket_id is None:
            return None
        if self.mode is PadMode.PROMPT and PadKey.LEVEL_1 <= key <= PadKey.LEVEL_5:
            self.last_press_at = now
            level = LEVELS[key - PadKey.LEVEL_1]
            if level.is_bad and self.reasons:
                self.mode, self.level, self.prompted_at = PadMode.REASON, level, now
                return None
            return self._finish(level, None)
        reason_index = key - PadKey.REASON_BASE - 1
        if self.mode is PadMode.REASON and 0 <= reason_index < len(self.reasons):
            self.last_press_at = now
            return self._finish(self.level, self.reasons[reason_index])
        return None

    def tick(self, now: float) -> Rating | None:
        """Time out a prompt nobody answered: recorded as unrated."""
        if self.mode is not PadMode.IDLE and now - self.prompted_at >= self.timeout_s:
            return self._finish(None, None)
        return None

    def screen(self) -> tuple[str, ...]:
        """What the pad shows in its current mode (idle is drawn by the IDLE command)."""
        if self.mode is PadMode.PROMPT:
            # The five level keys carry printed labels; the screen names the ticket being rated.
            return (PROMPT, f"{self.number} 号")
        if self.mode is PadMode.REASON:
            reasons = " ".join(f"{i}.{r}" for i, r in enumerate(self.reasons, 1))
            return (REASON_PROMPT, reasons)
        return ()

    def _finish(self, level: RatingLevel | None, reason: str | None) -> Rating:
        assert self.ticket_id is not None
        rating = Rating(self.ticket_id, level, reason)
        self.done_tickets.add(self.ticket_id)
        if len(self.done_tickets) > 1000:
            self.done_tickets = {self.ticket_id}
        self.mode, self.ticket_id, self.number, self.level = PadMode.IDLE, None, None, None
        return rating


def idle_payload(staff_id: str, name: str, photo_id: str) -> bytes:
    """Payload of the IDLE command: staff number and photo id (ASCII, NUL-ended), GBK name."""
    return staff_id.encode("ascii") + b"\x00" + photo_id.encode("ascii") + b"\x00" + \
        name.encode("gbk", errors="replace")


def decode_idle_payload(payload: bytes) -> tuple[str, str, str]:
    staff, photo, name = payload.split(b"\x00", 2)
    return staff.decode("ascii"), name.decode("gbk", errors="replace"), photo.decode("ascii")
