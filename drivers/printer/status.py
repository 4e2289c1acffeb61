"""Decoding ESC/POS real-time status (DLE EOT) replies. Pure: bytes in, a status out.

Every reply byte has bit 1 and bit 4 set and bits 0 and 7 clear; a byte that does not is not a
status reply (line noise, or data from another command) and is treated as no reply. No reply
means "unknown" — never "paper OK".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PaperState(StrEnum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PrinterStatus:
    online: bool | None  # None: the printer did not answer
    paper: PaperState
    cover_open: bool | None

    @property
    def ready(self) -> bool:
        """Only a printer that said it is online, has paper and a closed cover is ready."""
        return (
            self.online is True
            and self.paper in (PaperState.OK, PaperState.NEAR_END)
            and self.cover_open is False
        )

    def describe(self) -> str:
        if self.online is None:
            return "打印机无应答 / printer not answering"
        if self.cover_open:
            return "打印机盖未关 / printer cover open"
        if self.paper is PaperState.OUT:
            return "打印机缺纸 / printer out of paper"
        if not self.online:
            return "打印机离线 / printer offline"
        if self.paper is PaperState.NEAR_END:
            return "打印纸将尽 / paper near end"
        return "打印机正常 / printer ready"


UNKNOWN = PrinterStatus(online=None, paper=PaperState.UNKNOWN, cover_open=None)


def is_status_byte(value: int) -> bool:
    return value & 0b1001_0011 == 0b0001_0010


def decode(printer: int | None, offline_cause: int | None, paper: int | None) -> PrinterStatus:
    """Combine the replies to DLE EOT 1, 2 and 4 (None where nothing valid came back)."""
    printer = printer if printer is not None and is_status_byte(printer) else None
    offline_cause = (
        offline_cause if offline_cause is not None and is_status_byte(offline_cause) else None
    )
    paper = paper if paper is not None and is_status_byte(paper) else None
    online = None if printer is None else not printer & 0x08
    cover_open = None if offline_cause is None else bool(offline_cause & 0x04)
    if paper is None:
        paper_state = PaperState.UNKNOWN
    elif paper & 0x60:
        paper_state = PaperState.OUT
    elif paper & 0x0C:
        paper_state = PaperState.NEAR_END
    else:
        paper_state = PaperState.OK
    # Paper-out also stops printing (DLE EOT 2 bit 5) on printers without a roll sensor reply.
    if paper_state is PaperState.UNKNOWN and offline_cause is not None and offline_cause & 0x20:
        paper_state = PaperState.OUT
    return PrinterStatus(online=online, paper=paper_state, cover_open=cover_open)
