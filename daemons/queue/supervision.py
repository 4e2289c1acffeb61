"""Threshold checks for e-supervision (电子监察). Pure functions over rows the store reads.

Each finding carries an `occurrence` key besides its subject: the store remembers
(kind, subject, occurrence) and raises each one once, across restarts. The occurrence is the instant
the measured condition began (a ticket's entry into waiting, its call, a window's idle start), so a
ticket that waits again after a transfer or a window that goes idle again is a new occurrence.

* long_wait: a waiting ticket, measured from when it (last) entered the waiting state. A transferred
  ticket keeps its old `queued_at` for ordering, but its citizen was at a window in between, so
  the clock for this alert restarts.
* long_service: a called or serving ticket, measured from its call (recalls do not restart it).
* window_idle: an open, unpaused window without a current ticket while one of its services has
  someone waiting. Measured from the later of the window's idle start and the earliest entry into
  waiting among those tickets: a lower bound of the true duration, so it never alerts early.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from firmware_config.site import Thresholds
from hall_bus.contract import SupervisionAlert, SupervisionKind


@dataclass(frozen=True)
class WaitingRow:
    ticket_id: str
    number: str
    service_id: str
    service_name: str
    waiting_since: datetime


@dataclass(frozen=True)
class ActiveRow:
    """A ticket that is called or being served at a window."""

    ticket_id: str
    number: str
    service_id: str
    window_id: str
    window_name: str
    staff_id: str | None
    called_at: datetime


@dataclass(frozen=True)
class WindowRow:
    window_id: str
    window_name: str
    staff_id: str | None
    paused: bool
    has_current: bool
    mode_since: datetime
    services: Mapping[str, int]


@dataclass(frozen=True)
class Finding:
    alert: SupervisionAlert
    occurrence: str
    ticket_id: str | None = None
    window_id: str | None = None


def _minutes(seconds: float) -> int:
    return int(seconds // 60)


def long_waits(now: datetime, limit_s: int, waiting: Iterable[WaitingRow]) -> list[Finding]:
    found = []
    for row in waiting:
        value = int((now - row.waiting_since).total_seconds())
        if value <= limit_s:
            continue
        message = (
            f"{row.number}号（{row.service_name}）已等候{_minutes(value)}分钟，"
            f"超过{_minutes(limit_s)}分钟 / ticket {row.number} ({row.service_id}) has waited "
            f"{_minutes(value)} min, over the {_minutes(limit_s)} min limit"
        )
        alert = SupervisionAlert(
            kind=SupervisionKind.LONG_WAIT, subject=row.ticket_id, service_id=row.service_id,
            value_s=value, threshold_s=limit_s, message=message,
        )
        found.append(Finding(alert, row.waiting_since.isoformat(), ticket_id=row.ticket_id))
    return found


def long_services(now: datetime, limit_s: int, active: Iterable[ActiveRow]) -> list[Finding]:
    found = []
    for row in active:
        value = int((now - row.called_at).total_seconds())
        if value <= limit_s:
            continue
        message = (
            f"{row.window_name}办理{row.number}号已{_minutes(value)}分钟，超过{_minutes(limit_s)}"
            f"分钟 / window {row.window_id} has been on ticket {row.number} for "
            f"{_minutes(value)} min, over the {_minutes(limit_s)} min limit"
        )
        alert = SupervisionAlert(
            kind=SupervisionKind.LONG_SERVICE, subject=row.ticket_id, window_id=row.window_id,
            service_id=row.service_id, staff_id=row.staff_id, value_s=value, threshold_s=limit_s,
            message=message,
        )
        found.append(Finding(
            alert, row.called_at.isoformat(), ticket_id=row.ticket_id, window_id=row.window_id
        ))
    return found


def idle_windows(
    now: datetime, limit_s: int, windows: Iterable[WindowRow], waiting: Sequence[WaitingRow]
) -> list[Finding]:
    found = []
    for window in windows:
        if window.staff_id is None or window.paused or window.has_current:
            continue
        entries = [w.waiting_since for w in waiting if w.service_id in window.services]
        if not entries:
            continue
        since = max(window.mode_since, min(entries))
        value = int((now - since).total_seconds())
        if value <= limit_s:
            continue
        message = (
            f"{window.window_name}空闲{_minutes(value)}分钟，仍有{len(entries)}人等候 / "
            f"window {window.window_id} idle for {_minutes(value)} min while "
            f"{len(entries)} citizens wait"
        )
        alert = SupervisionAlert(
            kind=SupervisionKind.WINDOW_IDLE, subject=window.window_id,
            window_id=window.window_id, staff_id=window.staff_id, value_s=value,
            threshold_s=limit_s, message=message,
        )
        found.append(Finding(alert, window.mode_since.isoformat(), window_id=window.window_id))
    return found


def staff_absent_alert(
    window_id: str, window_name: str, staff_id: str | None, absent_s: int, grace_s: int
) -> SupervisionAlert:
    """staff_absent comes from a camera, not from a threshold check here: the camera measured the
    empty seat; the engine only confirms the window is open and raises it once."""
    message = (
        f"{window_name}工作人员离岗{_minutes(absent_s)}分钟，超过{_minutes(grace_s)}分钟 / "
        f"staff of window {window_id} away from the seat for {_minutes(absent_s)} min, over the "
        f"{_minutes(grace_s)} min limit"
    )
    return SupervisionAlert(
        kind=SupervisionKind.STAFF_ABSENT, subject=window_id, window_id=window_id,
        staff_id=staff_id, value_s=absent_s, threshold_s=grace_s, message=message,
    )


def find_alerts(
    now: datetime,
    thresholds: Thresholds,
    waiting: Sequence[WaitingRow],
    active: Sequence[ActiveRow],
    windows: Sequence[WindowRow],
) -> list[Finding]:
    """Every threshold currently exceeded; the store drops the ones already raised."""
    return [
        *long_waits(now, round(thresholds.long_wait_min * 60), waiting),
        *long_services(now, round(thresholds.long_service_min * 60), active),
        *idle_windows(now, round(thresholds.window_idle_min * 60), windows, waiting),
    ]
