"""The typed registry of every payload on the hall bus.

Every JSON payload is a `Message`: an integer schema version `v`, a unique sortable `id` and a UTC
`ts`. Readers ignore unknown keys so that newer senders do not break older readers. Commands are
`Request`s with a `deadline`; a responder answers on the matching `response/<action>` topic with a
`Response` whose `id` is the request's id. `QUEUE_ACTIONS` lists every queue engine action with its
request model and the model of its response `data`; docs/bus.md is generated from this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
)

from hall_bus.ids import new_id, rfc3339, utc_now

SCHEMA_VERSION = 1

Name = Annotated[str, Field(pattern=r"^[a-z0-9_-]+$", min_length=1, max_length=64)]
Timestamp = Annotated[AwareDatetime, PlainSerializer(rfc3339, return_type=str, when_used="json")]

_FULL_ID_NUMBER = re.compile(r"\d{17}[\dXx]")


def _refuse_full_id_number(value: str) -> str:
    # A mainland resident ID is 17 digits plus a digit or X; only masked forms may travel.
    if _FULL_ID_NUMBER.search(value):
        raise ValueError("a full ID-card number may not be sent on the bus; send a masked form")
    return value


MaskedText = Annotated[str, AfterValidator(_refuse_full_id_number), Field(max_length=64)]


class Message(BaseModel):
    """Base of every JSON payload on the bus."""

    model_config = ConfigDict(extra="ignore", use_enum_values=False)

    v: int = Field(default=SCHEMA_VERSION, ge=1, description="Payload schema version.")
    id: str = Field(
        default_factory=new_id,
        min_length=1,
        max_length=64,
        description="Unique, sortable id; handlers de-duplicate on it.",
    )
    ts: Timestamp = Field(default_factory=utc_now, description="When it was sent (UTC, RFC 3339).")

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class Request(Message):
    """A command. Requests past their deadline are dropped, never executed."""

    deadline: Timestamp = Field(
        default_factory=lambda: utc_now() + timedelta(seconds=10),
        description="After this instant the request must not be executed.",
    )

    def expired(self, now: datetime | None = None) -> bool:
        return (now or utc_now()) > self.deadline


class ResponseStatus(StrEnum):
    OK = "ok"
    ERROR = "error"


class Response(Message):
    """Answer to a request; `id` repeats the request's id."""

    status: ResponseStatus
    code: str | None = Field(default=None, description="Machine-readable error code.")
    error: str | None = Field(default=None, description="Human-readable error (Chinese / English).")
    data: dict[str, Any] | None = None

    @classmethod
    def ok(cls, request_id: str, data: BaseModel | dict[str, Any] | None = None) -> Response:
        payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
        return cls(id=request_id, status=ResponseStatus.OK, data=payload)

    @classmethod
    def fail(cls, request_id: str, code: str, error: str) -> Response:
        return cls(id=request_id, status=ResponseStatus.ERROR, code=code, error=error)


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


# --- shared views -----------------------------------------------------------------------------


class TicketView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ticket_id: str = Field(description="Unique across days: `<business day>-<number>`.")
    number: str = Field(description="What the citizen sees, e.g. A023.")
    business_day: str
    service_id: Name
    service_name: str
    priority_class: PriorityClass
    state: TicketState
    issued_at: Timestamp
    queued_at: Timestamp = Field(description="The time its place in the queue is ordered by.")
    called_at: Timestamp | None = None
    service_started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    window_id: Name | None = None
    window_name: str | None = None
    staff_id: str | None = None
    recalls: int = 0
    transfers: int = 0
    reactivated: bool = False
    appointment_code: str | None = None
    citizen_masked_id: MaskedText | None = None
    rating: RatingLevel | None = None


class ServiceSummary(BaseModel):
    service_id: Name
    name: str
    prefix: str
    waiting: int
    estimated_wait_s: int
    last_called: str | None = None


class WindowSummary(BaseModel):
    window_id: Name
    number: int
    name: str
    mode: WindowMode
    staff_id: str | None = None
    staff_name: str | None = None
    current_ticket: str | None = None
    current_ticket_id: str | None = None
    current_service_id: Name | None = None
    since: Timestamp | None = Field(default=None, description="When the current mode began.")


class RatingView(BaseModel):
    ticket_id: str
    number: str
    service_id: Name
    window_id: Name | None
    staff_id: str | None
    level: RatingLevel
    level_zh: str
    reason: str | None = None
    rated_at: Timestamp
    follow_up: Literal["none", "pending", "resolved"] = "none"


class SupervisionAlert(BaseModel):
    kind: SupervisionKind
    subject: str = Field(description="Ticket id, or window id, the alert is about.")
    window_id: Name | None = None
    service_id: Name | None = None
    staff_id: str | None = None
    value_s: int = Field(description="Measured duration in seconds.")
    threshold_s: int
    message: str = Field(description="Chinese first, then English.")


# --- queue engine requests ----------------------------------------------------------------------


class DescribeRequest(Request):
    pass


class TakeTicketRequest(Request):
    service_id: Name
    priority_class: PriorityClass = PriorityClass.NORMAL
    source: Name | None = Field(default=None, description="Kiosk or console that issued it.")
    citizen_masked_id: MaskedText | None = None


class WindowRequest(Request):
    window_id: Name


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
    to_service_id: Name


class PauseRequest(WindowRequest):
    reason: str | None = Field(default=None, max_length=200)


class ResumeRequest(WindowRequest):
    pass


class LoginRequest(WindowRequest):
    staff_id: str = Field(min_length=1, max_length=32)


class LogoutRequest(WindowRequest):
    pass


class CheckInRequest(Request):
    appointment_code: str = Field(min_length=1, max_length=64)
    source: Name | None = None


class RateRequest(Request):
    ticket_id: str = Field(min_length=1, max_length=64)
    level: RatingLevel
    reason: str | None = Field(default=None, max_length=500)
    source: Name | None = None


class ListTicketsRequest(Request):
    states: list[TicketState] | None = None
    service_id: Name | None = None
    window_id: Name | None = None
    business_day: str | None = Field(default=None, description="YYYY-MM-DD; default today.")
    limit: int = Field(default=200, ge=1, le=5000)


class ReactivateRequest(Request):
    ticket_id: str = Field(min_length=1, max_length=64)


class CancelRequest(Request):
    ticket_id: str = Field(min_length=1, max_length=64)
    reason: str | None = Field(default=None, max_length=200)


class Appointment(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    service_id: Name
    slot_start: Timestamp
    slot_end: Timestamp
    citizen_masked_name: MaskedText | None = None
    citizen_masked_id: MaskedText | None = None


class LoadAppointmentsRequest(Request):
    appointments: list[Appointment] = Field(max_length=10000)


# --- queue engine response data -------------------------------------------------------------------


class ServiceInfo(BaseModel):
    service_id: Name
    prefix: str
    name_zh: str
    name_en: str


class WindowInfo(BaseModel):
    window_id: Name
    number: int
    name_zh: str
    name_en: str
    services: list[Name]


class DescribeData(BaseModel):
    hall_id: str
    name: str
    business_day: str
    services: list[ServiceInfo]
    windows: list[WindowInfo]
    actions: list[str]


class TicketIssuedData(BaseModel):
    ticket: TicketView
    people_ahead: int
    estimated_wait_s: int


class WindowActionData(BaseModel):
    """Result of an action at a window: the ticket now current (if any) and the one it replaced."""

    window: WindowSummary
    ticket: TicketView | None = None
    finished: TicketView | None = None


class TicketData(BaseModel):
    ticket: TicketView


class TicketListData(BaseModel):
    business_day: str
    tickets: list[TicketView]


class RatingData(BaseModel):
    rating: RatingView


class AppointmentsLoadedData(BaseModel):
    loaded: int
    replaced: int


@dataclass(frozen=True)
class Action:
    name: str
    request: type[Request]
    data: type[BaseModel]
    summary: str


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


class QueueEvent(Message):
    """Something that happened in the queue, on `hall/<id>/queue/event`; never retained."""

    type: QueueEventType
    business_day: str
    ticket: TicketView | None = None
    window: WindowSummary | None = None
    rating: RatingView | None = None
    alert: SupervisionAlert | None = None
    from_service_id: Name | None = None
    detail: str | None = Field(default=None, max_length=500)
    cause: str | None = Field(default=None, description="Id of the request that caused it.")


class QueueSummaryState(Message):
    """Retained on `hall/<id>/queue/state`: what every screen and daemon rebuilds from."""

    hall_id: str
    business_day: str
    services: list[ServiceSummary]
    windows: list[WindowSummary]
    issued_today: int
    done_today: int
    no_show_today: int
    waiting: int


EVENT_MODELS: dict[str, type[Message]] = {
    "queue/event": QueueEvent,
    "queue/state": QueueSummaryState,
}
