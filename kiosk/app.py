"""The kiosk window: screens, what a touch or a scan does, language, elderly mode, idle reset.

Work that waits (the engine, the printer) runs on one worker thread, one citizen's request at a
time; its result comes back to the GUI thread through a queued Qt signal. Service buttons cannot
start a second request while one is in flight, and a request the broker swallowed is re-sent
with the same id, so a citizen never gets two tickets for one touch.
"""

from __future__ import annotations

import html
import logging
import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QHBoxLayout, QStackedWidget, QVBoxLayout, QWidget

from drivers.printer.ticket_printer import PrintFailed
from drivers.scanner import id_card
from firmware_config.catalogue import guide_for
from firmware_config.kiosk import KioskConfig
from firmware_config.site import SiteConfig
from hall_bus.contract import CheckInRequest
from kiosk import pages
from kiosk.printing import KioskPrinter
from kiosk.strings import Language, text
from kiosk.ticketing import (
    Outcome,
    OutcomeKind,
    PendingRequest,
    TicketDesk,
)

log = logging.getLogger(__name__)

RETRY_INTERVAL_MS = 3000
PRINTER_CHECK_MS = 1000
ELDERLY_SCALE = 1.5
_USER_INPUT = {QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin, QEvent.Type.KeyPress}


@dataclass(frozen=True)
class NoticeResult:
    service_id: str
    error: str | None


@dataclass(frozen=True)
class Attempt:
    pending: PendingRequest
    outcome: Outcome
    print_error: str | None = None


class _Relay(QObject):
    """Wakes the GUI thread for worker results and scans (queued connections).

    Results travel through a queue, not as signal arguments: a Python object carried by a
    queued `Signal(object)` corrupted reference counts under load with PySide6 6.12.
    """

    finished = Signal()
    scanned = Signal(str)
    catalogue = Signal()  # the desk's site has new service names


class KioskWindow(QWidget):
    def __init__(
        self,
        site: SiteConfig,
        kiosk: KioskConfig,
        desk: TicketDesk,
        printer: KioskPrinter,
        voice_prompt: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("kiosk")
        self.site = site
        self.kiosk = kiosk
        self.desk = desk
        self.printer = printer
        self.voice_prompt = voice_prompt
        self.language: Language = "zh"
        self.elderly = False
        self.allow_close = False
        self._service_id: str | None = None
        self._masked_id: str | None = None
        self._pending: PendingRequest | None = None
        self._in_flight = False
        self._home_status: tuple[str, dict[str, object]] | None = None
        self._shown: Attempt | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-work")
        self._relay = _Relay(self)  # owned by the window: deleted with it, in Qt's order
        self._results: queue.SimpleQueue[Attempt | NoticeResult] = queue.SimpleQueue()
        self._relay.finished.connect(self._drain_results, Qt.ConnectionType.QueuedConnection)
        self._relay.scanned.connect(self.on_scan, Qt.ConnectionType.QueuedConnection)
        self._relay.catalogue.connect(self._take_catalogue, Qt.ConnectionType.QueuedConnection)
        desk.on_catalogue = self._relay.catalogue.emit
        self.site = desk.site  # a catalogue may have arrived before the window existed
        self._build()
        self.idle_timer = QTimer(self)
        self.idle_timer.setSingleShot(True)
        self.idle_timer.setInterval(round(kiosk.idle_timeout_s * 1000))
        self.idle_timer.timeout.connect(self._on_idle)
        self.retry_timer = QTimer(self)
        self.retry_timer.setSingleShot(True)
        self.retry_timer.setInterval(RETRY_INTERVAL_MS)
        self.retry_timer.timeout.connect(self.retry)
        # The printer is polled on its own thread; the screen only reads its last answer.
        self.printer_timer = QTimer(self)
        self.printer_timer.setInterval(PRINTER_CHECK_MS)
        self.printer_timer.timeout.connect(self.retranslate_printer)
        self.printer_timer.start(PRINTER_CHECK_MS)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self._apply_style()
        self.retranslate()
        self.show_page("home")

    # --- building ---------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.hall_label = pages.label("hall-name", "subtitle")
        self.language_button = pages.big_button("language")
        self.elderly_button = pages.big_button("elderly")
        top.addWidget(self.hall_label, 1)
        top.addWidget(self.elderly_button)
        top.addWidget(self.language_button)
        layout.addLayout(top)
        self.stack = QStackedWidget()
        layout.addWidget(self.stack, 1)
        self.home = pages.HomePage([s.id for s in self.site.services])
        self.guide = pages.GuidePage()
        self.ticket = pages.TicketPage("ticket")
        self.printer_error = pages.TicketPage("printer-error")
        self.busy = pages.MessagePage("busy")
        self.broker_away = pages.MessagePage("broker-away", with_retry=True)
        self.refused = pages.MessagePage("refused")
        self._pages: dict[str, QWidget] = {
            "home": self.home, "guide": self.guide, "ticket": self.ticket,
            "printer_error": self.printer_error, "busy": self.busy,
            "broker_away": self.broker_away, "refused": self.refused,
        }
        for page in self._pages.values():
            self.stack.addWidget(page)
        self.busy.back.hide()
        self.broker_away.back.hide()  # leaving would orphan a request that may still succeed
        self.language_button.clicked.connect(self.toggle_language)
        self.elderly_button.clicked.connect(lambda: self.set_elderly(not self.elderly))
        for service_id, button in self.home.services.items():
            button.clicked.connect(lambda _=False, s=service_id: self.choose_service(s))
        self.guide.back.clicked.connect(self.reset_to_home)
        self.guide.take.clicked.connect(self.take_ticket)
        self.guide.notice.clicked.connect(self.print_notice)
        self.ticket.done.clicked.connect(self.reset_to_home)
        self.printer_error.done.clicked.connect(self.reset_to_home)
        self.refused.back.clicked.connect(self.reset_to_home)
        assert self.broker_away.retry is not None
        self.broker_away.retry.clicked.connect(self.retry)

    # --- state --------------------------------------------------------------------------------

    def page_name(self) -> str:
        current = self.stack.currentWidget()
        return next(name for name, page in self._pages.items() if page is current)

    def show_page(self, name: str) -> None:
        self.stack.setCurrentWidget(self._pages[name])
        self.language_button.setEnabled(name not in ("busy", "broker_away"))
        self.elderly_button.setEnabled(name not in ("busy", "broker_away"))
        self.idle_timer.start()

    def toggle_language(self) -> None:
        self.set_language("en" if self.language == "zh" else "zh")

    def set_language(self, language: Language) -> None:
        self.language = language
        self.retranslate()

    def set_elderly(self, on: bool) -> None:
        """Larger text, and a touch on a service takes the ticket at once (no guide page)."""
        self.elderly = on
        self.home.set_columns(2 if on else 3)
        self._apply_style()
        self.retranslate()
        if on:
            self._speak(text("welcome", self.language))

    def reset_to_home(self) -> None:
        self._service_id = None
        self._masked_id = None
        self._home_status = None
        self._shown = None
        self.show_page("home")
        self.retranslate()

    def _on_idle(self) -> None:
        if self.page_name() in ("busy", "broker_away"):
            self.idle_timer.start()  # a request is in progress; the screen must not vanish
            return
        if self.page_name() == "home" and self.language == "zh" and not self.elderly:
            return
        log.info("kiosk %s idle: back to the home screen", self.kiosk.id)
        self.language = "zh"
        self.elderly = False
        self.home.set_columns(3)
        self._apply_style()
        self.reset_to_home()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _USER_INPUT:
            self.idle_timer.start()
        return False

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.allow_close:
            self._worker.shutdown(wait=False, cancel_futures=True)
            event.accept()
        else:
            event.ignore()  # kiosk mode: no way out by touch

    # --- citizen actions ------------------------------------------------------------------------

    def choose_service(self, service_id: str) -> None:
        if self._in_flight:
            return
        self._service_id = service_id
        if self.elderly:
            self.take_ticket()
            return
        self.guide.status.setText("")
        self.show_page("guide")
        self.retranslate()

    def take_ticket(self) -> None:
        if self._in_flight or self._service_id is None:
            return
        self._start(self.desk.take_ticket(self._service_id, masked_id=self._masked_id))

    def print_notice(self) -> None:
        """Print the one-time notification sheet of the service on screen (on the worker)."""
        guide = guide_for(self.site, self._service_id or "")
        service = self.site.service(self._service_id or "")
        if guide is None or service is None or self._in_flight:
            return
        self._in_flight = True
        self.guide.status.setText("")

        def work() -> None:
            try:
                self.printer.print_notice(guide, f"{service.name_zh} {service.name_en}")
                result = NoticeResult(service.id, None)
            except PrintFailed as failure:
                result = NoticeResult(service.id, str(failure))
            except Exception as exc:
                log.exception("notice printing failed")
                result = NoticeResult(service.id, str(exc))
            self._results.put(result)
            self._relay.finished.emit()

        self._worker.submit(work)

    @Slot(str)
    def on_scan(self, scanned: str) -> None:
        """A scanner read something: an ID card number or an appointment code/QR link."""
        if self._in_flight or self.page_name() not in ("home", "guide", "ticket", "refused"):
            log.info("kiosk %s: scan ignored while busy", self.kiosk.id)
            return
        if id_card.looks_like_id_number(scanned):
            try:
                number = id_card.validate(scanned)
            except id_card.InvalidIdNumber as exc:
                log.info("kiosk %s: ID card rejected: %s", self.kiosk.id, exc)
                self.desk.report_rejected_scan(f"身份证号码无效 / invalid ID number: {exc}")
                self._set_home_status("id_invalid")
                return
            # Only the masked form is kept; the full number ends its life in this function
            # (or, hashed under the hall's key, in the check-in request built from it).
            self._masked_id = id_card.mask(number)
            if not self.desk.checks_in_by_id:
                self._set_home_status("id_read", masked=self._masked_id)
                return
            self._start(self.desk.check_in_by_id(number))
            return
        code = appointment_code(scanned)
        if code is None:
            log.info("kiosk %s: scan of %d characters is not an appointment", self.kiosk.id,
                     len(scanned))
            self.desk.report_rejected_scan("无法识别的条码 / not an appointment code")
            return
        self._start(self.desk.check_in(code))

    def deliver_scan(self, scanned: str) -> None:
        """Thread-safe entry for scanner threads."""
        self._relay.scanned.emit(scanned)

    def retry(self) -> None:
        if self._pending is None or self._in_flight:
            return
        if self._pending.certainly_dead():
            # The engine refuses a request past its deadline: this one can no longer be issued.
            log.warning("kiosk %s: gave up request %s", self.kiosk.id, self._pending.request.id)
            self._pending = None
            self.reset_to_home()
            self._set_home_status("broker_away_title")
            return
        self._submit(self._pending)

    # --- work ---------------------------------------------------------------------------------

    def _start(self, pending: PendingRequest) -> None:
        self._pending = pending
        self.show_page("busy")
        self.retranslate()
        self._submit(pending)

    def _submit(self, pending: PendingRequest) -> None:
        self._in_flight = True
        self._worker.submit(self._work, pending)

    def _work(self, pending: PendingRequest) -> None:
        try:
            outcome = self.desk.send(pending)
            print_error = None
            if outcome.kind is OutcomeKind.ISSUED and outcome.ticket is not None:
                try:
                    self.printer.print_ticket(outcome.ticket, outcome.people_ahead,
                                              outcome.estimated_wait_s,
                                              self.desk.ticket_url(outcome.ticket))
                except PrintFailed as failure:
                    print_error = str(failure)
            attempt = Attempt(pending, outcome, print_error)
        except Exception as exc:  # never leave the screen spinning
            log.exception("kiosk request failed")
            attempt = Attempt(pending, Outcome(OutcomeKind.UNREACHABLE, message=str(exc)))
        self._results.put(attempt)
        self._relay.finished.emit()

    @Slot()
    def _drain_results(self) -> None:
        while True:
            try:
                result = self._results.get_nowait()
            except queue.Empty:
                return
            if isinstance(result, NoticeResult):
                self._in_flight = False
                self.guide.status.setText(
                    text("notice_printed", self.language) if result.error is None
                    else result.error)
            else:
                self._on_finished(result)

    def _on_finished(self, attempt: Attempt) -> None:
        self._in_flight = False
        outcome = attempt.outcome
        if outcome.kind is OutcomeKind.UNREACHABLE:
            self.show_page("broker_away")
            self.retranslate()
            self.retry_timer.start()
            return
        self._pending = None
        self.retry_timer.stop()
        if outcome.kind is OutcomeKind.REFUSED and outcome.code == "unknown_appointment" \
                and _by_id_card(attempt.pending) and self._masked_id is not None:
            # No booking for this card: a walk-in, whose masked ID goes with the ticket taken.
            self.show_page("home")
            self._set_home_status("id_no_appointment", masked=self._masked_id)
            return
        self._shown = attempt
        if outcome.kind is OutcomeKind.REFUSED:
            self.show_page("refused")
        elif attempt.print_error is None:
            self.show_page("ticket")
        else:
            self.show_page("printer_error")
        self.retranslate()
        if outcome.ticket is not None:
            self._speak(f"{text('your_number', self.language)} {outcome.ticket.number}")

    def _speak(self, phrase: str) -> None:
        if self.voice_prompt is not None and self.elderly:
            self.voice_prompt(phrase)

    def _set_home_status(self, key: str, **values: object) -> None:
        self._home_status = (key, values)
        self.retranslate()

    # --- texts --------------------------------------------------------------------------------

    def _apply_style(self) -> None:
        self.setStyleSheet(pages.stylesheet(ELDERLY_SCALE if self.elderly else 1.0))

    def _where_to_go(self) -> str:
        window = self.site.window(self.kiosk.help_window or "")
        if window is None:
            return text("help_desk", self.language)
        return text("window_n", self.language, n=window.number)

    def _take_catalogue(self) -> None:
        self.site = self.desk.site
        self.retranslate()

    def retranslate(self) -> None:
        lang = self.language
        self.hall_label.setText(self.site.name_zh if lang == "zh" else self.site.name_en)
        self.language_button.setText(text("switch_language", lang))
        self.elderly_button.setText(text("elderly_off" if self.elderly else "elderly_on", lang))
        self.home.title.setText(text("welcome", lang))
        self.home.hint.setText(text("scan_hint", lang))
        self.home.status.setText(
            "" if self._home_status is None
            else text(self._home_status[0], lang, **self._home_status[1])
        )
        for service in self.site.services:
            self.home.services[service.id].setText(
                service.name_zh if lang == "zh" else pages.two_lines(service.name_en))
        self._retranslate_guide(lang)
        self.retranslate_printer()
        self.busy.title.setText(text("busy", lang))
        self.busy.body.setText("")
        self.broker_away.title.setText(text("broker_away_title", lang))
        self.broker_away.body.setText(text("broker_away_body", lang, where=self._where_to_go()))
        assert self.broker_away.retry is not None
        self.broker_away.retry.setText(text("retry", lang))
        self.refused.title.setText(text("refused_title", lang))
        self.refused.back.setText(text("back", lang))
        if self._shown is not None:
            self.refused.body.setText(self._shown.outcome.message)
            self._retranslate_ticket(self.ticket, self._shown, lang)
            self._retranslate_ticket(self.printer_error, self._shown, lang)

    def retranslate_printer(self) -> None:
        status = self.printer.driver.last_status
        # Silence from a printer that should answer is trouble; a profile without status
        # answers prints blind, so it is not announced as paused.
        paused = self.kiosk.printer.answers_status and not status.ready
        self.home.printer_notice.setText(text("printer_paused", self.language) if paused else "")
        self.home.printer_notice.setVisible(paused)

    def _retranslate_guide(self, lang: Language) -> None:
        self.guide.back.setText(text("back", lang))
        self.guide.take.setText(text("take_ticket", lang))
        self.guide.notice.setText(text("print_notice", lang))
        service = self.site.service(self._service_id or "")
        if service is None:
            return
        self.guide.title.setText(service.name_zh if lang == "zh" else service.name_en)
        guide = guide_for(self.site, service.id)
        self.guide.notice.setVisible(guide is not None)
        self.guide.body.setText("" if guide is None else guide_html(guide, lang))

    def _retranslate_ticket(self, page: pages.TicketPage, attempt: Attempt,
                            lang: Language) -> None:
        ticket = attempt.outcome.ticket
        if ticket is None:
            return
        service = self.site.service(ticket.service_id)
        page.caption.setText(text("your_number", lang))
        page.number.setText(ticket.number)
        page.service.setText(
            ticket.service_name if service is None or lang == "zh" else service.name_en)
        details = []
        if attempt.outcome.people_ahead is not None:
            details.append(text("people_ahead", lang, n=attempt.outcome.people_ahead))
        if attempt.outcome.estimated_wait_s is not None:
            details.append(text("estimated_wait", lang,
                                m=round(attempt.outcome.estimated_wait_s / 60)))
        if ticket.appointment_code is not None and ticket.citizen_masked_id is not None:
            details.append(text("checked_in_id", lang, masked=ticket.citizen_masked_id))
        page.details.setText("    ".join(details))
        page.qr.setPixmap(pages.qr_pixmap(self.desk.ticket_url(ticket)))
        page.qr_caption.setText(text("scan_to_follow", lang))
        page.done.setText(text("done", lang))
        if page is self.printer_error:
            page.title.setText(text("printer_error_title", lang))
            page.message.setText(text("printer_error_body", lang, where=self._where_to_go()))
        else:
            page.title.setText(self.site.name_zh if lang == "zh" else self.site.name_en)
            page.message.setText(text("take_receipt", lang))


def guide_html(guide: object, lang: Language) -> str:
    from firmware_config.catalogue import ServiceGuide

    assert isinstance(guide, ServiceGuide)
    zh = lang == "zh"
    esc = html.escape
    parts = [f"<p>{esc(guide.summary_zh if zh else guide.summary_en)}</p>",
             f"<h3>{esc(text('materials', lang))}</h3>"]
    if guide.materials:
        items = []
        for material in guide.materials:
            name = material.name_zh if zh else material.name_en
            note = material.note_zh if zh else material.note_en
            items.append(f"<li>{esc(name)}{'（' + esc(note) + '）' if note else ''}</li>")
        parts.append("<ol>" + "".join(items) + "</ol>")
    else:
        parts.append(f"<p>{esc(text('no_materials', lang))}</p>")
    parts.append(f"<h3>{esc(text('promised', lang))}</h3>"
                 f"<p>{esc(guide.promised_limit_zh if zh else guide.promised_limit_en)}</p>")
    if guide.statutory_limit_zh:
        parts.append(f"<h3>{esc(text('statutory', lang))}</h3>"
                     f"<p>{esc(guide.statutory_limit_zh if zh else guide.statutory_limit_en)}</p>")
    parts.append(f"<h3>{esc(text('fees', lang))}</h3>"
                 f"<p>{esc(guide.fees_zh if zh else guide.fees_en)}</p>")
    if guide.legal_basis:
        basis = "".join(f"<li>{esc(b.zh if zh else b.en)}</li>" for b in guide.legal_basis)
        parts.append(f"<h3>{esc(text('legal_basis', lang))}</h3><ul>{basis}</ul>")
    return "".join(parts)


def _by_id_card(pending: PendingRequest) -> bool:
    request = pending.request
    return isinstance(request, CheckInRequest) and request.citizen_id_digest is not None


def appointment_code(scanned: str) -> str | None:
    """The code from an appointment QR: a bare code, `...?code=X`, or a link ending in it."""
    scanned = scanned.strip()
    if "://" in scanned:
        parts = urlsplit(scanned)
        query = parse_qs(parts.query)
        if query.get("code"):
            return query["code"][0][:64] or None
        last = parts.path.rstrip("/").rsplit("/", 1)[-1]
        return last[:64] or None
    if 1 <= len(scanned) <= 64 and scanned.isprintable():
        return scanned
    return None
