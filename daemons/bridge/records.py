"""From a queue event on the bus to the record the backend receives.

A rating becomes a `RatingRecord` with the fields the 好差评 rules ask for; everything else travels
as the bus event itself, classified by kind. Personal data is masked again here even though the
bus contract already refuses full ID numbers: the backend is outside the hall, so the bridge does
not rely on every sender having masked well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hall_bus.contract.bridge import RATING_SCORES, RatingRecord, RecordKind, rating_due
from hall_bus.contract.queue import QueueEvent, QueueEventType
from hall_bus.id_numbers import mask_id_numbers

_DIGIT_RUN = re.compile(r"\d{6,}")

_WINDOW_TYPES = {
    QueueEventType.WINDOW_PAUSED,
    QueueEventType.WINDOW_RESUMED,
    QueueEventType.STAFF_LOGIN,
    QueueEventType.STAFF_LOGOUT,
    QueueEventType.BUSINESS_DAY_STARTED,
}


def mask_id(value: str) -> str:
    """Keep at most the first four and last four characters of an ID-like string."""
    visible = [c for c in value if c != "*"]
    if len(value) <= 8:
        return "*" * len(value)
    return "".join(visible[:4]) + "*" * (len(value) - 8) + "".join(visible[-4:])


def mask_text(text: str) -> str:
    """Hide full ID numbers however typed (hall_bus/id_numbers.py), then any run of six or more
    digits (phone or account numbers typed into a reason)."""
    return _DIGIT_RUN.sub(lambda m: mask_id(m.group(0)), mask_id_numbers(text))


@dataclass(frozen=True)
class OutboundRecord:
    event_id: str
    kind: RecordKind
    type: str
    occurred_at: datetime
    body: dict[str, Any]
    due_at: datetime | None = None


def record_for(event: QueueEvent, rating_limit_h: float) -> OutboundRecord:
    if event.type is QueueEventType.RATING_GIVEN and event.rating is not None:
        rating = event.rating
        ticket = event.ticket
        due = rating_due(rating.rated_at, rating_limit_h)
        rating_body = RatingRecord(
            ticket_id=rating.ticket_id,
            number=rating.number,
            service_id=rating.service_id,
            service_name=ticket.service_name if ticket else None,
            window_id=rating.window_id,
            staff_id=rating.staff_id,
            rated_at=rating.rated_at,
            level=rating.level,
            score=RATING_SCORES[rating.level],
            level_zh=rating.level_zh,
            reason=mask_text(rating.reason) if rating.reason else None,
            appointment_code=ticket.appointment_code if ticket else None,
            citizen_masked_id=(
                mask_id(ticket.citizen_masked_id) if ticket and ticket.citizen_masked_id else None
            ),
            due_at=due,
        )
        return OutboundRecord(
            event.id, RecordKind.RATING, event.type.value, rating.rated_at,
            rating_body.model_dump(mode="json", exclude_none=True), due,
        )
    if event.type is QueueEventType.SUPERVISION_ALERT:
        kind = RecordKind.SUPERVISION
    elif event.type in _WINDOW_TYPES:
        kind = RecordKind.WINDOW_EVENT
    else:
        kind = RecordKind.TICKET_EVENT
    body = event.model_dump(mode="json", exclude_none=True)
    ticket_body = body.get("ticket")
    if isinstance(ticket_body, dict) and ticket_body.get("citizen_masked_id"):
        ticket_body["citizen_masked_id"] = mask_id(str(ticket_body["citizen_masked_id"]))
    return OutboundRecord(event.id, kind, event.type.value, event.ts, body)
