"""Configuration of the site's kiosks: their printer, scanners, ticket QR link and screens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from firmware_config.printer_profile import PrinterProfile
from firmware_config.usb_identity import UsbIdentity
from hall_bus.contract.base import Name

if TYPE_CHECKING:
    from firmware_config.site import SiteConfig


class ScannerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str = Field(
        description="Glob of the scanner's event device, e.g. "
        "/dev/input/by-id/usb-*Scanner*-event-kbd; `sim` for the scriptable simulated scanner."
    )
    layout: Literal["us", "de"] = Field(default="us", description="Keyboard layout it types in.")
    max_gap_ms: float = Field(
        default=50, gt=0, le=1000, description="Slower typing is a person, not this scanner."
    )
    usb: UsbIdentity | None = Field(
        default=None, description="USB identity for the udev name /dev/hall/scanner-<kiosk>."
    )


class KioskConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name = Field(description="Bus node name of the kiosk, e.g. kiosk1.")
    printer_port: str = Field(
        default="sim",
        description="`sim` (the simulated printer), /dev/ttyUSB0, serial:/dev/ttyS1?baud=19200, "
        "usb:/dev/usb/lp0 or tcp://192.168.1.50:9100.",
    )
    printer: PrinterProfile = Field(default_factory=PrinterProfile)
    printer_usb: UsbIdentity | None = Field(
        default=None, description="USB identity for the udev name /dev/hall/printer-<kiosk id>."
    )
    scanners: list[ScannerConfig] = Field(
        default_factory=lambda: [ScannerConfig(device="sim")],
        description="QR/barcode scanners and ID-card readers that type like keyboards.",
    )
    ticket_url_template: str = Field(
        default="https://hall.example.cn/q/{hall_id}/{ticket_id}",
        description="Link in the ticket's QR code to follow the queue on a phone; "
        "`{ticket_id}` is required, `{hall_id}` and `{number}` are optional.",
    )
    help_window: Name | None = Field(
        default=None,
        description="Window to send citizens to when the kiosk cannot print or the queue is "
        "unreachable; none: the enquiry desk.",
    )
    notice_zh: str = Field(
        default="请留意叫号，过号请到综合咨询台。", max_length=60, description="Printed on tickets."
    )
    notice_en: str = Field(default="Please listen for your number.", max_length=80)
    idle_timeout_s: float = Field(
        default=60, ge=10, le=3600, description="Back to the home screen after this long idle."
    )
    fullscreen: bool = Field(default=True, description="Kiosk mode: full screen, no frame.")

    @field_validator("ticket_url_template")
    @classmethod
    def _has_ticket_id(cls, value: str) -> str:
        if "{ticket_id}" not in value:
            raise ValueError("ticket_url_template must contain {ticket_id}")
        try:
            value.format(ticket_id="x", hall_id="x", number="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"ticket_url_template: bad placeholder ({exc})") from exc
        return value


def check_kiosks(site: SiteConfig) -> None:
    window_ids = {w.id for w in site.windows}
    seen: set[str] = set()
    ports: set[str] = set()
    for index, kiosk in enumerate(site.kiosks):
        if kiosk.id in seen:
            raise ValueError(f"kiosks.{index}.id: duplicate {kiosk.id!r}")
        seen.add(kiosk.id)
        if kiosk.help_window is not None and kiosk.help_window not in window_ids:
            raise ValueError(f"kiosks.{index}.help_window: unknown window {kiosk.help_window!r}")
        if kiosk.printer_port != "sim":
            if kiosk.printer_port in ports:
                raise ValueError(f"kiosks.{index}.printer_port: {kiosk.printer_port} used twice")
            ports.add(kiosk.printer_port)
