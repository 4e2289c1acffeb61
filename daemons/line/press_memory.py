"""What the line daemon remembers about each keypad's and pad's last press, across restarts.

A device repeats an unacknowledged press (same seq) on every poll. Before a press goes to the
engine its request id is written here, and its acknowledgement once answered, so that a daemon
restarted in between sends the same request id again (the engine answers from its request log)
or the stored acknowledgement: a press is executed once even across a restart. A record counts
only for `REPEAT_WINDOW_S`: a keypad that was power-cycled starts its seq again, and its new press
with an old seq must not be mistaken for a repeat.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hall_bus.ids import id_time_ms

log = logging.getLogger("hall.line.presses")

REPEAT_WINDOW_S = 120.0
# The highest attempt number a request may carry (hall_bus.contract.base.Request.attempt).
MAX_ATTEMPT = 10000


@dataclass
class PressRecord:
    seq: int
    at: float  # wall clock: it must survive a restart
    action: str | None = None
    fields: dict[str, Any] | None = None
    request_id: str | None = None
    ack: tuple[int, int, str] | None = None  # result, beep, text

    def repeats(self, seq: int, now: float | None = None) -> bool:
        return seq == self.seq and (now or time.time()) - self.at < REPEAT_WINDOW_S


def resend_attempt(request_id: str, now: float | None = None) -> int:
    """The attempt number to send a press's request with now: tenths of a second since its id was
    made. The engine answers a higher attempt of an executed request again and drops an equal one
    as a redelivered copy, so each send must go above every earlier one of the same id, including
    those of the daemon before a restart, which kept no count."""
    made_ms = id_time_ms(request_id)
    if made_ms is None:
        return 1
    elapsed_ms = (time.time() if now is None else now) * 1000 - made_ms
    return min(MAX_ATTEMPT, 1 + max(0, int(elapsed_ms // 100)))


class PressMemory:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.records: dict[str, PressRecord] = {}
        self._warned = False

    def load(self) -> dict[str, PressRecord]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            self.records = {
                device: PressRecord(**{**entry, "ack": tuple(entry["ack"]) if entry.get("ack")
                                       else None})
                for device, entry in raw.items()
            }
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("按键记录无法读取，已忽略 / press memory %s unreadable, ignored: %s",
                        self.path, exc)
            self.records = {}
        return dict(self.records)

    def save(self, device_id: str, record: PressRecord) -> None:
        self.records[device_id] = record
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("w", encoding="utf-8") as out:
                json.dump({d: asdict(r) for d, r in self.records.items()}, out, ensure_ascii=False)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(self.path)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("按键记录无法保存，仅保存在内存 / cannot write press memory %s: %s",
                            self.path, exc)
