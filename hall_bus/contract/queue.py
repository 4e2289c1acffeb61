"""The queue engine's payloads: its requests and their answers, its events and its state.

`QUEUE_ACTIONS` lists every action with its request model and the model of its response `data`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hall_bus.contract.base import (
    Action,
    BusinessDay,
    FreeText,
    MaskedText,
    Message,
    Name,
    NoticeText,
    Request,
    Timestamp,
)
from hall_bus.contract.notice import HallNotice
from hall_bus.contract.queue_documents import (
    ApplyCatalogueRequest,
    ApplyFollowUpsRequest,
    ApplyRosterRequest,
    DocumentAppliedData,
    FollowUpsAppliedData,
)

# Lower-case hex HMAC-SHA256 of the normalised ID number under the hall's key
# (docs/citizen-id-digest.md). It lets a citizen check in by ID card without the number travelling.
CitizenIdDigest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

# --- queue domain vocabulary ------------------------------------------------------------------


class PriorityClass(StrEnum):
    NORMAL = "normal"
    APPOINTMENT = "appointment"
    ELDERLY_DISABLED = "elderly_disabled"
    GREEN_CHANNEL = "green_channel"


class TicketState(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class RatingLevel(StrEnum):
    """The five national levels of 国办发〔2019〕51号, best first."""

    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"
    VERY_DISSATISFIED = "very_dissatisfied"

    @property
    def label_zh(self) -> str:
        return RATING_LABELS_ZH[self]

    @property
    def is_bad(self) -> bool:
        """The bottom two levels are bad reviews: a reason is required and they are followed up."""
        return self in (RatingLevel.DISSATISFIED, RatingLevel.VERY_DISSATISFIED)


RATING_LABELS_ZH = {
    RatingLevel.VERY_SATISFIED: "非常满意",
    RatingLevel.SATISFIED: "满意",
    RatingLevel.BASICALLY_SATISFIED: "基本满意",
    RatingLevel.DISSATISFIED: "不满意",
    RatingLevel.VERY_DISSATISFIED: "非常不满意",
}


class WindowMode(StrEnum):
    CLOSED = "closed"  # nobody logged in
    IDLE = "idle"  # logged in, no current ticket
    CALLING = "calling"  # current ticket called, citizen not yet at the window
    SERVING = "serving"
    PAUSED = "paused"


class SupervisionKind(StrEnum):
    LONG_WAIT = "long_wait"
    LONG_SERVICE = "long_service"
    WINDOW_IDLE = "window_idle"
    STAFF_ABSENT = "staff_absent"
    CROWDING = "crowding"
    DEVICE_FAULT = "device_fault"


# --- shared views -----------------------------------------------------------------------------


class TicketView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ticket_id: str = Field(description="Unique across days: `<business day>-<number>`.")
    number: str = Field(description="What the citizen sees, e.g. A023.")
    business_day: str = Field(
        description="`YYYY-MM-DD` of the business day it was issued in; a business day begins at "
        "the hall's opening time, not at midnight."
    )
    service_id: Name = Field(
        description="Service whose queue it is in; a transfer changes it (the number stays)."
    )
    service_name: str = Field(description="Chinese name of `service_id`.")
    priority_class: PriorityClass = Field(
        description="Set when issued; its bonus moves the ticket ahead in calling order."
    )
    state: TicketState = Field(description="Where it is in its life.")
    issued_at: Timestamp = Field(description="When it was issued.")
    queued_at: Timestamp = Field(
        description="The time its place in the queue is ordered by: the issue time, kept "
        "through transfers and re-activation, so the citizen keeps their place in time."
    )
    called_at: Timestamp | None = Field(
        default=None,
        description="When a window last called it (a recall does not change it); cleared when "
        "it goes back to waiting.",
    )
    service_started_at: Timestamp | None = Field(
        default=None,
        description="When the citizen arrived at the window (`start_service`); null if it was "
        "finished straight from called, and cleared when it goes back to waiting.",
    )
    finished_at: Timestamp | None = Field(
        default=None, description="When it was finished (state `done`); otherwise null."
    )
    window_id: Name | None = Field(
        default=None,
        description="Window that called it; null until called and again after a transfer or "
        "re-activation.",
    )
    window_name: str | None = Field(default=None, description="Chinese name of `window_id`.")
    staff_id: str | None = Field(
        default=None, description="Staff member logged in at `window_id` when it was called."
    )
    recalls: int = Field(default=0, description="How many times its window called it again.")
    transfers: int = Field(default=0, description="How many times it moved to another service.")
    reactivated: bool = Field(
        default=False,
        description="It was a no-show and came back; a ticket is re-activated at most once.",
    )
    appointment_code: str | None = Field(
        default=None, description="The appointment it was checked in for; null for walk-ins."
    )
    citizen_masked_id: MaskedText | None = Field(
        default=None,
        description="Masked ID-card number given at the kiosk or with the appointment.",
    )
    rating: RatingLevel | None = Field(
        default=None, description="The citizen's rating; null until rated."
    )


class ServiceSummary(BaseModel):
    service_id: Name = Field(description="The service.")
    name: str = Field(description="Chinese name of the service.")
    prefix: str = Field(description="Prefix of its ticket numbers, e.g. A.")
    waiting: int = Field(description="Its tickets waiting now.")
    estimated_wait_s: int = Field(
        description="Estimated wait in whole seconds for a normal ticket taken now, with all "
        "`waiting` ahead of it (computed as in `take_ticket`); 0 when nobody waits."
    )
    last_called: str | None = Field(
        default=None,
        description="Number of its ticket called most recently today, e.g. A023; null if none.",
    )


class WindowSummary(BaseModel):
    window_id: Name = Field(description="The window.")
    number: int = Field(description="The number on the sign above the window.")
    name: str = Field(description="Chinese name of the window.")
    mode: WindowMode = Field(description="What the window is doing.")
    staff_id: str | None = Field(
        default=None, description="Staff member logged in; null when closed."
    )
    staff_name: str | None = Field(default=None, description="That staff member's name.")
    current_ticket: str | None = Field(
        default=None, description="Number of the ticket called or being served here, e.g. A023."
    )
    current_ticket_id: str | None = Field(default=None, description="`ticket_id` of that ticket.")
    current_service_id: Name | None = Field(default=None, description="Service of that ticket.")
    since: Timestamp | None = Field(default=None, description="When the current mode began.")


class RatingView(BaseModel):
    ticket_id: str = Field(description="The ticket rated.")
    number: str = Field(description="Its number, e.g. A023.")
    service_id: Name = Field(description="Service it was served in.")
    window_id: Name | None = Field(description="Window that served it.")
    staff_id: str | None = Field(description="Staff member who served it.")
    level: RatingLevel = Field(description="The rating.")
    level_zh: str = Field(description="Chinese label of `level`, e.g. 满意.")
    reason: str | None = Field(
        default=None, description="The citizen's reason, trimmed; required for a bad rating."
    )
    rated_at: Timestamp = Field(description="When the rating was given.")
    follow_up: Literal["none", "pending", "resolved"] = Field(
        default="none",
        description="A bad rating (bottom two levels) starts `pending` until followed up "
        "(`resolved`); others are `none`.",
    )


class SupervisionAlert(BaseModel):
    kind: SupervisionKind = Field(
        description="What was exceeded. `long_wait` is measured from the ticket's last entry "
        "into waiting (a transfer restarts it), `long_service` from its call, `window_idle` from "
        "when the window went idle or its earliest waiting ticket started waiting, whichever is "
        "later."
    )
    subject: str = Field(description="Ticket id, or window id, the alert is about.")
    window_id: Name | None = Field(
        default=None, description="Window concerned (`long_service`, `window_idle`)."
    )
    service_id: Name | None = Field(
        default=None, description="Service concerned (`long_wait`, `long_service`)."
    )
    staff_id: str | None = Field(default=None, description="Staff member at that window, if any.")
    value_s: int = Field(
        description="Measured duration in seconds; for `crowding` the people counted, for "
        "`device_fault` 0."
    )
    threshold_s: int = Field(
        description="The configured limit in seconds; the alert is raised when `value_s` "
        "exceeds it, once per occurrence (`crowding`: the crowded level's people count; "
        "`device_fault`: 0)."
    )
    message: str = Field(description="Chinese first, then English.")
    alert_id: str | None = Field(
        default=None,
        description="The engine's number for this alert; give it to `acknowledge_alert`.",
    )


# --- queue engine requests ----------------------------------------------------------------------


class DescribeRequest(Request):
    pass


class TakeTicketRequest(Request):
    service_id: Name = Field(description="Service to queue for.")
    priority_class: PriorityClass = Field(
        default=PriorityClass.NORMAL,
        description="Chosen at the kiosk or console; booked citizens use `check_in` instead.",
    )
    source: Name | None = Field(default=None, description="Kiosk or console that issued it.")
    citizen_masked_id: MaskedText | None = Field(
        default=None,
        description="Masked ID-card number, e.g. 3301**********1234; a full number is refused.",
    )


class WindowRequest(Request):
    window_id: Name = Field(description="The window the action is for.")


class CallNextRequest(WindowRequest):
    pass


class RecallRequest(WindowRequest):
    pass


class SkipRequest(WindowRequest):
    pass


class StartServiceRequest(WindowRequest):
    pass


class FinishRequest(WindowRequest):
    pass


class TransferRequest(WindowRequest):
    to_service_id: Name = Field(
        description="Service whose queue the current ticket moves to; not its own service."
    )


class PauseRequest(WindowRequest):
    reason: FreeText | None = Field(
        default=None, max_length=200, description="Why; sent as the event's `detail`."
    )


class ResumeRequest(WindowRequest):
    pass


class LoginRequest(WindowRequest):
    staff_id: str = Field(
        min_length=1,
        max_length=32,
        description="Staff (work) number from the site config; the person must be allowed at "
        "the window and not logged in elsewhere.",
    )


class LogoutRequest(WindowRequest):
    pass


class CheckInRequest(Request):
    """Exactly one of `appointment_code` and `citizen_id_digest` says which appointment."""

    appointment_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Code of an appointment loaded with `load_appointments`; its slot must be "
        "today and it can be checked in once. Give this or `citizen_id_digest`, not both.",
    )
    citizen_id_digest: CitizenIdDigest | None = Field(
        default=None,
        description="Keyed digest of the ID card read at the kiosk (docs/citizen-id-digest.md): "
        "checks in that citizen's appointment of today not yet used, the earliest slot first "
        "when there are several. Give this or `appointment_code`, not both.",
    )
    citizen_masked_id: MaskedText | None = Field(
        default=None,
        description="Masked ID-card number read with the digest; put on the ticket when the "
        "appointment itself has none.",
    )
    source: Name | None = Field(default=None, description="Kiosk or console that checked it in.")

    @model_validator(mode="after")
    def _one_way_to_find_it(self) -> CheckInRequest:
        if (self.appointment_code is None) == (self.citizen_id_digest is None):
            raise ValueError("give exactly one of appointment_code and citizen_id_digest")
        return self


class RateRequest(Request):
    ticket_id: str = Field(
        min_length=1,
        max_length=64,
        description="Ticket to rate: served or being served, not yet rated, and finished no "
        "longer ago than the site's rating time limit.",
    )
    level: RatingLevel = Field(description="The rating.")
    reason: FreeText | None = Field(
        default=None,
        max_length=500,
        description="Required (not blank) for `dissatisfied` and `very_dissatisfied`.",
    )
    source: Name | None = Field(default=None, description="Device the rating came from.")


# A ticket is about 600 bytes of JSON; a page of this many stays well inside MAX_PAYLOAD_BYTES.
LIST_PAGE_MAX = 1000


class ListTicketsRequest(Request):
    states: list[TicketState] | None = Field(
        default=None, description="Only tickets in these states; null or empty for all."
    )
    service_id: Name | None = Field(default=None, description="Only tickets now in this service.")
    window_id: Name | None = Field(
        default=None, description="Only tickets last called to this window."
    )
    business_day: BusinessDay | None = Field(default=None, description="YYYY-MM-DD; default today.")
    limit: int = Field(
        default=200, ge=1, le=LIST_PAGE_MAX,
        description="At most this many, the earliest issued first: one page. A page of the "
        "largest size fits the bus's packet limit.",
    )
    after: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="The `next_after` of the previous page: list the tickets issued after it.",
    )


class ReactivateRequest(Request):
    ticket_id: str = Field(
        min_length=1, max_length=64, description="Today's no-show ticket to put back in the queue."
    )


class CancelRequest(Request):
    ticket_id: str = Field(
        min_length=1, max_length=64, description="Waiting or no-show ticket to cancel."
    )
    reason: FreeText | None = Field(
        default=None,
        max_length=200,
        description="Why; kept with the ticket and sent as the event's `detail`.",
    )


class Appointment(BaseModel):
    code: str = Field(
        min_length=1, max_length=64, description="What the citizen enters or scans to check in."
    )
    service_id: Name = Field(description="Service booked.")
    slot_start: Timestamp = Field(
        description="Start of the booked slot; it can be checked in on that business day only."
    )
    slot_end: Timestamp = Field(description="End of the booked slot.")
    citizen_masked_name: MaskedText | None = Field(
        default=None, description="Masked name, e.g. 张*."
    )
    citizen_masked_id: MaskedText | None = Field(
        default=None, description="Masked ID-card number; copied to the ticket at check-in."
    )
    citizen_id_digest: CitizenIdDigest | None = Field(
        default=None,
        description="HMAC-SHA256 (lower-case hex) of the citizen's normalised 18-character ID "
        "number under the hall's key, computed by the booking backend; lets the citizen check "
        "in by ID card (docs/citizen-id-digest.md). Null: check-in by code only.",
    )


# An appointment is about 110 bytes of JSON: a request of this many fits the bus's packet limit.
# A larger document reaches the engine as several requests (loading is additive).
APPOINTMENTS_PER_REQUEST = 2000


class LoadAppointmentsRequest(Request):
    appointments: list[Appointment] = Field(
        max_length=APPOINTMENTS_PER_REQUEST,
        description="Added, or replacing the one with the same `code` (a checked-in one stays "
        "checked in); appointments not listed are kept.",
    )


# --- queue engine response data -------------------------------------------------------------------


class ServiceInfo(BaseModel):
    service_id: Name = Field(description="The service.")
    prefix: str = Field(description="Prefix of its ticket numbers, e.g. A.")
    name_zh: str = Field(description="Chinese name.")
    name_en: str = Field(description="English name.")


class WindowInfo(BaseModel):
    window_id: Name = Field(description="The window.")
    number: int = Field(description="The number on the sign above the window.")
    name_zh: str = Field(description="Chinese name.")
    name_en: str = Field(description="English name.")
    services: list[Name] = Field(description="Services it calls from, as configured.")


class DescribeData(BaseModel):
    hall_id: str = Field(description="The hall, as in the topic root.")
    name: str = Field(description="Chinese name of the hall.")
    business_day: str = Field(description="The current business day, YYYY-MM-DD.")
    services: list[ServiceInfo] = Field(description="Every service, in site order.")
    windows: list[WindowInfo] = Field(description="Every window, in site order.")
    actions: list[str] = Field(description="Every action the engine answers.")


class TicketIssuedData(BaseModel):
    ticket: TicketView = Field(description="The new ticket.")
    people_ahead: int = Field(
        description="Waiting tickets of the same service that would be called before it, by "
        "priority class and `queued_at`; other services sharing a window are not counted."
    )
    estimated_wait_s: int = Field(
        description="Estimated wait in whole seconds: `people_ahead` × mean service time "
        "(today's, or the configured one until 3 tickets are done) ÷ the open windows' capacity "
        "for the service (see daemons/queue/estimate.py); 0 when nobody is ahead."
    )


class WindowActionData(BaseModel):
    """Result of an action at a window: the ticket now current (if any) and the one it replaced."""

    window: WindowSummary = Field(description="The window after the action.")
    ticket: TicketView | None = Field(
        default=None,
        description="The ticket now current at the window (called, recalled or being served); "
        "null if none.",
    )
    finished: TicketView | None = Field(
        default=None,
        description="The ticket the action took off the window: finished, skipped (no-show) or "
        "transferred; null if none.",
    )


class TicketData(BaseModel):
    ticket: TicketView = Field(description="The ticket after the action.")


class TicketListData(BaseModel):
    business_day: str = Field(description="The business day listed.")
    tickets: list[TicketView] = Field(
        description="Matching tickets in issue order, at most `limit`."
    )
    next_after: str | None = Field(
        default=None,
        description="More may follow: ask again with `after` set to this. Null on the last page.",
    )


def every_ticket(fetch_page: Callable[[str | None], TicketListData]) -> TicketListData:
    """All the tickets `list_tickets` has for a day, page after page: `fetch_page(after)` asks
    for one page of at most `LIST_PAGE_MAX` (one answer must fit the bus's packet limit) and
    raises if it cannot get it."""
    pages = [fetch_page(None)]
    while pages[-1].next_after is not None:
        pages.append(fetch_page(pages[-1].next_after))
    return TicketListData(business_day=pages[0].business_day,
                          tickets=[ticket for page in pages for ticket in page.tickets])


class RatingData(BaseModel):
    rating: RatingView = Field(description="The rating recorded.")


class AppointmentsLoadedData(BaseModel):
    loaded: int = Field(description="Appointments in the request.")
    replaced: int = Field(description="How many of them replaced one with the same code.")


# --- manager console: alerts, service moves, the day's figures ------------------------------------


class ListAlertsRequest(Request):
    business_day: BusinessDay | None = Field(default=None, description="YYYY-MM-DD; default today.")
    limit: int = Field(default=200, ge=1, le=2000, description="The newest this many.")


class AlertRecord(BaseModel):
    alert: SupervisionAlert = Field(description="The alert as raised.")
    raised_at: Timestamp = Field(description="When the engine raised it.")
    acknowledged_by: str | None = Field(
        default=None, description="Login of the manager who acknowledged it; null while open."
    )
    acknowledged_at: Timestamp | None = Field(default=None, description="When it was.")


class AlertListData(BaseModel):
    business_day: str = Field(description="The business day listed.")
    alerts: list[AlertRecord] = Field(description="Newest first.")


class AcknowledgeAlertRequest(Request):
    alert_id: str = Field(min_length=1, max_length=32, description="`alert_id` of the alert.")
    note: MaskedText | None = Field(default=None, description="What the manager did about it.")


class AlertData(BaseModel):
    record: AlertRecord = Field(description="The alert after the action.")


class AssignServiceRequest(Request):
    service_id: Name = Field(description="The service to move.")
    to_window_id: Name = Field(description="Window that serves it from now on.")
    from_window_id: Name | None = Field(
        default=None,
        description="Window that stops serving it; null adds `to_window_id` without taking it "
        "from anyone. A window keeps at least one service.",
    )
    priority: int = Field(
        default=1, ge=1, le=9, description="Its priority at `to_window_id` (1 = first)."
    )


class ServiceAssignedData(BaseModel):
    windows: list[WindowInfo] = Field(description="Every window and its services now.")


class DayReportRequest(Request):
    business_day: BusinessDay | None = Field(default=None, description="YYYY-MM-DD; default today.")
    bucket_min: int = Field(
        default=30, ge=5, le=240, description="Width of the chart series' time buckets."
    )
    ratings_limit: int = Field(
        default=100, ge=0, le=5000,
        description="`ratings` holds every bad rating and at most this many others.",
    )


class ReportRow(BaseModel):
    key: str = Field(description="Service id, window id or staff number.")
    name: str = Field(description="Its Chinese name.")
    tickets: int = Field(description="Tickets issued for it (services) or called by it.")
    served: int = Field(description="Tickets finished (`done`).")
    no_shows: int = Field(description="Tickets now `no_show`.")
    mean_wait_s: int | None = Field(description="Mean issue → call, of called tickets.")
    mean_service_s: int | None = Field(
        description="Mean call (or service start) → finish, of finished tickets."
    )
    ratings: dict[str, int] = Field(description="Ratings by level (`RatingLevel` values).")
    absences: int = Field(description="`staff_absent` alerts (windows and staff; 0 for services).")


class SeriesPoint(BaseModel):
    start: Timestamp = Field(description="Start of the bucket.")
    arrivals: int = Field(description="Tickets issued in it.")
    mean_wait_s: int | None = Field(description="Mean wait of the tickets called in it.")


class DayReportData(BaseModel):
    business_day: str = Field(description="The business day reported.")
    services: list[ReportRow] = Field(description="One row per service, site order.")
    windows: list[ReportRow] = Field(description="One row per window, site order.")
    staff: list[ReportRow] = Field(description="One row per staff member who called a ticket.")
    series: list[SeriesPoint] = Field(description="Arrivals and waits over the day.")
    ratings: list[RatingView] = Field(
        description="The day's bad ratings and the newest others (`ratings_limit`), newest "
        "first; the counts by level are in the rows."
    )


# --- manager console: the notice to the hall --------------------------------------------------

NOTICE_MAX_MIN = 720  # a notice runs at most half a day; tomorrow's needs posting again


class PostNoticeRequest(Request):
    """A duty manager's notice; it replaces the one in force. `actor` is required."""

    text_zh: NoticeText = Field(
        min_length=1, description="The notice in Chinese, as the screens show it."
    )
    text_en: MaskedText | None = Field(default=None, description="The English version, if any.")
    until: Timestamp = Field(
        description="When the screens stop showing it: in the future and at most "
        f"{NOTICE_MAX_MIN} minutes ahead (wall clock, as the screens read it)."
    )
    speak: bool = Field(default=True, description="The voice announcer says it once.")


class WithdrawNoticeRequest(Request):
    """Take the notice in force off the screens. `actor` is required."""

    notice_id: str | None = Field(
        default=None, max_length=64,
        description="`id` of the notice meant; refused if another one is in force. Null: "
        "whichever is in force.",
    )


class NoticeRecord(BaseModel):
    notice: HallNotice = Field(description="The notice as posted (and retained while in force).")
    posted_by: str = Field(description="Login of the manager who posted it.")
    posted_at: Timestamp = Field(description="When the engine took it (the hall's clock).")
    withdrawn_by: str | None = Field(
        default=None, description="Login of the manager who withdrew it; null while in force or "
        "when it ran out by itself.",
    )
    withdrawn_at: Timestamp | None = Field(
        default=None, description="When it came off the screens; null while in force."
    )


class NoticeData(BaseModel):
    record: NoticeRecord = Field(description="The notice after the action.")


QUEUE_ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action(
            "describe", DescribeRequest, DescribeData, "Services, windows and actions of the hall."
        ),
        Action(
            "take_ticket",
            TakeTicketRequest,
            TicketIssuedData,
            "Issue a ticket; committed to disk before the answer.",
        ),
        Action(
            "call_next",
            CallNextRequest,
            WindowActionData,
            "Finish the window's current ticket (if any) and call the next by policy; "
            "`ticket` is null when nobody waits.",
        ),
        Action("recall", RecallRequest, WindowActionData, "Call the current ticket again."),
        Action(
            "skip",
            SkipRequest,
            WindowActionData,
            "Mark the current ticket a no-show (it can be re-activated once).",
        ),
        Action(
            "start_service",
            StartServiceRequest,
            WindowActionData,
            "The called citizen arrived: the ticket is being served.",
        ),
        Action("finish", FinishRequest, WindowActionData, "Finish the current ticket."),
        Action(
            "transfer",
            TransferRequest,
            WindowActionData,
            "Send the current ticket to another service's queue, keeping its place in time.",
        ),
        Action("pause", PauseRequest, WindowActionData, "Pause the window; it calls nobody."),
        Action("resume", ResumeRequest, WindowActionData, "Resume a paused window."),
        Action("login", LoginRequest, WindowActionData, "Staff logs in at a window."),
        Action("logout", LogoutRequest, WindowActionData, "Staff logs out; the window closes."),
        Action(
            "check_in",
            CheckInRequest,
            TicketIssuedData,
            "Check in an appointment and issue its ticket.",
        ),
        Action(
            "rate",
            RateRequest,
            RatingData,
            "Rate a served ticket once; the bottom two levels need a reason.",
        ),
        Action("list_tickets", ListTicketsRequest, TicketListData, "Tickets of a business day."),
        Action(
            "reactivate",
            ReactivateRequest,
            TicketData,
            "A no-show citizen returned: back to waiting, once.",
        ),
        Action("cancel", CancelRequest, TicketData, "Cancel a waiting or no-show ticket."),
        Action(
            "load_appointments",
            LoadAppointmentsRequest,
            AppointmentsLoadedData,
            "Replace or add the appointments the hall knows.",
        ),
        Action(
            "apply_catalogue",
            ApplyCatalogueRequest,
            DocumentAppliedData,
            "A newer service catalogue from the backend: names, service times, daily limits.",
        ),
        Action(
            "apply_roster",
            ApplyRosterRequest,
            DocumentAppliedData,
            "A newer staff roster from the backend; refused if it drops someone logged in.",
        ),
        Action(
            "list_alerts", ListAlertsRequest, AlertListData,
            "Supervision alerts of a day with who acknowledged them.",
        ),
        Action(
            "acknowledge_alert", AcknowledgeAlertRequest, AlertData,
            "A manager saw a supervision alert and dealt with it; once per alert.",
        ),
        Action(
            "assign_service", AssignServiceRequest, ServiceAssignedData,
            "Move a service to another window (or add one); kept until changed again.",
        ),
        Action(
            "day_report", DayReportRequest, DayReportData,
            "The day's figures per service, window and staff, and the chart series.",
        ),
        Action(
            "post_notice", PostNoticeRequest, NoticeData,
            "Put a manager's notice on the hall screens (said once); retained until withdrawn "
            "or run out.",
        ),
        Action(
            "withdraw_notice", WithdrawNoticeRequest, NoticeData,
            "Take the manager's notice in force off the hall screens.",
        ),
        Action(
            "apply_follow_ups",
            ApplyFollowUpsRequest,
            FollowUpsAppliedData,
            "Follow-up state of bad ratings from the backend (pending → resolved).",
        ),
    )
}


# --- queue engine events and state ----------------------------------------------------------------


class QueueEventType(StrEnum):
    TICKET_ISSUED = "ticket_issued"
    TICKET_CALLED = "ticket_called"
    TICKET_RECALLED = "ticket_recalled"
    SERVICE_STARTED = "service_started"
    TICKET_FINISHED = "ticket_finished"
    TICKET_SKIPPED = "ticket_skipped"
    TICKET_TRANSFERRED = "ticket_transferred"
    TICKET_REACTIVATED = "ticket_reactivated"
    TICKET_CANCELLED = "ticket_cancelled"
    APPOINTMENT_CHECKED_IN = "appointment_checked_in"
    WINDOW_PAUSED = "window_paused"
    WINDOW_RESUMED = "window_resumed"
    STAFF_LOGIN = "staff_login"
    STAFF_LOGOUT = "staff_logout"
    RATING_GIVEN = "rating_given"
    SUPERVISION_ALERT = "supervision_alert"
    BUSINESS_DAY_STARTED = "business_day_started"
    ALERT_ACKNOWLEDGED = "alert_acknowledged"
    SERVICE_ASSIGNED = "service_assigned"
    NOTICE_POSTED = "notice_posted"
    NOTICE_WITHDRAWN = "notice_withdrawn"


class QueueEvent(Message):
    """Something that happened in the queue, on `hall/<id>/queue/event`; never retained."""

    type: QueueEventType = Field(description="What happened.")
    business_day: str = Field(description="Business day it happened in, YYYY-MM-DD.")
    ticket: TicketView | None = Field(
        default=None, description="The ticket concerned, as it is after the event."
    )
    window: WindowSummary | None = Field(
        default=None, description="The window concerned, as it is after the event."
    )
    rating: RatingView | None = Field(default=None, description="The rating (`rating_given`).")
    alert: SupervisionAlert | None = Field(
        default=None, description="The alert (`supervision_alert`)."
    )
    from_service_id: Name | None = Field(
        default=None, description="Service the ticket left (`ticket_transferred`)."
    )
    detail: str | None = Field(
        default=None,
        max_length=500,
        description="Appointment code (`appointment_checked_in`), pause or cancel reason, staff "
        "id (`staff_login`, `staff_logout`), or the previous day and the count of tickets it "
        "closed (`business_day_started`), the notice's Chinese text (`notice_posted`), or "
        "`withdrawn`, `replaced` (by a newer one) or `expired` (`notice_withdrawn`).",
    )
    cause: str | None = Field(default=None, description="Id of the request that caused it.")
    actor: str | None = Field(
        default=None, description="`actor` of that request: the manager who did it, if one did."
    )
    at: Timestamp | None = Field(
        default=None,
        description="When it happened on the hall's clock (the engine's domain time; `ts` is the "
        "wall-clock send time, which differs in a simulated run).",
    )


class QueueSummaryState(Message):
    """Retained on `hall/<id>/queue/state`: what every screen and daemon rebuilds from."""

    hall_id: str = Field(description="The hall.")
    business_day: str = Field(description="The current business day, YYYY-MM-DD.")
    services: list[ServiceSummary] = Field(description="Every service, in site order.")
    windows: list[WindowSummary] = Field(description="Every window, in site order.")
    issued_today: int = Field(description="Tickets issued this business day, in any state.")
    done_today: int = Field(description="Tickets served this business day.")
    no_show_today: int = Field(description="Tickets now in state `no_show` this business day.")
    waiting: int = Field(description="Tickets waiting now, all services.")


EVENT_MODELS: dict[str, type[Message]] = {
    "queue/event": QueueEvent,
    "queue/state": QueueSummaryState,
}
