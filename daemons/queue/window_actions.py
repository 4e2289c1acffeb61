"""Queue actions at a window: staff login/logout, calling, serving, transfer, pause.

Rules worth knowing:
* call_next finishes the window's current ticket (called or serving) before calling the next, so
  one key press on a caller both closes a case and calls the next citizen.
* skip is only for a called ticket (the citizen did not come); someone already being served is
  finished or transferred, not marked a no-show.
* pause is refused while a ticket is current (`window_busy`): the citizen at the window would
  otherwise be stranded and long-service supervision would stop seeing them. Finish, skip or
  transfer first. Pausing a paused window is `window_paused`, resuming an unpaused one
  `window_not_paused`.
* A ticket that goes back to waiting (transfer) keeps `queued_at` — its place in time — and loses
  its window and staff until it is called again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from daemons.queue import policy
from daemons.queue.rows import (
    ACTIVE_STATES,
    DomainError,
    Tx,
    WindowState,
    require_ticket,
    require_window,
    settle_window,
    summary_of,
    update_ticket,
    update_window,
    view_of,
    waiting_candidates,
    window_marker,
)
from hall_bus.contract import (
    CallNextRequest,
    FinishRequest,
    LoginRequest,
    LogoutRequest,
    PauseRequest,
    QueueEventType,
    RecallRequest,
    ResumeRequest,
    SkipRequest,
    StartServiceRequest,
    TicketState,
    TicketView,
    TransferRequest,
    WindowActionData,
    WindowRequest,
    WindowSummary,
)


def _open_window(tx: Tx, window_id: str) -> WindowState:
    state = require_window(tx, window_id)
    if state.staff_id is None:
        raise DomainError("window_closed", "窗口未登录 / nobody is logged in at this window")
    return state


def _current(tx: Tx, req: WindowRequest) -> tuple[WindowState, sqlite3.Row]:
    state = _open_window(tx, req.window_id)
    if state.current_ticket_id is None:
        raise DomainError(
            "no_current_ticket", "窗口当前没有号票 / the window has no current ticket"
        )
    return state, require_ticket(tx, state.current_ticket_id)


def _window_data(
    tx: Tx, window_id: str, ticket: TicketView | None = None, finished: TicketView | None = None
) -> WindowActionData:
    return WindowActionData(window=summary_of(tx, window_id), ticket=ticket, finished=finished)


def _announce(
    tx: Tx, event: QueueEventType, window_id: str, ticket_id: str, **extra: Any
) -> tuple[TicketView, WindowSummary]:
    """The ticket and its window as they are now, told to the hall in one event."""
    view = view_of(tx, ticket_id)
    window = summary_of(tx, window_id)
    tx.emit(event, ticket=view, window=window, **extra)
    return view, window


def _finish_current(tx: Tx, state: WindowState) -> TicketView | None:
    if state.current_ticket_id is None:
        return None
    row = require_ticket(tx, state.current_ticket_id)
    if row["state"] not in ACTIVE_STATES:
        return None
    update_ticket(tx, row["ticket_id"], state=TicketState.DONE.value, finished_at=tx.now)
    update_window(tx, state.window_id, current_ticket_id=None)
    view = view_of(tx, row["ticket_id"])
    tx.emit(QueueEventType.TICKET_FINISHED, ticket=view, window=summary_of(tx, state.window_id))
    return view


def call_next(tx: Tx, req: CallNextRequest) -> WindowActionData:
    state = _open_window(tx, req.window_id)
    if state.paused:
        raise DomainError("window_paused", "窗口已暂停 / the window is paused")
    finished = _finish_current(tx, state)
    services = state.services
    chosen = policy.pick_next(waiting_candidates(tx, services), services, tx.site.priority)
    if chosen is None:
        update_window(tx, state.window_id, current_ticket_id=None)
        return _window_data(tx, state.window_id, finished=finished)
    update_ticket(tx, chosen.ticket_id, state=TicketState.CALLED.value, called_at=tx.now,
                  window_id=state.window_id, staff_id=state.staff_id, waiting_since=None)
    update_window(tx, state.window_id, current_ticket_id=chosen.ticket_id)
    view, window = _announce(tx, QueueEventType.TICKET_CALLED, state.window_id, chosen.ticket_id)
    return WindowActionData(window=window, ticket=view, finished=finished)


def recall(tx: Tx, req: RecallRequest) -> WindowActionData:
    state, row = _current(tx, req)
    update_ticket(tx, row["ticket_id"], recalls=row["recalls"] + 1)
    view, window = _announce(tx, QueueEventType.TICKET_RECALLED, state.window_id, row["ticket_id"])
    return WindowActionData(window=window, ticket=view)


def skip(tx: Tx, req: SkipRequest) -> WindowActionData:
    state, row = _current(tx, req)
    if row["state"] != TicketState.CALLED.value:
        raise DomainError(
            "invalid_state", "只有已叫号未到的号票可以过号 / only a called ticket can be skipped"
        )
    update_ticket(tx, row["ticket_id"], state=TicketState.NO_SHOW.value)
    update_window(tx, state.window_id, current_ticket_id=None)
    view, window = _announce(tx, QueueEventType.TICKET_SKIPPED, state.window_id, row["ticket_id"])
    return WindowActionData(window=window, finished=view)


def start_service(tx: Tx, req: StartServiceRequest) -> WindowActionData:
    state, row = _current(tx, req)
    if row["state"] != TicketState.CALLED.value:
        raise DomainError("invalid_state", "该号票已在办理中 / the ticket is already being served")
    before = window_marker(tx, state.window_id)
    update_ticket(tx, row["ticket_id"], state=TicketState.SERVING.value,
                  service_started_at=tx.now)
    settle_window(tx, state.window_id, before)  # the window's mode moved calling → serving
    view, window = _announce(tx, QueueEventType.SERVICE_STARTED, state.window_id, row["ticket_id"])
    return WindowActionData(window=window, ticket=view)


def finish(tx: Tx, req: FinishRequest) -> WindowActionData:
    state, _row = _current(tx, req)
    finished = _finish_current(tx, state)
    return _window_data(tx, state.window_id, finished=finished)


def transfer(tx: Tx, req: TransferRequest) -> WindowActionData:
    state, row = _current(tx, req)
    target = tx.service(req.to_service_id)
    if target.id == row["service_id"]:
        raise DomainError(
            "same_service", "不能转到同一事项 / the ticket is already in that service"
        )
    update_ticket(tx, row["ticket_id"], service_id=target.id, state=TicketState.WAITING.value,
                  transfers=row["transfers"] + 1, waiting_since=tx.now, called_at=None,
                  service_started_at=None, window_id=None, staff_id=None)
    update_window(tx, state.window_id, current_ticket_id=None)
    view, window = _announce(tx, QueueEventType.TICKET_TRANSFERRED, state.window_id,
                             row["ticket_id"], from_service_id=row["service_id"])
    return WindowActionData(window=window, finished=view)


def pause(tx: Tx, req: PauseRequest) -> WindowActionData:
    state = _open_window(tx, req.window_id)
    if state.paused:
        raise DomainError("window_paused", "窗口已暂停 / the window is already paused")
    if state.current_ticket_id is not None:
        raise DomainError(
            "window_busy", "请先办结当前号票 / finish, skip or transfer the current ticket first"
        )
    update_window(tx, state.window_id, paused=1, pause_reason=req.reason)
    window = summary_of(tx, state.window_id)
    tx.emit(QueueEventType.WINDOW_PAUSED, window=window, detail=req.reason)
    return WindowActionData(window=window)


def resume(tx: Tx, req: ResumeRequest) -> WindowActionData:
    state = _open_window(tx, req.window_id)
    if not state.paused:
        raise DomainError("window_not_paused", "窗口未暂停 / the window is not paused")
    update_window(tx, state.window_id, paused=0, pause_reason=None)
    window = summary_of(tx, state.window_id)
    tx.emit(QueueEventType.WINDOW_RESUMED, window=window)
    return WindowActionData(window=window)


def login(tx: Tx, req: LoginRequest) -> WindowActionData:
    state = require_window(tx, req.window_id)
    staff = tx.site.staff_member(req.staff_id)
    if staff is None:
        raise DomainError(
            "unknown_staff", f"没有该工作人员：{req.staff_id} / unknown staff {req.staff_id!r}"
        )
    if staff.windows and state.window_id not in staff.windows:
        raise DomainError(
            "staff_not_allowed", "该工作人员不能在此窗口登录 / this person may not work here"
        )
    if state.staff_id == staff.id:  # a repeated login changes nothing
        return _window_data(tx, state.window_id)
    if state.staff_id is not None:
        raise DomainError(
            "window_occupied",
            f"窗口已由{state.staff_id}登录 / {state.staff_id} is logged in at this window",
        )
    elsewhere = tx.conn.execute(
        "SELECT window_id FROM windows WHERE staff_id = ?", (staff.id,)
    ).fetchone()
    if elsewhere is not None:
        raise DomainError(
            "staff_elsewhere",
            f"该工作人员已在{elsewhere['window_id']}登录 / already logged in at "
            f"{elsewhere['window_id']}",
        )
    update_window(tx, state.window_id, staff_id=staff.id, paused=0, pause_reason=None)
    window = summary_of(tx, state.window_id)
    tx.emit(QueueEventType.STAFF_LOGIN, window=window, detail=staff.id)
    return WindowActionData(window=window)


def logout(tx: Tx, req: LogoutRequest) -> WindowActionData:
    state = _open_window(tx, req.window_id)
    if state.current_ticket_id is not None:
        raise DomainError(
            "window_busy", "请先办结当前号票 / finish, skip or transfer the current ticket first"
        )
    update_window(tx, state.window_id, staff_id=None, paused=0, pause_reason=None)
    window = summary_of(tx, state.window_id)
    # The summary no longer names the person, so the event says who left.
    tx.emit(QueueEventType.STAFF_LOGOUT, window=window, detail=state.staff_id)
    return WindowActionData(window=window)


HANDLERS: dict[str, Callable[[Tx, Any], BaseModel]] = {
    "call_next": call_next,
    "recall": recall,
    "skip": skip,
    "start_service": start_service,
    "finish": finish,
    "transfer": transfer,
    "pause": pause,
    "resume": resume,
    "login": login,
    "logout": logout,
}
