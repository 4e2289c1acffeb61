"""Queue actions about tickets, appointments and ratings; one function per action.

Each function runs inside the store's transaction (`Tx`), raises `DomainError` to refuse, and
returns the action's response data model from `contract.QUEUE_ACTIONS`. Window actions live in
`window_actions.py`; `HANDLERS` joins both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from daemons.queue import (
    day_report,
    documents,
    manager_actions,
    notices,
    policy,
    window_actions,
)
from daemons.queue.businessday import business_day
from daemons.queue.rows import (
    TICKET_SELECT,
    DomainError,
    Tx,
    estimated_wait_s,
    from_db,
    require_ticket,
    ticket_view,
    to_db,
    update_ticket,
    view_of,
    waiting_candidates,
    window_infos,
)
from firmware_config.site import ServiceConfig
from hall_bus.contract import (
    QUEUE_ACTIONS,
    AppointmentsLoadedData,
    CancelRequest,
    CheckInRequest,
    DescribeData,
    DescribeRequest,
    ListTicketsRequest,
    LoadAppointmentsRequest,
    PriorityClass,
    QueueEventType,
    RateRequest,
    RatingData,
    RatingView,
    ReactivateRequest,
    ServiceInfo,
    TakeTicketRequest,
    TicketData,
    TicketIssuedData,
    TicketListData,
    TicketState,
)


def _next_number(tx: Tx, service: ServiceConfig) -> str:
    # Counter and ticket are written in the same transaction: a rollback undoes both, so a number
    # is neither skipped nor handed out twice.
    row = tx.conn.execute(
        "SELECT last FROM counters WHERE business_day = ? AND service_id = ?", (tx.day, service.id)
    ).fetchone()
    last = row["last"] if row else 0
    if last >= service.daily_limit:
        raise DomainError(
            "daily_limit_reached",
            f"{service.name_zh}今日号票已发完（{service.daily_limit}张） / "
            f"today's {service.daily_limit} tickets for {service.id!r} are all issued",
        )
    tx.conn.execute(
        "INSERT INTO counters (business_day, service_id, last) VALUES (?, ?, ?)"
        " ON CONFLICT (business_day, service_id) DO UPDATE SET last = excluded.last",
        (tx.day, service.id, last + 1),
    )
    width = 4 if service.daily_limit > 999 else 3
    return f"{service.prefix}{last + 1:0{width}d}"


def _issue(
    tx: Tx,
    service: ServiceConfig,
    priority_class: PriorityClass,
    source: str | None,
    citizen_masked_id: str | None,
    appointment_code: str | None = None,
) -> TicketIssuedData:
    number = _next_number(tx, service)
    ticket_id = f"{tx.day}-{number}"
    now = to_db(tx.now)
    tx.conn.execute(
        "INSERT INTO tickets (ticket_id, business_day, number, service_id, priority_class, state,"
        " issued_at, queued_at, waiting_since, source, citizen_masked_id, appointment_code)"
        " VALUES (?, ?, ?, ?, ?, 'waiting', ?, ?, ?, ?, ?, ?)",
        (ticket_id, tx.day, number, service.id, priority_class.value, now, now, now, source,
         citizen_masked_id, appointment_code),
    )
    view = view_of(tx, ticket_id)
    own = policy.Candidate(ticket_id, service.id, priority_class, tx.now)
    ahead = policy.people_ahead(own, waiting_candidates(tx), tx.site.priority)
    tx.emit(QueueEventType.TICKET_ISSUED, ticket=view)
    return TicketIssuedData(
        ticket=view, people_ahead=ahead, estimated_wait_s=estimated_wait_s(tx, service.id, ahead)
    )


def take_ticket(tx: Tx, req: TakeTicketRequest) -> TicketIssuedData:
    return _issue(tx, tx.service(req.service_id), req.priority_class, req.source,
                  req.citizen_masked_id)


def check_in(tx: Tx, req: CheckInRequest) -> TicketIssuedData:
    row = (_appointment_by_code(tx, req.appointment_code) if req.appointment_code is not None
           else _appointment_by_digest(tx, req.citizen_id_digest or ""))
    code = row["code"]
    masked_id = row["citizen_masked_id"] or req.citizen_masked_id
    issued = _issue(tx, tx.service(row["service_id"]), PriorityClass.APPOINTMENT, req.source,
                    masked_id, appointment_code=code)
    tx.conn.execute(
        "UPDATE appointments SET ticket_id = ? WHERE code = ?", (issued.ticket.ticket_id, code)
    )
    # The check-in event goes first so listeners see why the ticket that follows exists.
    issued_event = tx.events.pop()
    tx.emit(QueueEventType.APPOINTMENT_CHECKED_IN, ticket=issued.ticket, detail=code)
    tx.events.append(issued_event)
    return issued


def _slot_day(tx: Tx, row: sqlite3.Row) -> str:
    return business_day(from_db(row["slot_start"]), tx.site.zone, tx.site.opening_time)


def _appointment_by_code(tx: Tx, code: str) -> sqlite3.Row:
    row: sqlite3.Row | None = tx.conn.execute(
        "SELECT * FROM appointments WHERE code = ?", (code,)
    ).fetchone()
    if row is None:
        raise DomainError(
            "unknown_appointment", f"没有该预约：{code} / unknown appointment {code!r}"
        )
    if row["ticket_id"] is not None:
        raise DomainError(
            "appointment_used",
            f"该预约已取号（{row['ticket_id']}） / appointment already checked in "
            f"as {row['ticket_id']}",
        )
    slot_day = _slot_day(tx, row)
    if slot_day != tx.day:
        raise DomainError(
            "appointment_not_today",
            f"预约日期为{slot_day}，不是今天 / the appointment is for {slot_day}, not today",
        )
    return row


def _appointment_by_digest(tx: Tx, digest: str) -> sqlite3.Row:
    """The citizen's earliest appointment of today not yet checked in.

    A citizen may book several services on one day; each ID-card scan checks in the next one, so
    the first scan is the slot that comes first. The errors never echo the digest: it is as
    identifying as the number to anyone holding the hall's key.
    """
    rows = tx.conn.execute(
        "SELECT * FROM appointments WHERE citizen_id_digest = ? ORDER BY slot_start, code",
        (digest,),
    ).fetchall()
    if not rows:
        raise DomainError("unknown_appointment",
                          "该身份证没有预约 / no appointment for this ID card")
    today = [row for row in rows if _slot_day(tx, row) == tx.day]
    if not today:
        raise DomainError("appointment_not_today",
                          "该身份证的预约不是今天 / this ID card's appointments are not for today")
    unused = [row for row in today if row["ticket_id"] is None]
    if not unused:
        raise DomainError(
            "appointment_used",
            "该身份证今天的预约都已取号 / today's appointments of this ID card are all checked in",
        )
    first: sqlite3.Row = unused[0]
    return first


def load_appointments(tx: Tx, req: LoadAppointmentsRequest) -> AppointmentsLoadedData:
    replaced = 0
    for item in req.appointments:
        exists = tx.conn.execute(
            "SELECT 1 FROM appointments WHERE code = ?", (item.code,)
        ).fetchone()
        replaced += exists is not None
        # A replaced appointment keeps its ticket: re-sending the day's list from the backend
        # must not allow a second check-in.
        tx.conn.execute(
            "INSERT INTO appointments (code, service_id, slot_start, slot_end, citizen_masked_name,"
            " citizen_masked_id, citizen_id_digest, loaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (code) DO UPDATE SET service_id = excluded.service_id,"
            " slot_start = excluded.slot_start, slot_end = excluded.slot_end,"
            " citizen_masked_name = excluded.citizen_masked_name,"
            " citizen_masked_id = excluded.citizen_masked_id,"
            " citizen_id_digest = excluded.citizen_id_digest, loaded_at = excluded.loaded_at",
            (item.code, item.service_id, to_db(item.slot_start), to_db(item.slot_end),
             item.citizen_masked_name, item.citizen_masked_id, item.citizen_id_digest,
             to_db(tx.now)),
        )
    return AppointmentsLoadedData(loaded=len(req.appointments), replaced=replaced)


def rate(tx: Tx, req: RateRequest) -> RatingData:
    row = require_ticket(tx, req.ticket_id)
    if row["state"] not in (TicketState.DONE.value, TicketState.SERVING.value):
        raise DomainError("not_served", "该号票尚未办理，不能评价 / the ticket was not served yet")
    if row["rating"] is not None:
        raise DomainError("already_rated", "该号票已评价 / the ticket is already rated")
    limit_h = tx.site.ratings.late_rating_limit_h
    if row["finished_at"] and tx.now - from_db(row["finished_at"]) > timedelta(hours=limit_h):
        raise DomainError(
            "rating_expired",
            f"已超过{limit_h:g}小时评价期限 / the {limit_h:g} h rating period is over",
        )
    reason = (req.reason or "").strip() or None
    if req.level.is_bad and reason is None:
        raise DomainError(
            "reason_required", "差评须填写原因 / a reason is required for a negative rating"
        )
    follow_up = "pending" if req.level.is_bad else "none"
    tx.conn.execute(
        "INSERT INTO ratings (ticket_id, level, reason, rated_at, window_id, staff_id, service_id,"
        " follow_up, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (row["ticket_id"], req.level.value, reason, to_db(tx.now), row["window_id"],
         row["staff_id"], row["service_id"], follow_up, req.source),
    )
    rating = RatingView(
        ticket_id=row["ticket_id"], number=row["number"], service_id=row["service_id"],
        window_id=row["window_id"], staff_id=row["staff_id"], level=req.level,
        level_zh=req.level.label_zh, reason=reason, rated_at=tx.now, follow_up=follow_up,
    )
    tx.emit(QueueEventType.RATING_GIVEN, ticket=view_of(tx, row["ticket_id"]), rating=rating)
    return RatingData(rating=rating)


def reactivate(tx: Tx, req: ReactivateRequest) -> TicketData:
    row = require_ticket(tx, req.ticket_id)
    if row["state"] != TicketState.NO_SHOW.value:
        raise DomainError(
            "not_no_show", "只有过号的号票可以恢复 / only a no-show ticket can return"
        )
    if row["reactivated"]:
        raise DomainError("already_reactivated", "过号票只能恢复一次 / a ticket returns only once")
    if row["business_day"] != tx.day:
        raise DomainError("ticket_not_today", "该号票不是今天的 / the ticket is not from today")
    # Back into the queue with its original queued_at: the citizen keeps their place in time.
    update_ticket(tx, row["ticket_id"], state=TicketState.WAITING.value, reactivated=1,
                  waiting_since=tx.now, called_at=None, service_started_at=None, window_id=None,
                  staff_id=None)
    view = view_of(tx, row["ticket_id"])
    tx.emit(QueueEventType.TICKET_REACTIVATED, ticket=view)
    return TicketData(ticket=view)


def cancel(tx: Tx, req: CancelRequest) -> TicketData:
    row = require_ticket(tx, req.ticket_id)
    if row["state"] not in (TicketState.WAITING.value, TicketState.NO_SHOW.value):
        raise DomainError(
            "invalid_state",
            f"号票状态为{row['state']}，不能取消 / a {row['state']} ticket cannot be cancelled",
        )
    update_ticket(tx, row["ticket_id"], state=TicketState.CANCELLED.value, detail=req.reason,
                  waiting_since=None)
    view = view_of(tx, row["ticket_id"])
    tx.emit(QueueEventType.TICKET_CANCELLED, ticket=view, detail=req.reason)
    return TicketData(ticket=view)


def list_tickets(tx: Tx, req: ListTicketsRequest) -> TicketListData:
    day = req.business_day or tx.day
    clauses, params = ["t.business_day = ?"], [day]
    if req.states:
        clauses.append(f"t.state IN ({', '.join('?' * len(req.states))})")
        params.extend(s.value for s in req.states)
    if req.service_id:
        clauses.append("t.service_id = ?")
        params.append(req.service_id)
    if req.window_id:
        clauses.append("t.window_id = ?")
        params.append(req.window_id)
    if req.after:
        # Keyset paging in issue order: a page never repeats or skips a ticket, however many
        # are issued between two pages.
        clauses.append("(t.issued_at, t.ticket_id) > "
                       "(SELECT issued_at, ticket_id FROM tickets WHERE ticket_id = ?)")
        params.append(req.after)
    rows = tx.conn.execute(
        f"{TICKET_SELECT} WHERE {' AND '.join(clauses)} ORDER BY t.issued_at, t.ticket_id LIMIT ?",
        (*params, req.limit),
    ).fetchall()
    tickets = [ticket_view(tx.site, r) for r in rows]
    more = len(tickets) == req.limit
    return TicketListData(business_day=day, tickets=tickets,
                          next_after=tickets[-1].ticket_id if more else None)


def describe(tx: Tx, req: DescribeRequest) -> DescribeData:
    site = tx.site
    return DescribeData(
        hall_id=site.hall_id,
        name=site.name_zh,
        business_day=tx.day,
        services=[ServiceInfo(service_id=s.id, prefix=s.prefix, name_zh=s.name_zh,
                              name_en=s.name_en) for s in site.services],
        windows=window_infos(site),
        actions=list(QUEUE_ACTIONS),
    )


# Handlers take the action's own request model; the store validates the type before the call.
Handler = Callable[[Tx, Any], BaseModel]

HANDLERS: dict[str, Handler] = {
    "describe": describe,
    "take_ticket": take_ticket,
    "check_in": check_in,
    "load_appointments": load_appointments,
    "rate": rate,
    "reactivate": reactivate,
    "cancel": cancel,
    "list_tickets": list_tickets,
    **window_actions.HANDLERS,
    **documents.HANDLERS,
    **manager_actions.HANDLERS,
    **notices.HANDLERS,
    "day_report": day_report.day_report,
}

# Reads: no request log entry (a repeated read is harmless) and no state change.
READ_ONLY = frozenset({"describe", "list_tickets", "list_alerts", "day_report"})
