"""The bridge's payloads: its retained state and events on the hall bus, and the JSON it exchanges
with the central approval backend (docs/backend-openapi.yaml is generated from these models).

Uplink: the bridge posts `UplinkBatch`es of `UplinkRecord`s, oldest first; `event_id` is the
idempotency key, so a batch sent twice has its effect once. Downlink: the backend offers one
`DownlinkDocument` per kind, each with a version that only grows; the bridge validates it, keeps
the last accepted one, and reports back whether it took it (`DownlinkReport`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hall_bus.contract.base import MaskedText, Message, Name, Timestamp
from hall_bus.contract.queue import Appointment, RatingLevel
from hall_bus.contract.queue_documents import CatalogueService, RosterEntry

# --- uplink -------------------------------------------------------------------------------------


class RecordKind(StrEnum):
    TICKET_EVENT = "ticket_event"  # one step of a ticket's timeline
    RATING = "rating"  # 好差评: one citizen rating, in the national five levels
    SUPERVISION = "supervision"  # 电子监察: a threshold exceeded
    WINDOW_EVENT = "window_event"  # staff login/logout, pause/resume, business day start
    DEVICE_EVENT = "device_event"  # 设备监察: a camera, line device or kiosk printer fault


RATING_SCORES = {
    RatingLevel.VERY_SATISFIED: 5,
    RatingLevel.SATISFIED: 4,
    RatingLevel.BASICALLY_SATISFIED: 3,
    RatingLevel.DISSATISFIED: 2,
    RatingLevel.VERY_DISSATISFIED: 1,
}


class RatingRecord(BaseModel):
    """Body of a `rating` record: the fields the 好差评 rules ask for, personal data masked."""

    model_config = ConfigDict(extra="forbid")

    ticket_id: str = Field(description="The ticket rated (the case on site).")
    number: str = Field(description="Its number, e.g. A023.")
    service_id: Name = Field(description="Service item (事项) it was served in.")
    service_name: str | None = Field(default=None, description="Chinese name of the service.")
    window_id: Name | None = Field(description="Window that served it.")
    staff_id: str | None = Field(description="Staff member who served it.")
    rated_at: Timestamp = Field(description="When the rating was given.")
    level: RatingLevel = Field(description="The rating.")
    score: int = Field(ge=1, le=5, description="5 = 非常满意 … 1 = 非常不满意.")
    level_zh: str = Field(description="Chinese label of `level`.")
    reason: MaskedText | None = Field(
        default=None, description="The citizen's reason; present for the bottom two levels."
    )
    appointment_code: str | None = Field(default=None, description="Booking it came from.")
    citizen_masked_id: MaskedText | None = Field(
        default=None, description="Masked ID-card number (first 4 and last 4 digits at most)."
    )
    due_at: Timestamp = Field(description="It must reach the backend before this instant.")


class DeviceSource(StrEnum):
    CAMERA = "camera"  # supervision camera
    LINE_DEVICE = "line_device"  # RS-485 window strip, hall screen, caller or evaluation pad
    KIOSK = "kiosk"  # self-service kiosk and its ticket printer


class DeviceRecord(BaseModel):
    """Body of a `device_event` record: a hall device failed or came back, for 电子监察."""

    model_config = ConfigDict(extra="forbid")

    source: DeviceSource = Field(description="What kind of device.")
    node: Name = Field(description="Bus node: `camera`, the line's id, or the kiosk's id.")
    device: Name | None = Field(
        default=None, description="The camera's or line device's name; null for a kiosk."
    )
    window_id: Name | None = Field(default=None, description="Window it belongs to, if any.")
    type: str = Field(
        description="The device's own event type: `camera_fault`, `camera_recovered`, "
        "`went_offline`, `came_online`, `display_problem` or `print_failed`."
    )
    health: str | None = Field(default=None, description="Camera health after the event.")
    detail: MaskedText | None = Field(default=None, description="What the device reported.")


class UplinkRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(
        min_length=1, max_length=64, description="Idempotency key: the bus event's id."
    )
    seq: int = Field(ge=1, description="Position in the hall's outbox; strictly increasing.")
    kind: RecordKind = Field(description="What the body is.")
    type: str = Field(description="The bus event type, e.g. ticket_called, rating_given.")
    occurred_at: Timestamp = Field(description="When it happened in the hall.")
    overdue: bool = Field(
        default=False, description="A rating sent after its `due_at` (the link was down too long)."
    )
    body: dict[str, Any] = Field(
        description="`rating`: a RatingRecord; `device_event`: a DeviceRecord; otherwise the bus "
        "QueueEvent as published."
    )


class UplinkBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hall_id: Name = Field(description="The sending hall; must match the path.")
    records: list[UplinkRecord] = Field(
        min_length=1, max_length=1000, description="In outbox order, oldest first."
    )


class UplinkResult(BaseModel):
    accepted: list[str] = Field(description="Event ids stored by this request.")
    duplicates: list[str] = Field(description="Event ids the backend already had (no effect).")


class ErrorBody(BaseModel):
    error: str = Field(description="Chinese first, then English.")


# --- downlink documents -------------------------------------------------------------------------


class DownlinkKind(StrEnum):
    CATALOGUE = "catalogue"  # 事项目录
    APPOINTMENTS = "appointments"  # 当日预约
    ROSTER = "roster"  # 人员排班
    NOTICES = "notices"  # 大厅公告
    FOLLOW_UPS = "follow_ups"  # 差评整改


def _unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} appears twice")
        seen.add(value)


class CatalogueBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    services: list[CatalogueService] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _distinct(self) -> CatalogueBody:
        _unique([s.service_id for s in self.services], "service_id")
        _unique([s.prefix for s in self.services], "prefix")
        return self


class AppointmentsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_day: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="The day they are for.")
    appointments: list[Appointment] = Field(max_length=10000)

    @model_validator(mode="after")
    def _distinct(self) -> AppointmentsBody:
        _unique([a.code for a in self.appointments], "appointment code")
        return self


class RosterBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff: list[RosterEntry] = Field(max_length=2000)

    @model_validator(mode="after")
    def _distinct(self) -> RosterBody:
        _unique([s.staff_id for s in self.staff], "staff_id")
        return self


class Notice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notice_id: str = Field(min_length=1, max_length=64)
    text_zh: MaskedText = Field(min_length=1)
    text_en: str | None = Field(default=None, max_length=200)
    valid_from: Timestamp
    valid_until: Timestamp

    @model_validator(mode="after")
    def _ordered(self) -> Notice:
        if self.valid_until <= self.valid_from:
            raise ValueError(f"notice {self.notice_id}: valid_until must be after valid_from")
        return self


class NoticesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notices: list[Notice] = Field(max_length=100)


class FollowUp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: str = Field(min_length=1, max_length=64, description="The badly rated ticket.")
    status: Literal["pending", "in_progress", "resolved"]
    note: MaskedText | None = Field(default=None, description="What was done, for the manager.")
    updated_at: Timestamp


class FollowUpsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    follow_ups: list[FollowUp] = Field(max_length=5000)


DOWNLINK_BODIES: dict[DownlinkKind, type[BaseModel]] = {
    DownlinkKind.CATALOGUE: CatalogueBody,
    DownlinkKind.APPOINTMENTS: AppointmentsBody,
    DownlinkKind.ROSTER: RosterBody,
    DownlinkKind.NOTICES: NoticesBody,
    DownlinkKind.FOLLOW_UPS: FollowUpsBody,
}


class DownlinkDocument(BaseModel):
    kind: DownlinkKind = Field(description="Which document.")
    version: int = Field(ge=1, description="Grows with every change of this kind.")
    published_at: Timestamp = Field(description="When the backend published it.")
    body: dict[str, Any] = Field(description="The kind's body (CatalogueBody, RosterBody, ...).")


class DownlinkList(BaseModel):
    documents: list[DownlinkDocument] = Field(description="The newest document of each kind.")


class DownlinkReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["accepted", "rejected"]
    error: str | None = Field(default=None, description="Why it was rejected.")


# --- on the hall bus ----------------------------------------------------------------------------


class BridgeState(Message):
    """Retained on `hall/<id>/bridge/state`: how far the hall is from the backend."""

    uplink: str = Field(description="`https`.")
    backlog: int = Field(description="Events stored and not yet confirmed by the backend.")
    oldest_undelivered_age_s: float | None = Field(
        default=None, description="Age of the oldest of them; null when none wait."
    )
    last_success_at: Timestamp | None = Field(
        default=None, description="Last upload the backend confirmed; null if never."
    )
    last_error: str | None = Field(default=None, description="Why the last attempt failed.")
    overdue_ratings: int = Field(description="Ratings waiting past their upload time limit.")
    delivered_total: int = Field(description="Events confirmed since the outbox was created.")


class DownlinkState(Message):
    """Retained on `hall/<id>/bridge/<kind>/state`: the last accepted downlink document."""

    kind: DownlinkKind = Field(description="Which document.")
    version: int = Field(description="Its version.")
    accepted_at: Timestamp = Field(description="When this hall accepted it.")
    body: dict[str, Any] = Field(description="The validated body.")


class BridgeEventType(StrEnum):
    DOWNLINK_ACCEPTED = "downlink_accepted"
    DOWNLINK_REJECTED = "downlink_rejected"


class BridgeEvent(Message):
    """On `hall/<id>/bridge/event`; never retained."""

    type: BridgeEventType = Field(description="What happened.")
    kind: DownlinkKind = Field(description="Document concerned.")
    version: int = Field(description="Its version.")
    kept_version: int | None = Field(
        default=None, description="Rejected: the version still in force; null if none yet."
    )
    error: str | None = Field(default=None, description="Rejected: why (Chinese / English).")


def rating_due(rated_at: datetime, limit_h: float) -> datetime:
    return rated_at + timedelta(hours=limit_h)


# Meanings of the enum values, for docs/bus.md (hall_bus/schema_doc.py).
ENUM_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "BridgeEventType": {
        BridgeEventType.DOWNLINK_ACCEPTED: "A new version of a downlink document is in force.",
        BridgeEventType.DOWNLINK_REJECTED: "A downlink document failed its checks; the previous "
        "version stays in force and the backend is told why.",
    },
    "DownlinkKind": {
        DownlinkKind.CATALOGUE: "事项目录: the services, their prefixes and names.",
        DownlinkKind.APPOINTMENTS: "当日预约: the day's bookings, loaded into the queue engine.",
        DownlinkKind.ROSTER: "人员排班: staff and the windows they may log in at.",
        DownlinkKind.NOTICES: "大厅公告: notices for the hall screen, with validity times.",
        DownlinkKind.FOLLOW_UPS: "差评整改: follow-up state of bad ratings, from the backend.",
    },
}
