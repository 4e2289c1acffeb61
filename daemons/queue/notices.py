"""The duty manager's notice to the hall, kept by the engine like every other manager action.

A notice is a row of `notices` written in the request's transaction, with who posted it and, once
it is off the screens, who withdrew it (null when it ran out by itself). The engine, not the
console, publishes the retained `HallNotice` that hall screens and the announcer follow, and it
publishes it from this table: after a restart the notice in force is retained again with its
own id (so an announcer that already said it stays quiet), and one that ran out while the engine
was down is withdrawn.

`until` is read by the screens against the wall clock, so the engine checks it against the wall
clock too, not the hall's (possibly simulated) domain clock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from daemons.queue.rows import DomainError, Tx, from_db, opt_from_db, to_db
from hall_bus.contract import (
    NoticeData,
    NoticeRecord,
    PostNoticeRequest,
    QueueEventType,
    WithdrawNoticeRequest,
)
from hall_bus.contract.notice import HallNotice
from hall_bus.contract.queue import NOTICE_MAX_MIN
from hall_bus.ids import utc_now

ACTIONS = frozenset({"post_notice", "withdraw_notice"})
WITHDRAWN, REPLACED, EXPIRED = "withdrawn", "replaced", "expired"


def _require_actor(actor: str | None) -> str:
    if actor is None:
        raise DomainError("actor_required", "须注明发布人 / say which manager does it")
    return actor


def _latest(conn: sqlite3.Connection) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM notices ORDER BY rowid DESC LIMIT 1"
    ).fetchone()
    return row


def _row(conn: sqlite3.Connection, notice_id: str) -> sqlite3.Row:
    row: sqlite3.Row = conn.execute(
        "SELECT * FROM notices WHERE notice_id = ?", (notice_id,)
    ).fetchone()
    return row


def _record(row: sqlite3.Row) -> NoticeRecord:
    return NoticeRecord(
        notice=HallNotice.model_validate_json(row["body"]),
        posted_by=row["posted_by"],
        posted_at=from_db(row["posted_at"]),
        withdrawn_by=row["withdrawn_by"],
        withdrawn_at=opt_from_db(row["withdrawn_at"]),
    )


def _in_force(conn: sqlite3.Connection) -> sqlite3.Row | None:
    row = _latest(conn)
    return row if row is not None and row["withdrawal"] is None else None


def _withdraw(tx: Tx, row: sqlite3.Row, actor: str | None, why: str) -> NoticeRecord:
    # The empty notice that replaces it on the bus is stored too, so a restart retains the same
    # message (same id) instead of a new one.
    withdrawal = HallNotice(text_zh="", speak=False, actor=actor)
    tx.conn.execute(
        "UPDATE notices SET withdrawal = ?, withdrawn_by = ?, withdrawn_at = ?"
        " WHERE notice_id = ?",
        (withdrawal.model_dump_json(), actor, to_db(tx.now), row["notice_id"]),
    )
    tx.emit(QueueEventType.NOTICE_WITHDRAWN, detail=why)
    return _record(_row(tx.conn, row["notice_id"]))


def post_notice(tx: Tx, req: PostNoticeRequest) -> NoticeData:
    actor = _require_actor(req.actor)
    now = utc_now()
    if req.until <= now:
        raise DomainError("notice_over", "公告结束时间已过 / the notice's end time has passed")
    if req.until > now + timedelta(minutes=NOTICE_MAX_MIN):
        raise DomainError(
            "notice_too_long",
            f"公告最长{NOTICE_MAX_MIN // 60}小时 / a notice runs at most "
            f"{NOTICE_MAX_MIN // 60} hours",
        )
    previous = _in_force(tx.conn)
    if previous is not None:
        # A new notice replaces the one on the screens; one that already ran out just ended.
        ran_out = from_db(previous["until"]) <= now
        _withdraw(tx, previous, None if ran_out else actor, EXPIRED if ran_out else REPLACED)
    notice = HallNotice(text_zh=req.text_zh.strip(), text_en=req.text_en, until=req.until,
                        speak=req.speak, actor=actor)
    tx.conn.execute(
        "INSERT INTO notices (notice_id, body, posted_by, posted_at, until)"
        " VALUES (?, ?, ?, ?, ?)",
        (notice.id, notice.model_dump_json(), actor, to_db(tx.now), to_db(req.until)),
    )
    tx.emit(QueueEventType.NOTICE_POSTED, detail=notice.text_zh)
    return NoticeData(record=_record(_row(tx.conn, notice.id)))


def withdraw_notice(tx: Tx, req: WithdrawNoticeRequest) -> NoticeData:
    actor = _require_actor(req.actor)
    row = _in_force(tx.conn)
    if row is None:
        raise DomainError("no_notice", "当前没有公告 / no notice is in force")
    if req.notice_id is not None and req.notice_id != row["notice_id"]:
        raise DomainError("not_in_force", "该公告已不在显示 / that notice is no longer in force")
    return NoticeData(record=_withdraw(tx, row, actor, WITHDRAWN))


def ran_out(conn: sqlite3.Connection, wall_now: datetime) -> bool:
    """The notice in force has passed its `until` (a read, so checking often costs no sync)."""
    row = _in_force(conn)
    return row is not None and from_db(row["until"]) <= wall_now


def expire(tx: Tx, wall_now: datetime) -> bool:
    """Withdraw the notice in force if its `until` has passed (nobody withdrew it)."""
    row = _in_force(tx.conn)
    if row is None or from_db(row["until"]) > wall_now:
        return False
    _withdraw(tx, row, None, EXPIRED)
    return True


def retained(conn: sqlite3.Connection) -> HallNotice | None:
    """What the notice topic must hold: the notice in force, the withdrawal of the last one, or
    None when no notice was ever posted here (then the engine leaves the topic alone)."""
    row = _latest(conn)
    if row is None:
        return None
    return HallNotice.model_validate_json(row["withdrawal"] or row["body"])


HANDLERS: dict[str, Callable[[Tx, Any], BaseModel]] = {
    "post_notice": post_notice,
    "withdraw_notice": withdraw_notice,
}
