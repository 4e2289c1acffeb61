"""Queue actions of the duty manager's console: supervision alerts and moving a service.

Alerts are kept whole in the `alerts` table when raised (`record_alert`), so the console can list
the day's alerts after any restart and a manager's acknowledgement (who, when, a note) stays with
the alert. A service moved to another window is stored per window in `window_services` and laid
over the site config (`with_window_services`) until a manager moves it again: the sign above the
window does not change overnight either.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, TypeAdapter

from daemons.queue.businessday import business_day
from daemons.queue.rows import (
    DomainError,
    Tx,
    from_db,
    opt_from_db,
    require_window,
    to_db,
    window_infos,
)
from firmware_config.site import SiteConfig, WindowServiceConfig
from hall_bus.contract import (
    AcknowledgeAlertRequest,
    AlertData,
    AlertListData,
    AlertRecord,
    AssignServiceRequest,
    ListAlertsRequest,
    QueueEventType,
    ServiceAssignedData,
    SupervisionAlert,
    SupervisionKind,
)

_SERVICES = TypeAdapter(list[WindowServiceConfig])

# Actions after which the store lays the site over again.
SITE_CHANGING = frozenset({"assign_service"})


def record_alert(tx: Tx, alert: SupervisionAlert, occurrence: str) -> SupervisionAlert | None:
    """Store an alert once per (kind, subject, occurrence); the alert with its id, or None if it
    was raised before."""
    cursor = tx.conn.execute(
        "INSERT OR IGNORE INTO alerts (kind, subject, occurrence, raised_at) VALUES (?, ?, ?, ?)",
        (alert.kind.value, alert.subject, occurrence, to_db(tx.now)),
    )
    if not cursor.rowcount:
        return None
    numbered = alert.model_copy(update={"alert_id": str(cursor.lastrowid)})
    tx.conn.execute(
        "UPDATE alerts SET body = ? WHERE rowid = ?",
        (numbered.model_dump_json(), cursor.lastrowid),
    )
    return numbered


def _record(row: sqlite3.Row) -> AlertRecord:
    return AlertRecord(
        alert=SupervisionAlert.model_validate_json(row["body"]),
        raised_at=from_db(row["raised_at"]),
        acknowledged_by=row["acknowledged_by"],
        acknowledged_at=opt_from_db(row["acknowledged_at"]),
    )


def alerts_of_day(tx: Tx, day: str, kind: SupervisionKind | None = None) -> list[sqlite3.Row]:
    """The alerts raised on business day `day` (of one kind if given), newest first."""
    # Alerts from before the console existed have no body; there is nothing to show of them.
    wanted = kind.value if kind is not None else None
    rows = tx.conn.execute(
        "SELECT * FROM alerts WHERE body IS NOT NULL AND (?1 IS NULL OR kind = ?1)"
        " ORDER BY rowid DESC",
        (wanted,),
    ).fetchall()
    site = tx.site
    return [
        row for row in rows
        if business_day(from_db(row["raised_at"]), site.zone, site.opening_time) == day
    ]


def list_alerts(tx: Tx, req: ListAlertsRequest) -> AlertListData:
    day = req.business_day or tx.day
    records = [_record(row) for row in alerts_of_day(tx, day)]
    return AlertListData(business_day=day, alerts=records[: req.limit])


def acknowledge_alert(tx: Tx, req: AcknowledgeAlertRequest) -> AlertData:
    if req.actor is None:
        raise DomainError("actor_required", "须注明确认人 / say who acknowledges the alert")
    number = int(req.alert_id) if req.alert_id.isdigit() else -1
    row = tx.conn.execute(
        "SELECT * FROM alerts WHERE rowid = ? AND body IS NOT NULL", (number,)
    ).fetchone()
    if row is None:
        raise DomainError("unknown_alert", f"没有该告警：{req.alert_id} / unknown alert")
    if row["acknowledged_by"] is not None:
        raise DomainError(
            "already_acknowledged",
            f"该告警已由{row['acknowledged_by']}确认 / already acknowledged by "
            f"{row['acknowledged_by']}",
        )
    tx.conn.execute(
        "UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ?, note = ? WHERE rowid = ?",
        (req.actor, to_db(tx.now), req.note, number),
    )
    updated = tx.conn.execute("SELECT * FROM alerts WHERE rowid = ?", (number,)).fetchone()
    record = _record(updated)
    tx.emit(QueueEventType.ALERT_ACKNOWLEDGED, alert=record.alert, detail=req.note)
    return AlertData(record=record)


def assign_service(tx: Tx, req: AssignServiceRequest) -> ServiceAssignedData:
    site = tx.site
    tx.service(req.service_id)
    target = require_window(tx, req.to_window_id).config
    changes: dict[str, list[WindowServiceConfig]] = {}
    kept = [e for e in target.services if e.service != req.service_id]
    changes[target.id] = sorted(
        [*kept, WindowServiceConfig(service=req.service_id, priority=req.priority)],
        key=lambda e: e.priority,
    )
    if req.from_window_id is not None:
        source = require_window(tx, req.from_window_id).config
        if source.id == target.id:
            raise DomainError("same_window", "移出与移入为同一窗口 / from and to are one window")
        left = [e for e in source.services if e.service != req.service_id]
        if len(left) == len(source.services):
            raise DomainError(
                "not_served_there",
                f"{source.name_zh}未办理该事项 / window {source.id} does not serve "
                f"{req.service_id}",
            )
        if not left:
            raise DomainError(
                "last_service",
                f"{source.name_zh}至少保留一个事项 / a window keeps at least one service",
            )
        changes[source.id] = left
    for window_id, services in changes.items():
        tx.conn.execute(
            "INSERT INTO window_services (window_id, body, actor, changed_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (window_id) DO UPDATE SET body = excluded.body,"
            " actor = excluded.actor, changed_at = excluded.changed_at",
            (window_id, _SERVICES.dump_json(services).decode(), req.actor, to_db(tx.now)),
        )
    moved = with_window_services(site, tx.conn)
    tx.site = moved
    detail = json.dumps(
        {"service_id": req.service_id, "to": req.to_window_id, "from": req.from_window_id},
        ensure_ascii=False,
    )
    tx.emit(QueueEventType.SERVICE_ASSIGNED, detail=detail)
    return ServiceAssignedData(windows=window_infos(moved))


def with_window_services(site: SiteConfig, conn: sqlite3.Connection) -> SiteConfig:
    """`site` with the services managers moved laid over its windows."""
    stored = {r["window_id"]: r["body"] for r in conn.execute("SELECT * FROM window_services")}
    if not stored:
        return site
    known = {s.id for s in site.services}
    windows = []
    for window in site.windows:
        body = stored.get(window.id)
        services = [e for e in _SERVICES.validate_json(body) if e.service in known] if body else []
        # A service removed from the site config since leaves the configured list in force.
        windows.append(window.model_copy(update={"services": services}) if services else window)
    return site.model_copy(update={"windows": windows})


HANDLERS: dict[str, Callable[[Tx, Any], BaseModel]] = {
    "list_alerts": list_alerts,
    "acknowledge_alert": acknowledge_alert,
    "assign_service": assign_service,
}
