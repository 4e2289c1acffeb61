"""Rows of the queue database and the bus views built from them.

Shared by the actions and the store: the transaction context (`Tx`), the domain error, time
encoding, and small queries. Times are stored as UTC ISO 8601 text with microseconds in one fixed
format, so text order is time order and `ORDER BY queued_at` needs no conversion.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from daemons.queue import estimate, policy
from firmware_config.site import ServiceConfig, SiteConfig, WindowConfig
from hall_bus.contract import (
    PriorityClass,
    QueueEvent,
    QueueEventType,
    RatingLevel,
    RatingView,
    SupervisionAlert,
    TicketState,
    TicketView,
    WindowInfo,
    WindowMode,
    WindowSummary,
)

# Ticket columns plus the rating, which TicketView carries.
TICKET_SELECT = (
    "SELECT t.*, r.level AS rating FROM tickets AS t LEFT JOIN ratings AS r USING (ticket_id)"
)
ACTIVE_STATES = (TicketState.CALLED.value, TicketState.SERVING.value)


class DomainError(Exception):
    """A request the queue refuses; becomes an error response, never a crash."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def to_db(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime reached the queue store")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text)


def opt_from_db(text: str | None) -> datetime | None:
    return None if text is None else from_db(text)


@dataclass
class Tx:
    """One open transaction: the connection, the site, the instant and business day it runs at."""

    conn: sqlite3.Connection
    site: SiteConfig
    now: datetime
    day: str
    cause: str | None
    events: list[QueueEvent] = field(default_factory=list)
    actor: str | None = None  # the manager who asked, copied to every event of the request

    def emit(
        self,
        kind: QueueEventType,
        *,
        ticket: TicketView | None = None,
        window: WindowSummary | None = None,
        rating: RatingView | None = None,
        alert: SupervisionAlert | None = None,
        from_service_id: str | None = None,
        detail: str | None = None,
    ) -> QueueEvent:
        # `ts` stays the wall-clock send time (a transport time, see hall_bus/simclock.py);
        # domain times travel inside the ticket, window and alert views.
        event = QueueEvent(
            type=kind, business_day=self.day, ticket=ticket, window=window,
            rating=rating, alert=alert, from_service_id=from_service_id, detail=detail,
            cause=self.cause, actor=self.actor, at=self.now,
        )
        self.events.append(event)
        return event

    def service(self, service_id: str) -> ServiceConfig:
        service = self.site.service(service_id)
        if service is None:
            raise DomainError(
                "unknown_service", f"没有该事项：{service_id} / unknown service {service_id!r}"
            )
        return service


# --- tickets -----------------------------------------------------------------------------------


def ticket_row(tx: Tx, ticket_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = tx.conn.execute(
        f"{TICKET_SELECT} WHERE t.ticket_id = ?", (ticket_id,)
    ).fetchone()
    return row


def require_ticket(tx: Tx, ticket_id: str) -> sqlite3.Row:
    row = ticket_row(tx, ticket_id)
    if row is None:
        raise DomainError(
            "unknown_ticket", f"没有该号票：{ticket_id} / unknown ticket {ticket_id!r}"
        )
    return row


def ticket_view(site: SiteConfig, row: sqlite3.Row) -> TicketView:
    service = site.service(row["service_id"])
    window = site.window(row["window_id"]) if row["window_id"] else None
    return TicketView(
        ticket_id=row["ticket_id"],
        number=row["number"],
        business_day=row["business_day"],
        service_id=row["service_id"],
        service_name=service.name_zh if service else row["service_id"],
        priority_class=PriorityClass(row["priority_class"]),
        state=TicketState(row["state"]),
        issued_at=from_db(row["issued_at"]),
        queued_at=from_db(row["queued_at"]),
        called_at=opt_from_db(row["called_at"]),
        service_started_at=opt_from_db(row["service_started_at"]),
        finished_at=opt_from_db(row["finished_at"]),
        window_id=row["window_id"],
        window_name=window.name_zh if window else None,
        staff_id=row["staff_id"],
        recalls=row["recalls"],
        transfers=row["transfers"],
        reactivated=bool(row["reactivated"]),
        appointment_code=row["appointment_code"],
        citizen_masked_id=row["citizen_masked_id"],
        rating=RatingLevel(row["rating"]) if row["rating"] else None,
    )


def view_of(tx: Tx, ticket_id: str) -> TicketView:
    return ticket_view(tx.site, require_ticket(tx, ticket_id))


_TICKET_COLUMNS = frozenset({
    "service_id", "state", "queued_at", "waiting_since", "called_at", "service_started_at",
    "finished_at", "window_id", "staff_id", "recalls", "transfers", "reactivated", "detail",
})


def update_ticket(tx: Tx, ticket_id: str, **changes: object) -> None:
    unknown = set(changes) - _TICKET_COLUMNS
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    values = [to_db(v) if isinstance(v, datetime) else v for v in changes.values()]
    assignments = ", ".join(f"{name} = ?" for name in changes)
    tx.conn.execute(f"UPDATE tickets SET {assignments} WHERE ticket_id = ?", (*values, ticket_id))


def waiting_candidates(
    tx: Tx, service_ids: Mapping[str, int] | None = None
) -> list[policy.Candidate]:
    rows = tx.conn.execute(
        "SELECT ticket_id, service_id, priority_class, queued_at FROM tickets"
        " WHERE business_day = ? AND state = 'waiting'",
        (tx.day,),
    ).fetchall()
    return [
        policy.Candidate(r["ticket_id"], r["service_id"], PriorityClass(r["priority_class"]),
                         from_db(r["queued_at"]))
        for r in rows
        if service_ids is None or r["service_id"] in service_ids
    ]


# --- windows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowState:
    config: WindowConfig
    staff_id: str | None
    current_ticket_id: str | None
    paused: bool
    pause_reason: str | None
    mode_since: datetime

    @property
    def window_id(self) -> str:
        return self.config.id

    @property
    def services(self) -> dict[str, int]:
        return {entry.service: entry.priority for entry in self.config.services}


def window_state(tx: Tx, window_id: str) -> WindowState | None:
    config = tx.site.window(window_id)
    if config is None:
        return None
    row = tx.conn.execute("SELECT * FROM windows WHERE window_id = ?", (window_id,)).fetchone()
    if row is None:  # a window added to the site config after the store was opened
        tx.conn.execute(
            "INSERT INTO windows (window_id, mode_since) VALUES (?, ?)", (window_id, to_db(tx.now))
        )
        return WindowState(config, None, None, False, None, tx.now)
    return WindowState(config, row["staff_id"], row["current_ticket_id"], bool(row["paused"]),
                       row["pause_reason"], from_db(row["mode_since"]))


def require_window(tx: Tx, window_id: str) -> WindowState:
    state = window_state(tx, window_id)
    if state is None:
        raise DomainError(
            "unknown_window", f"没有该窗口：{window_id} / unknown window {window_id!r}"
        )
    return state


def window_infos(site: SiteConfig) -> list[WindowInfo]:
    """The site's windows with the services each one serves, as `describe` lists them."""
    return [WindowInfo(window_id=w.id, number=w.number, name_zh=w.name_zh, name_en=w.name_en,
                       services=[e.service for e in w.services]) for w in site.windows]


def all_windows(tx: Tx) -> list[WindowState]:
    states = [window_state(tx, w.id) for w in tx.site.windows]
    return [s for s in states if s is not None]


def window_mode(state: WindowState, current: sqlite3.Row | None) -> WindowMode:
    if state.staff_id is None:
        return WindowMode.CLOSED
    if state.paused:
        return WindowMode.PAUSED
    if current is not None and current["state"] == TicketState.SERVING.value:
        return WindowMode.SERVING
    if current is not None and current["state"] == TicketState.CALLED.value:
        return WindowMode.CALLING
    return WindowMode.IDLE


def window_summary(tx: Tx, state: WindowState) -> WindowSummary:
    current = ticket_row(tx, state.current_ticket_id) if state.current_ticket_id else None
    staff = tx.site.staff_member(state.staff_id) if state.staff_id else None
    return WindowSummary(
        window_id=state.window_id,
        number=state.config.number,
        name=state.config.name_zh,
        mode=window_mode(state, current),
        staff_id=state.staff_id,
        staff_name=staff.name if staff else None,
        current_ticket=current["number"] if current else None,
        current_ticket_id=current["ticket_id"] if current else None,
        current_service_id=current["service_id"] if current else None,
        since=state.mode_since,
    )


def summary_of(tx: Tx, window_id: str) -> WindowSummary:
    return window_summary(tx, require_window(tx, window_id))


WindowMarker = tuple[WindowMode, str | None]
_WINDOW_COLUMNS = frozenset({"staff_id", "current_ticket_id", "paused", "pause_reason"})


def window_marker(tx: Tx, window_id: str) -> WindowMarker:
    summary = summary_of(tx, window_id)
    return summary.mode, summary.current_ticket_id


def update_window(tx: Tx, window_id: str, **changes: object) -> None:
    """Change a window row; `mode_since` moves to now when its mode or current ticket changes."""
    unknown = set(changes) - _WINDOW_COLUMNS
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    before = window_marker(tx, window_id)
    if changes:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        tx.conn.execute(
            f"UPDATE windows SET {assignments} WHERE window_id = ?", (*changes.values(), window_id)
        )
    settle_window(tx, window_id, before)


def settle_window(tx: Tx, window_id: str, before: WindowMarker) -> None:
    if window_marker(tx, window_id) != before:
        tx.conn.execute(
            "UPDATE windows SET mode_since = ? WHERE window_id = ?", (to_db(tx.now), window_id)
        )


# --- estimates ---------------------------------------------------------------------------------


def service_durations(tx: Tx, service_id: str) -> list[float]:
    rows = tx.conn.execute(
        "SELECT COALESCE(service_started_at, called_at) AS began, finished_at FROM tickets"
        " WHERE business_day = ? AND service_id = ? AND state = 'done'"
        " AND finished_at IS NOT NULL AND called_at IS NOT NULL",
        (tx.day, service_id),
    ).fetchall()
    return [(from_db(r["finished_at"]) - from_db(r["began"])).total_seconds() for r in rows]


def open_window_services(tx: Tx) -> list[dict[str, int]]:
    return [w.services for w in all_windows(tx) if w.staff_id is not None and not w.paused]


def estimated_wait_s(tx: Tx, service_id: str, people_ahead: int) -> int:
    service = tx.site.service(service_id)
    expected = service.expected_service_min if service else 10.0
    return estimate.estimated_wait_s(
        people_ahead, service_id, service_durations(tx, service_id), expected,
        open_window_services(tx),
    )
