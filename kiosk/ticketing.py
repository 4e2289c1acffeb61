"""Taking a ticket at the kiosk: ask the engine, print, and never issue twice.

The engine commits a ticket before it answers, so by the time anything is printed the ticket
exists. What can go wrong afterwards is told to the citizen (the number and its QR on screen),
never hidden. When the broker is away the same request (same id, next `attempt`) is sent again:
the engine answers a repeated attempt from memory and never executes it twice. A response lost
on the way is also recovered from the engine's `ticket_issued` event, whose `cause` is our id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from drivers.scanner import id_card
from firmware_config.kiosk import KioskConfig
from firmware_config.site import SiteConfig
from hall_bus import errors, topics
from hall_bus.client import BusClient, BusTimeout
from hall_bus.contract import (
    CheckInRequest,
    QueueEvent,
    QueueEventType,
    Request,
    ResponseStatus,
    TakeTicketRequest,
    TicketIssuedData,
    TicketView,
    channels,
)
from hall_bus.contract.kiosk import KioskEvent, KioskEventType
from hall_bus.ids import utc_now
from kiosk import service_names

log = logging.getLogger(__name__)

MIN_KEY_CHARS = 16


class KeyFileError(ValueError):
    """The hall's citizen-ID key file is missing, unreadable or too short."""


def read_citizen_id_key(site: SiteConfig) -> bytes | None:
    """The key of `citizen_id_key_file` (its one line, as UTF-8), or None when none is set."""
    path = site.citizen_id_key_file
    if path is None:
        return None
    try:
        key = path.read_text(encoding="utf-8").strip().encode()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"无法读取身份证密钥文件 / cannot read citizen_id_key_file {path}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from exc
    if len(key) < MIN_KEY_CHARS:
        raise KeyFileError(f"身份证密钥太短 / citizen_id_key_file {path}: the key must be at "
                           f"least {MIN_KEY_CHARS} characters")
    return key

ATTEMPT_TIMEOUT_S = 3.0
# A request may sit in the broker while the engine is away; it stays valid long enough to be
# executed then, and its event (with our id as cause) tells us it was.
REQUEST_LIFETIME_S = 120.0


class OutcomeKind(StrEnum):
    ISSUED = "issued"
    REFUSED = "refused"  # the engine said no (daily limit, unknown appointment...)
    UNREACHABLE = "unreachable"  # no answer: retry the same request


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    ticket: TicketView | None = None
    people_ahead: int | None = None
    estimated_wait_s: int | None = None
    code: str | None = None
    message: str = ""


class PendingRequest:
    """One citizen's request: the same id on every attempt until it is answered."""

    def __init__(self, action: str, request: Request) -> None:
        self.action = action
        self.request = request
        self.attempts = 0

    def certainly_dead(self, margin_s: float = 5.0) -> bool:
        """Past its deadline (plus clock skew): the engine will never execute it now."""
        return utc_now() > self.request.deadline + timedelta(seconds=margin_s)


class TicketDesk:
    """Talks to the queue engine for one kiosk. Thread-safe; call from worker threads."""

    def __init__(self, site: SiteConfig, kiosk: KioskConfig, bus: BusClient) -> None:
        # `site` carries the service names of the backend's catalogue once one is retained.
        self.base_site = site
        self.site = site
        self.on_catalogue: Callable[[], None] | None = None
        self.kiosk = kiosk
        self.bus = bus
        self.queue = topics.queue_endpoint(site.hall_id)
        self.request_lifetime_s = REQUEST_LIFETIME_S
        self._id_key = read_citizen_id_key(site)
        self._waiting: set[str] = set()
        self._recovered: dict[str, TicketView] = {}
        self._lock = threading.Lock()
        bus.subscribe_to(channels.QUEUE_EVENT, self._on_queue_event)
        bus.subscribe(service_names.catalogue_topic(site), self._on_catalogue)

    def _on_catalogue(self, _topic: str, payload: bytes) -> None:
        self.site = service_names.with_catalogue(self.base_site, payload)
        hook = self.on_catalogue
        if hook is not None:
            hook()

    def take_ticket(self, service_id: str, priority_class: str = "normal",
                    masked_id: str | None = None) -> PendingRequest:
        request = TakeTicketRequest.model_validate({
            "service_id": service_id, "priority_class": priority_class,
            "source": self.kiosk.id, "citizen_masked_id": masked_id,
            "deadline": utc_now() + timedelta(seconds=self.request_lifetime_s),
        })
        return PendingRequest("take_ticket", request)

    def check_in(self, appointment_code: str) -> PendingRequest:
        request = CheckInRequest(
            appointment_code=appointment_code, source=self.kiosk.id,
            deadline=utc_now() + timedelta(seconds=self.request_lifetime_s),
        )
        return PendingRequest("check_in", request)

    @property
    def checks_in_by_id(self) -> bool:
        """The hall has a citizen-ID key: an ID card can find its holder's appointment."""
        return self._id_key is not None

    def check_in_by_id(self, number: str) -> PendingRequest:
        """Check in the card holder's appointment of today. Only the keyed digest and the
        masked form leave this process; `number` must already be valid (`id_card.validate`)."""
        if self._id_key is None:
            raise RuntimeError("no citizen_id_key_file configured")
        request = CheckInRequest(
            citizen_id_digest=id_card.keyed_digest(number, self._id_key),
            citizen_masked_id=id_card.mask(number), source=self.kiosk.id,
            deadline=utc_now() + timedelta(seconds=self.request_lifetime_s),
        )
        return PendingRequest("check_in", request)

    def send(self, pending: PendingRequest) -> Outcome:
        """One attempt. Until it returns anything but UNREACHABLE, send the same `pending`."""
        with self._lock:
            self._waiting.add(pending.request.id)
        outcome = self._attempt(pending)
        if outcome.kind is not OutcomeKind.UNREACHABLE:
            with self._lock:
                self._waiting.discard(pending.request.id)
                self._recovered.pop(pending.request.id, None)
        return outcome

    def _attempt(self, pending: PendingRequest) -> Outcome:
        pending.attempts += 1
        recovered = self._take_recovered(pending.request.id)
        if recovered is not None:
            return self._issued_from_event(recovered)
        if not self.bus.connected:
            return Outcome(OutcomeKind.UNREACHABLE, message="not connected to the hall bus")
        pending.request = pending.request.model_copy(update={"attempt": pending.attempts})
        try:
            response = self.bus.request(self.queue, pending.action, pending.request,
                                        timeout=ATTEMPT_TIMEOUT_S)
        except BusTimeout as exc:
            recovered = self._take_recovered(pending.request.id)
            if recovered is not None:
                return self._issued_from_event(recovered)
            log.warning("kiosk %s: %s (attempt %d)", self.kiosk.id, exc, pending.attempts)
            return Outcome(OutcomeKind.UNREACHABLE, message=str(exc))
        if response.status is ResponseStatus.OK:
            data = TicketIssuedData.model_validate(response.data or {})
            return Outcome(OutcomeKind.ISSUED, data.ticket, data.people_ahead,
                           data.estimated_wait_s)
        if response.code == errors.DEADLINE_EXPIRED:
            # That copy was not executed, but a later copy of the same id may have been: keep the
            # id, so the next attempt is either executed once or answered from the engine's memory.
            pending.request = pending.request.model_copy(update={
                "deadline": utc_now() + timedelta(seconds=self.request_lifetime_s),
            })
            return Outcome(OutcomeKind.UNREACHABLE, message="request expired; sending again")
        return Outcome(OutcomeKind.REFUSED, code=response.code, message=response.error or "")

    def report_rejected_scan(self, reason: str) -> None:
        """Tell the hall a scan was refused; `reason` must not hold the scanned text."""
        self.bus.publish_to(channels.KIOSK_EVENT,
                            KioskEvent(type=KioskEventType.SCAN_REJECTED, detail=reason[:300]),
                            kiosk=self.kiosk.id)

    def ticket_url(self, ticket: TicketView) -> str:
        return self.kiosk.ticket_url_template.format(
            ticket_id=ticket.ticket_id, hall_id=self.site.hall_id, number=ticket.number
        )

    def _on_queue_event(self, _topic: str, event: QueueEvent) -> None:
        if event.cause is None or event.ticket is None:
            return
        if event.type not in (QueueEventType.TICKET_ISSUED, QueueEventType.APPOINTMENT_CHECKED_IN):
            return
        with self._lock:
            if event.cause in self._waiting:  # only our own requests matter
                self._recovered[event.cause] = event.ticket

    def _take_recovered(self, request_id: str) -> TicketView | None:
        with self._lock:
            return self._recovered.pop(request_id, None)

    @staticmethod
    def _issued_from_event(ticket: TicketView) -> Outcome:
        # The event does not say how many are ahead; the ticket itself is what matters.
        return Outcome(OutcomeKind.ISSUED, ticket)


def local_time_text(moment: datetime, site: SiteConfig) -> str:
    return moment.astimezone(site.zone).strftime("%Y-%m-%d %H:%M")
