"""A kiosk's payloads: its ticket printer's state and what happened at the kiosk.

Topics: `hall/<id>/<kiosk>/printer/state` (retained) and `hall/<id>/<kiosk>/event`.
Only masked ID numbers appear here; the full number stays inside the kiosk process.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from hall_bus.contract.base import MaskedText, Message


class PrinterPaper(StrEnum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"
    UNKNOWN = "unknown"


class KioskPrinterState(Message):
    """Retained on `hall/<id>/<kiosk>/printer/state`; republished on change and reconnect."""

    ready: bool = Field(description="Online, paper present and cover closed, as the printer said.")
    online: bool | None = Field(description="DLE EOT 1; null when the printer did not answer.")
    paper: PrinterPaper = Field(
        description="DLE EOT 4; `unknown` when it did not answer (never read as OK)."
    )
    cover_open: bool | None = Field(description="DLE EOT 2; null when it did not answer.")
    port: str = Field(description="Where the printer is attached, e.g. /dev/ttyUSB0 or sim.")
    profile: str = Field(description="Printer profile name from the site config.")
    detail: str = Field(description="Chinese first, then English.")


class KioskEventType(StrEnum):
    TICKET_PRINTED = "ticket_printed"
    PRINT_FAILED = "print_failed"
    NOTICE_PRINTED = "notice_printed"
    SCAN_REJECTED = "scan_rejected"


class KioskEvent(Message):
    """Something that happened at a kiosk, on `hall/<id>/<kiosk>/event`; never retained."""

    type: KioskEventType = Field(description="What happened.")
    ticket_id: str | None = Field(default=None, description="The ticket concerned.")
    number: str | None = Field(default=None, description="Its number, e.g. A023.")
    service_id: str | None = Field(default=None, description="Service of the ticket or notice.")
    citizen_masked_id: MaskedText | None = Field(
        default=None, description="Masked ID number read at the kiosk, if any."
    )
    detail: str | None = Field(
        default=None, max_length=300, description="Printer status or why a scan was refused."
    )


# One line per enum value for docs/bus.md; keyed by the enum's schema title.
ENUM_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "KioskEventType": {
        KioskEventType.TICKET_PRINTED: "A ticket was printed and the printer said it is still "
        "ready afterwards.",
        KioskEventType.PRINT_FAILED: "The engine issued a ticket the printer could not print; "
        "the kiosk showed the number and its QR on screen instead.",
        KioskEventType.NOTICE_PRINTED: "A one-time notification sheet (一次性告知单) was printed.",
        KioskEventType.SCAN_REJECTED: "A scan was refused (invalid ID number, unknown code).",
    },
    "PrinterPaper": {
        PrinterPaper.OK: "Paper present.",
        PrinterPaper.NEAR_END: "The near-end sensor says the roll is running out.",
        PrinterPaper.OUT: "No paper: nothing can be printed.",
        PrinterPaper.UNKNOWN: "The printer did not answer; never taken as paper present.",
    },
}
