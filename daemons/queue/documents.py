"""Backend documents the engine applies at run time: service catalogue, staff roster, follow-ups.

The site config stays the base. An accepted catalogue or roster is stored (table `documents`, one
row per kind: the version in force and its body) and laid over the base to give the site the
engine works with from then on, also after a restart. What an update may change:

* catalogue: names, expected service minutes and daily limits of the hall's services. It must list
  every service of the hall with its prefix unchanged (today's ticket numbers carry the prefix, and
  windows are wired to services in the site config); services no window of this hall serves are
  ignored, since nobody could call them. Windows, prefixes and new services need a new site config.
* roster: replaces the staff list (who may log in, where). Everyone logged in now must stay on it,
  allowed at the window they are at; otherwise the whole roster is refused.

A refused update changes nothing (the store rolls the action back) and the previous version stays
in force. A version lower than the one in force is refused; the same version again is a no-op, so a
bridge that crashed before recording its own acceptance can simply send it again.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, TypeAdapter

from daemons.queue.rows import DomainError, Tx, to_db
from firmware_config.site import SiteConfig, StaffConfig
from hall_bus.contract.queue_documents import (
    ApplyCatalogueRequest,
    ApplyFollowUpsRequest,
    ApplyRosterRequest,
    CatalogueService,
    DocumentAppliedData,
    FollowUpsAppliedData,
    RosterEntry,
)

CATALOGUE = "catalogue"
ROSTER = "roster"

_SERVICES = TypeAdapter(list[CatalogueService])
_STAFF = TypeAdapter(list[RosterEntry])


def _version_in_force(conn: sqlite3.Connection, kind: str) -> int | None:
    row = conn.execute("SELECT version FROM documents WHERE kind = ?", (kind,)).fetchone()
    return None if row is None else int(row[0])


def _is_new(tx: Tx, kind: str, version: int) -> bool:
    """False for the version in force; refuses an older one."""
    current = _version_in_force(tx.conn, kind)
    if current is not None and version < current:
        raise DomainError(
            "stale_version",
            f"版本{version}早于当前版本{current} / version {version} is older than the "
            f"{kind} in force ({current})",
        )
    return current != version


def _keep(tx: Tx, kind: str, version: int, body: list[Any]) -> None:
    tx.conn.execute(
        "INSERT INTO documents (kind, version, body, applied_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (kind) DO UPDATE SET version = excluded.version, body = excluded.body,"
        " applied_at = excluded.applied_at",
        (kind, version, json.dumps(body, ensure_ascii=False), to_db(tx.now)),
    )


def apply_catalogue(tx: Tx, req: ApplyCatalogueRequest) -> DocumentAppliedData:
    if not _is_new(tx, CATALOGUE, req.version):
        return DocumentAppliedData(kind=CATALOGUE, version=req.version, changed=False)
    listed = {entry.service_id: entry for entry in req.services}
    for service in tx.site.services:
        entry = listed.get(service.id)
        if entry is None:
            raise DomainError(
                "service_missing",
                f"事项目录缺少本厅事项 {service.id} / the catalogue lacks this hall's service "
                f"{service.id!r}",
            )
        if entry.prefix != service.prefix:
            raise DomainError(
                "prefix_changed",
                f"事项 {service.id} 的号码前缀不能在运行中由 {service.prefix} 改为 "
                f"{entry.prefix} / "
                f"the prefix of {service.id!r} cannot change at run time "
                f"({service.prefix} → {entry.prefix})",
            )
    kept = [e for e in req.services if tx.site.service(e.service_id) is not None]
    ignored = [e.service_id for e in req.services if tx.site.service(e.service_id) is None]
    _keep(tx, CATALOGUE, req.version, _SERVICES.dump_python(kept, mode="json"))
    return DocumentAppliedData(kind=CATALOGUE, version=req.version, changed=True, ignored=ignored)


def apply_roster(tx: Tx, req: ApplyRosterRequest) -> DocumentAppliedData:
    if not _is_new(tx, ROSTER, req.version):
        return DocumentAppliedData(kind=ROSTER, version=req.version, changed=False)
    listed = {entry.staff_id: entry for entry in req.staff}
    for entry in req.staff:
        for window_id in entry.windows:
            if tx.site.window(window_id) is None:
                raise DomainError(
                    "unknown_window",
                    f"排班中的窗口不存在：{window_id} / the roster names unknown window "
                    f"{window_id!r} for {entry.staff_id}",
                )
    for row in tx.conn.execute(
        "SELECT window_id, staff_id FROM windows WHERE staff_id IS NOT NULL ORDER BY window_id"
    ):
        person = listed.get(row["staff_id"])
        if person is None or (person.windows and row["window_id"] not in person.windows):
            raise DomainError(
                "staff_logged_in",
                f"{row['staff_id']}正在{row['window_id']}登录，新排班不允许 / "
                f"{row['staff_id']} is logged in at {row['window_id']}, which the new roster "
                "does not allow",
            )
    _keep(tx, ROSTER, req.version, _STAFF.dump_python(req.staff, mode="json"))
    return DocumentAppliedData(kind=ROSTER, version=req.version, changed=True)


def apply_follow_ups(tx: Tx, req: ApplyFollowUpsRequest) -> FollowUpsAppliedData:
    updated = unchanged = unknown = 0
    for update in req.updates:
        row = tx.conn.execute(
            "SELECT follow_up FROM ratings WHERE ticket_id = ?", (update.ticket_id,)
        ).fetchone()
        if row is None or row["follow_up"] == "none":
            unknown += 1
            continue
        # The engine knows two states; work the backend reports as under way is still pending.
        target = "resolved" if update.status == "resolved" else "pending"
        if row["follow_up"] == target:
            unchanged += 1
            continue
        tx.conn.execute(
            "UPDATE ratings SET follow_up = ? WHERE ticket_id = ?", (target, update.ticket_id)
        )
        updated += 1
    return FollowUpsAppliedData(updated=updated, unchanged=unchanged, unknown=unknown)


def effective_site(base: SiteConfig, conn: sqlite3.Connection) -> SiteConfig:
    """The base site with the stored catalogue and roster laid over it."""
    site = base
    rows = {r["kind"]: r["body"] for r in conn.execute("SELECT kind, body FROM documents")}
    if CATALOGUE in rows:
        listed = {e.service_id: e for e in _SERVICES.validate_json(rows[CATALOGUE])}
        services = []
        for service in base.services:
            entry = listed.get(service.id)
            # A site config edited since (a service renamed or added) wins for what is missing.
            if entry is None or entry.prefix != service.prefix:
                services.append(service)
                continue
            services.append(service.model_copy(update={
                "name_zh": entry.name_zh, "name_en": entry.name_en,
                "expected_service_min": entry.expected_service_min,
                "daily_limit": entry.daily_limit or service.daily_limit,
            }))
        site = site.model_copy(update={"services": services})
    if ROSTER in rows:
        titles = {s.id: s.title for s in base.staff}
        # Windows stay as listed: one removed from the site since matches no login, whereas
        # dropping it could leave an empty list, which would mean "any window".
        staff = [
            StaffConfig(id=e.staff_id, name=e.name,
                        title=titles.get(e.staff_id, StaffConfig.model_fields["title"].default),
                        windows=e.windows)
            for e in _STAFF.validate_json(rows[ROSTER])
        ]
        site = site.model_copy(update={"staff": staff})
    return site


HANDLERS: dict[str, Callable[[Tx, Any], BaseModel]] = {
    "apply_catalogue": apply_catalogue,
    "apply_roster": apply_roster,
    "apply_follow_ups": apply_follow_ups,
}
