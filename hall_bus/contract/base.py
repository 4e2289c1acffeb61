"""The envelope every bus payload shares, and the request/response conventions.

Every JSON payload is a `Message`: an integer schema version `v`, a unique sortable `id` and a UTC
`ts`. Readers ignore unknown keys so that newer senders do not break older readers. Commands are
`Request`s with a `deadline`; a responder answers on the matching `response/<action>` topic with a
`Response` whose `id` is the request's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
)

from hall_bus.id_numbers import refuse_id_number
from hall_bus.ids import new_id, rfc3339, utc_now

SCHEMA_VERSION = 1

Name = Annotated[str, Field(pattern=r"^[a-z0-9_-]+$", min_length=1, max_length=64)]
Timestamp = Annotated[AwareDatetime, PlainSerializer(rfc3339, return_type=str, when_used="json")]

# The largest MQTT packet the hall's broker accepts (firmware_config/mosquitto/hall.conf is
# rendered with it); a bigger one makes Mosquitto drop the sender's connection. Every answer the
# bus sends must fit with room for its topic and headers: lists page, documents come in parts.
MAX_PACKET_BYTES = 1_048_576
MAX_PAYLOAD_BYTES = MAX_PACKET_BYTES - 4096

MaskedText = Annotated[str, AfterValidator(refuse_id_number), Field(max_length=64)]


def _real_day(value: str) -> str:
    date.fromisoformat(value)  # a real day: 2026-02-30 is refused, not an internal error
    return value


# A business day, YYYY-MM-DD.
BusinessDay = Annotated[
    str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD."),
    AfterValidator(_real_day),
]
# Document versions only grow; the bound keeps them inside SQLite's integers (and JSON's exact
# range), so a huge number is refused at the door instead of overflowing in the store.
Version = Annotated[int, Field(ge=1, le=2**53)]

# Free text a person types (reasons, notes): anything but a full ID number, in any form.
FreeText = Annotated[str, AfterValidator(refuse_id_number)]
# A notice line fits the hall screen's scrolling row; the bound sits in the type (not on the
# field) so the published schema states the limit that is enforced.
NOTICE_TEXT_MAX = 60
NoticeText = Annotated[
    str, Field(max_length=NOTICE_TEXT_MAX), AfterValidator(refuse_id_number)
]


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

    attempt: int = Field(
        default=1,
        ge=1,
        le=10000,
        description="1 when first sent. A requester that got no answer sends the same request "
        "(same id) again with a higher attempt, and is answered again without a second execution.",
    )

    actor: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9_-]{1,32}$",
        description="Who asked, when a person did: the manager's login at the console. The queue "
        "engine logs it with the request and copies it to the events the request caused.",
    )

    def expired(self, now: datetime | None = None) -> bool:
        return (now or utc_now()) > self.deadline


class ResponseStatus(StrEnum):
    OK = "ok"
    ERROR = "error"


class Response(Message):
    """Answer to a request; `id` repeats the request's id."""

    status: ResponseStatus = Field(description="Whether the action was done.")
    code: str | None = Field(default=None, description="Machine-readable error code.")
    error: str | None = Field(default=None, description="Human-readable error (Chinese / English).")
    data: dict[str, Any] | None = Field(
        default=None,
        description="When `status` is `ok`: the action's result model (see each action); "
        "absent on error.",
    )

    @classmethod
    def ok(cls, request_id: str, data: BaseModel | dict[str, Any] | None = None) -> Response:
        payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
        return cls(id=request_id, status=ResponseStatus.OK, data=payload)

    @classmethod
    def fail(cls, request_id: str, code: str, error: str) -> Response:
        return cls(id=request_id, status=ResponseStatus.ERROR, code=code, error=error)


@dataclass(frozen=True)
class Action:
    name: str
    request: type[Request]
    data: type[BaseModel]
    summary: str
