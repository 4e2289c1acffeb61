"""What the reference backend keeps, in SQLite: received records, documents, reports, requests.

Records are keyed by (hall, event id): a record received twice is stored once, which is what makes
the bridge's at-least-once delivery an exactly-once effect. `arrival` numbers records in the order
the backend first stored them, so a test can check that each hall's records arrived in `seq` order.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS records (arrival INTEGER PRIMARY KEY AUTOINCREMENT,"
    " hall_id TEXT NOT NULL, event_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,"
    " type TEXT NOT NULL, overdue INTEGER NOT NULL, body TEXT NOT NULL, received_at REAL NOT NULL,"
    " UNIQUE (hall_id, event_id))",
    "CREATE INDEX IF NOT EXISTS records_seq ON records (hall_id, seq)",
    "CREATE TABLE IF NOT EXISTS documents (hall_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " version INTEGER NOT NULL, body TEXT NOT NULL, published_at TEXT NOT NULL,"
    " PRIMARY KEY (hall_id, kind))",
    "CREATE TABLE IF NOT EXISTS reports (hall_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " version INTEGER NOT NULL, status TEXT NOT NULL, error TEXT, received_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS requests (n INTEGER PRIMARY KEY AUTOINCREMENT, method TEXT,"
    " path TEXT, status INTEGER, body BLOB)",
)


class OutOfOrder(ValueError):
    """A new record older than one already stored for the hall."""


class BackendStore:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self.duplicates_received = 0  # records sent again by a hall: absorbed, not stored
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                self._db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def store_batch(
        self, hall_id: str, records: list[dict[str, Any]]
    ) -> tuple[list[str], list[str]]:
        """Store new records atomically; return (accepted, duplicates) event ids."""
        accepted: list[str] = []
        duplicates: list[str] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (last_seq,) = self._db.execute(
                    "SELECT COALESCE(MAX(seq), 0) FROM records WHERE hall_id = ?", (hall_id,)
                ).fetchone()
                for record in records:
                    known = self._db.execute(
                        "SELECT 1 FROM records WHERE hall_id = ? AND event_id = ?",
                        (hall_id, record["event_id"]),
                    ).fetchone()
                    if known:
                        duplicates.append(record["event_id"])
                        continue
                    if record["seq"] <= last_seq:
                        raise OutOfOrder(
                            f"record {record['event_id']} seq {record['seq']} after {last_seq}"
                        )
                    last_seq = record["seq"]
                    self._db.execute(
                        "INSERT INTO records (hall_id, event_id, seq, kind, type, overdue, body,"
                        " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (hall_id, record["event_id"], record["seq"], record["kind"],
                         record["type"], int(record.get("overdue", False)),
                         json.dumps(record["body"], ensure_ascii=False), time.time()),
                    )
                    accepted.append(record["event_id"])
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self.duplicates_received += len(duplicates)
        return accepted, duplicates

    def count(self, hall_id: str) -> int:
        with self._lock:
            (n,) = self._db.execute(
                "SELECT COUNT(*) FROM records WHERE hall_id = ?", (hall_id,)
            ).fetchone()
        return int(n)

    def records(self, hall_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, seq, kind, type, overdue, body FROM records WHERE hall_id = ?"
                " ORDER BY arrival",
                (hall_id,),
            ).fetchall()
        return [
            {"event_id": r[0], "seq": r[1], "kind": r[2], "type": r[3], "overdue": bool(r[4]),
             "body": json.loads(r[5])}
            for r in rows
        ]

    def publish(self, hall_id: str, kind: str, version: int, body: dict[str, Any],
                published_at: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO documents (hall_id, kind, version, body, published_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (hall_id, kind) DO UPDATE SET"
                " version = excluded.version, body = excluded.body,"
                " published_at = excluded.published_at",
                (hall_id, kind, version, json.dumps(body, ensure_ascii=False), published_at),
            )

    def documents(self, hall_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, version, body, published_at FROM documents WHERE hall_id = ?"
                " ORDER BY kind",
                (hall_id,),
            ).fetchall()
        return [{"kind": r[0], "version": r[1], "body": json.loads(r[2]), "published_at": r[3]}
                for r in rows]

    def add_report(self, hall_id: str, kind: str, version: int, status: str,
                   error: str | None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO reports (hall_id, kind, version, status, error, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (hall_id, kind, version, status, error, time.time()),
            )

    def reports(self, hall_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, version, status, error FROM reports WHERE hall_id = ? ORDER BY rowid",
                (hall_id,),
            ).fetchall()
        return [{"kind": r[0], "version": r[1], "status": r[2], "error": r[3]} for r in rows]

    def log_request(self, method: str, path: str, status: int, body: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO requests (method, path, status, body) VALUES (?, ?, ?, ?)",
                (method, path, status, body),
            )

    def requests(self) -> list[tuple[str, str, int, bytes]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT method, path, status, body FROM requests ORDER BY n"
            ).fetchall()
        return [(r[0], r[1], int(r[2]), bytes(r[3])) for r in rows]
