"""The kiosk's ticket printer: its driver (or the simulator), the ticket texts, its bus state.

The printer's status is polled in the background and published retained as the kiosk's
`printer/state`, so the hall manager sees "paper near end" before it becomes "paper out".
"""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path

from drivers.printer.simulator import PrinterSimulator, PtyPrinter
from drivers.printer.status import PrinterStatus
from drivers.printer.ticket_layout import (
    NoticeSheet,
    TicketContent,
    render_notice_sheet,
    render_ticket,
)
from drivers.printer.ticket_printer import PrintFailed, PrintResult, TicketPrinter
from firmware_config.catalogue import ServiceGuide
from firmware_config.kiosk import KioskConfig
from firmware_config.site import SiteConfig
from hall_bus.client import BusClient
from hall_bus.contract import TicketView, channels
from hall_bus.contract.kiosk import KioskEvent, KioskEventType, KioskPrinterState, PrinterPaper
from hall_bus.ids import utc_now
from kiosk.ticketing import local_time_text

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 5.0

__all__ = ["KioskPrinter", "PrintFailed", "PrintResult"]


class KioskPrinter:
    def __init__(self, site: SiteConfig, kiosk: KioskConfig, bus: BusClient | None,
                 receipts_dir: Path | None = None) -> None:
        self.site = site
        self.kiosk = kiosk
        self.bus = bus
        self.simulator: PrinterSimulator | None = None
        self._pty: PtyPrinter | None = None
        port = kiosk.printer_port
        if port == "sim":
            folder = receipts_dir or Path(tempfile.mkdtemp(prefix="hall-receipts-"))
            self.simulator = PrinterSimulator(kiosk.printer.dots_per_line,
                                              kiosk.printer.encoding, folder)
            self._pty = PtyPrinter(self.simulator).start()
            port = self._pty.path
            log.info("kiosk %s: simulated printer on %s, receipts in %s", kiosk.id, port, folder)
        self.driver = TicketPrinter(port, kiosk.printer)
        self._published: KioskPrinterState | None = None
        self._stopping = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kiosk-printer", daemon=True)

    def start(self) -> None:
        self._poller.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._poller.is_alive():
            self._poller.join(timeout=3)
        self.driver.stop()
        if self._pty is not None:
            self._pty.stop()

    def print_ticket(self, ticket: TicketView, people_ahead: int | None,
                     wait_s: int | None, qr_url: str) -> PrintResult:
        content = TicketContent(
            hall_name=self.site.name_zh,
            number=ticket.number,
            service_name=ticket.service_name,
            people_ahead=people_ahead,
            estimated_wait_min=None if wait_s is None else round(wait_s / 60),
            issued_at=local_time_text(ticket.issued_at, self.site),
            window_hint=self.window_hint(ticket.service_id),
            qr_url=qr_url,
            notice=f"{self.kiosk.notice_zh} {self.kiosk.notice_en}",
        )
        try:
            result = self.driver.print_job(render_ticket(content, self.kiosk.printer))
        except PrintFailed as failure:
            self._publish_status(failure.status)
            self._event(KioskEventType.PRINT_FAILED, ticket, str(failure))
            raise
        self._publish_status(result.status_after)
        self._event(KioskEventType.TICKET_PRINTED, ticket, None)
        return result

    def print_notice(self, guide: ServiceGuide, service_name: str) -> PrintResult:
        materials = [
            f"{m.name_zh}" + (f"（{m.note_zh}）" if m.note_zh else "") for m in guide.materials
        ] or ["无需材料 / Nothing to bring"]
        limit = f"承诺 {guide.promised_limit_zh}"
        if guide.statutory_limit_zh:
            limit += f"；法定 {guide.statutory_limit_zh}"
        sheet = NoticeSheet(
            hall_name=self.site.name_zh,
            service_name=service_name,
            materials=materials,
            time_limit=limit,
            fees=guide.fees_zh,
            legal_basis=[b.zh for b in guide.legal_basis] or ["—"],
            issued_at=local_time_text(utc_now(), self.site),
            footer="材料齐全即可受理，不再要求补充其他材料。",
        )
        try:
            result = self.driver.print_job(render_notice_sheet(sheet, self.kiosk.printer))
        except PrintFailed as failure:
            self._publish_status(failure.status)
            raise
        self._publish_status(result.status_after)
        if self.bus is not None:
            self.bus.publish_to(channels.KIOSK_EVENT, KioskEvent(
                type=KioskEventType.NOTICE_PRINTED, service_id=guide.service), kiosk=self.kiosk.id)
        return result

    def window_hint(self, service_id: str) -> str:
        numbers = [str(w.number) for w in self.site.windows
                   if any(s.service == service_id for s in w.services)]
        return f"请留意叫号，到 {'、'.join(numbers)} 号窗口办理"

    def _event(self, kind: KioskEventType, ticket: TicketView, detail: str | None) -> None:
        if self.bus is None:
            return
        self.bus.publish_to(channels.KIOSK_EVENT, KioskEvent(
            type=kind, ticket_id=ticket.ticket_id, number=ticket.number,
            service_id=ticket.service_id, citizen_masked_id=ticket.citizen_masked_id,
            detail=detail,
        ), kiosk=self.kiosk.id)

    def _poll(self) -> None:
        while not self._stopping.is_set():
            try:
                self._publish_status(self.driver.status())
            except Exception:
                log.exception("printer status poll failed")
            self._stopping.wait(POLL_INTERVAL_S)

    def _publish_status(self, status: PrinterStatus) -> None:
        state = KioskPrinterState(
            ready=status.ready, online=status.online, paper=PrinterPaper(status.paper.value),
            cover_open=status.cover_open, port=self.kiosk.printer_port,
            profile=self.kiosk.printer.name, detail=status.describe(),
        )
        previous = self._published
        self._published = state
        same = previous is not None and previous.model_dump(exclude={"id", "ts"}) == \
            state.model_dump(exclude={"id", "ts"})
        if self.bus is not None and not same:
            self.bus.publish_to(channels.KIOSK_PRINTER_STATE, state, kiosk=self.kiosk.id)
