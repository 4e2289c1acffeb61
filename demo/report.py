"""The day's figures of a demo run, computed from what the queue engine reports over the bus."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from hall_bus.contract import (
    RATING_LABELS_ZH,
    QueueEvent,
    QueueEventType,
    RatingLevel,
    TicketState,
    TicketView,
)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def build_report(
    tickets: list[TicketView], events: list[QueueEvent], extra: dict[str, Any]
) -> dict[str, Any]:
    states = Counter(ticket.state for ticket in tickets)
    waits_min = [
        (ticket.called_at - ticket.issued_at).total_seconds() / 60
        for ticket in tickets
        if ticket.called_at is not None
    ]
    service_min = [
        (ticket.finished_at - ticket.service_started_at).total_seconds() / 60
        for ticket in tickets
        if ticket.finished_at is not None and ticket.service_started_at is not None
    ]
    ratings = Counter(ticket.rating for ticket in tickets if ticket.rating is not None)
    alerts = Counter(
        event.alert.kind.value
        for event in events
        if event.type is QueueEventType.SUPERVISION_ALERT and event.alert is not None
    )
    by_service: dict[str, dict[str, int]] = {}
    for ticket in tickets:
        row = by_service.setdefault(ticket.service_id, {"issued": 0, "done": 0})
        row["issued"] += 1
        row["done"] += ticket.state is TicketState.DONE
    return {
        "tickets": {
            "issued": len(tickets),
            "called": sum(1 for t in tickets if t.called_at is not None),
            "done": states[TicketState.DONE],
            "no_show": states[TicketState.NO_SHOW],
            "cancelled": states[TicketState.CANCELLED],
            "still_waiting": states[TicketState.WAITING],
            "in_service": states[TicketState.CALLED] + states[TicketState.SERVING],
            "transferred": sum(1 for t in tickets if t.transfers),
            "by_service": by_service,
        },
        "wait_min": {
            "mean": round(sum(waits_min) / len(waits_min), 2) if waits_min else 0.0,
            "p95": round(percentile(waits_min, 0.95), 2),
            "max": round(max(waits_min), 2) if waits_min else 0.0,
        },
        "service_min": {
            "mean": round(sum(service_min) / len(service_min), 2) if service_min else 0.0,
        },
        "ratings": {
            level.value: {"label_zh": RATING_LABELS_ZH[level], "count": ratings[level]}
            for level in RatingLevel
        },
        "ratings_total": sum(ratings.values()),
        "bad_ratings": sum(ratings[level] for level in RatingLevel if level.is_bad),
        "supervision_events": dict(alerts),
        "events_seen": len(events),
        **extra,
    }
