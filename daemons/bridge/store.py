"""The bridge's SQLite store: the outbox of records for the backend and the downlink documents.

A record is committed here before the bus message that carried it is acknowledged to the broker,
so a bridge killed at any instant either has the record or will be sent the message again. The
event id is unique: a message the broker delivers twice is stored once. `seq` gives the order of
upload; a record leaves the pending set only when the backend has confirmed it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hall_bus.contract.bridge import DownlinkKind, RecordKind, UplinkRecord

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS outbox ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,"
    " kind TEXT NOT NULL, type TEXT NOT NULL, occurred_at TEXT NOT NULL, body TEXT NOT NULL,"
    " stored_at REAL NOT NULL, due_at REAL, delivered_at REAL,"
    " attempts INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE delivered_at IS NULL",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS downlinks ("
    " kind TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL, accepted_at REAL)",
    "CREATE TABLE IF NOT EXISTS downlink_rejections ("
    " kind TEXT NOT NULL, version INTEGER NOT NULL, error TEXT NOT NULL, at REAL NOT NULL,"
    " reported INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (kind, version))",
)


@dataclass(frozen=True)
class PendingRecord:
    seq: int
    event_id: str
    kind: RecordKind
    type: str
    occurred_at: str
    body: dict[str, Any]
    due_at: float | None

    def to_uplink(self, now: float) -> UplinkRecord:
        return UplinkRecord.model_validate(
            {
                "event_id": self.event_id,
                "seq": self.seq,
                "kind": self.kind,
                "type": self.type,
                "occurred_at": self.occurred_at,
                "overdue": self.due_at is not None and now > self.due_at,
                "body": self.body,
            }
        )


@dataclass(frozen=True)
class OutboxFigures:
    backlog: int
    oldest_stored_at: float | None
    overdue_ratings: int
    delivered_total: int


@dataclass(frozen=True)
class AcceptedDocument:
    kind: DownlinkKind
    version: int
    body: dict[str, Any]
    accepted_at: float


class BridgeStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        # One connection shared by the bus thread (adds) and the delivery thread; the lock keeps
        # each operation whole. WAL + synchronous=FULL: a commit survives power loss.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            for statement in _SCHEMA:
                self._db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- outbox ---------------------------------------------------------------------------------

    def add(
        self,
        event_id: str,
        kind: RecordKind,
        type_: str,
        occurred_at: datetime,
        body: dict[str, Any],
        *,
        due_at: datetime | None = None,
        now: float | None = None,
    ) -> bool:
        """Store one record; False if its event id was stored before (a redelivery)."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO outbox (event_id, kind, type, occurred_at, body, stored_at,"
                " due_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    event_id,
                    kind.value,
                    type_,
                    occurred_at.isoformat(),
                    json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                    time.time() if now is None else now,
                    due_at.timestamp() if due_at is not None else None,
                ),
            )
            return cursor.rowcount == 1

    def pending(self, limit: int) -> list[PendingRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, kind, type, occurred_at, body, due_at FROM outbox"
                " WHERE delivered_at IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            PendingRecord(row[0], row[1], RecordKind(row[2]), row[3], row[4], json.loads(row[5]),
                          row[6])
            for row in rows
        ]

    def count_attempt(self, seqs: list[int]) -> None:
        with self._lock:
            self._db.executemany(
                "UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?", [(s,) for s in seqs]
            )

    def mark_delivered(self, seqs: list[int], now: float | None = None) -> None:
        at = time.time() if now is None else now
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            before = self._db.total_changes
            self._db.executemany(
                "UPDATE outbox SET delivered_at = ? WHERE seq = ? AND delivered_at IS NULL",
                [(at, s) for s in seqs],
            )
            newly = self._db.total_changes - before
            self._set_meta("last_success_at", str(at))
            self._set_meta("delivered_total", str(self._delivered_total() + newly))
            self._db.execute("COMMIT")

    def prune_delivered(self, older_than_s: float, now: float | None = None) -> int:
        """Forget records confirmed longer ago than `older_than_s`; the outbox would otherwise
        grow for as long as the controller runs. Pending records are never touched."""
        limit = (time.time() if now is None else now) - older_than_s
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?", (limit,)
            )
            return cursor.rowcount

    def _delivered_total(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'delivered_total'").fetchone()
        return int(row[0]) if row is not None else 0

    def figures(self, now: float | None = None) -> OutboxFigures:
        current = time.time() if now is None else now
        with self._lock:
            backlog, oldest = self._db.execute(
                "SELECT COUNT(*), MIN(stored_at) FROM outbox WHERE delivered_at IS NULL"
            ).fetchone()
            (overdue,) = self._db.execute(
                "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND due_at < ?",
                (current,),
            ).fetchone()
            delivered = self._delivered_total()
        return OutboxFigures(int(backlog), oldest, int(overdue), delivered)

    def last_success_at(self) -> float | None:
        value = self._meta("last_success_at")
        return float(value) if value is not None else None

    # --- downlink documents ---------------------------------------------------------------------

    def accepted(self, kind: DownlinkKind) -> AcceptedDocument | None:
        with self._lock:
            row = self._db.execute(
                "SELECT version, body, accepted_at FROM downlinks WHERE kind = ?", (kind.value,)
            ).fetchone()
        if row is None:
            return None
        return AcceptedDocument(kind, row[0], json.loads(row[1]), row[2])

    def accept(self, kind: DownlinkKind, version: int, body: dict[str, Any]) -> AcceptedDocument:
        at = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO downlinks (kind, version, body, accepted_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (kind) DO UPDATE SET version = excluded.version,"
                " body = excluded.body, accepted_at = excluded.accepted_at",
                (kind.value, version, json.dumps(body, ensure_ascii=False), at),
            )
        return AcceptedDocument(kind, version, body, at)

    def reject(self, kind: DownlinkKind, version: int, error: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO downlink_rejections (kind, version, error, at)"
                " VALUES (?, ?, ?, ?)",
                (kind.value, version, error, time.time()),
            )

    def rejected(self, kind: DownlinkKind, version: int) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM downlink_rejections WHERE kind = ? AND version = ?",
                (kind.value, version),
            ).fetchone()
        return row is not None

    # --- meta -----------------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
