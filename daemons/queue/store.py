"""The durable queue store: SQLite schema, one transaction per request, request log and outbox.

Every request runs in one `BEGIN IMMEDIATE … COMMIT`: the state change, the request-log row that
holds its response, and the outbox rows that hold its events commit together. After `kill -9` a
request therefore either fully happened (its ticket, its response and its events are on disk) or
not at all, and a retried request id gets the stored response instead of a second ticket. A
refused request (`DomainError`) rolls back to a savepoint, so its state change vanishes but its
error response is still logged and repeated to a retry.

`synchronous=FULL` makes the commit durable before `execute` returns, so a ticket number is on disk
before it is printed or announced. Not thread-safe: one thread at a time uses the store (the
engine serialises access); the connection may be created in another thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ValidationError

from daemons.queue import actions, documents, manager_actions, notices, supervision
from daemons.queue.businessday import business_day
from daemons.queue.rows import (
    DomainError,
    Tx,
    all_windows,
    estimated_wait_s,
    from_db,
    summary_of,
    to_db,
    view_of,
    window_state,
    window_summary,
)
from firmware_config.site import SiteConfig
from hall_bus import errors
from hall_bus.contract import (
    QUEUE_ACTIONS,
    QueueEvent,
    QueueEventType,
    QueueSummaryState,
    Request,
    Response,
    ServiceSummary,
    SupervisionAlert,
    TicketState,
)
from hall_bus.contract.notice import HallNotice
from hall_bus.ids import utc_now

BUSY_TIMEOUT_MS = 5000
# Request ids are retried within seconds; three days covers a weekend-long outage of a sender.
KEEP_LOG = timedelta(days=3)

# Index i upgrades a database from user_version i to i + 1. Append, never edit.
MIGRATIONS: list[list[str]] = [
    [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE counters (business_day TEXT NOT NULL, service_id TEXT NOT NULL,"
        " last INTEGER NOT NULL, PRIMARY KEY (business_day, service_id))",
        "CREATE TABLE tickets ("
        " ticket_id TEXT PRIMARY KEY, business_day TEXT NOT NULL, number TEXT NOT NULL,"
        " service_id TEXT NOT NULL, priority_class TEXT NOT NULL, state TEXT NOT NULL,"
        " issued_at TEXT NOT NULL, queued_at TEXT NOT NULL, waiting_since TEXT,"
        " called_at TEXT, service_started_at TEXT, finished_at TEXT,"
        " window_id TEXT, staff_id TEXT,"
        " recalls INTEGER NOT NULL DEFAULT 0, transfers INTEGER NOT NULL DEFAULT 0,"
        " reactivated INTEGER NOT NULL DEFAULT 0,"
        " appointment_code TEXT, citizen_masked_id TEXT, source TEXT, detail TEXT,"
        " UNIQUE (business_day, number))",
        "CREATE INDEX tickets_day_state ON tickets (business_day, state)",
        "CREATE INDEX tickets_state ON tickets (state)",
        "CREATE TABLE windows ("
        " window_id TEXT PRIMARY KEY, staff_id TEXT UNIQUE,"
        " current_ticket_id TEXT REFERENCES tickets (ticket_id),"
        " paused INTEGER NOT NULL DEFAULT 0, pause_reason TEXT, mode_since TEXT NOT NULL)",
        "CREATE TABLE appointments ("
        " code TEXT PRIMARY KEY, service_id TEXT NOT NULL, slot_start TEXT NOT NULL,"
        " slot_end TEXT NOT NULL, citizen_masked_name TEXT, citizen_masked_id TEXT,"
        " loaded_at TEXT NOT NULL, ticket_id TEXT REFERENCES tickets (ticket_id))",
        "CREATE TABLE ratings ("
        " ticket_id TEXT PRIMARY KEY REFERENCES tickets (ticket_id), level TEXT NOT NULL,"
        " reason TEXT, rated_at TEXT NOT NULL, window_id TEXT, staff_id TEXT,"
        " service_id TEXT NOT NULL, follow_up TEXT NOT NULL, source TEXT)",
        "CREATE TABLE request_log (request_id TEXT PRIMARY KEY, action TEXT NOT NULL,"
        " response TEXT NOT NULL, created_at TEXT NOT NULL)",
        "CREATE INDEX request_log_created ON request_log (created_at)",
        # AUTOINCREMENT: sequence numbers are never reused after published rows are pruned.
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL,"
        " created_at TEXT NOT NULL, published_at TEXT)",
        "CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL",
        "CREATE TABLE alerts (kind TEXT NOT NULL, subject TEXT NOT NULL,"
        " occurrence TEXT NOT NULL, raised_at TEXT NOT NULL,"
        " PRIMARY KEY (kind, subject, occurrence))",
    ],
    [
        # Check-in by ID card: the booking backend's keyed digest of the citizen's ID number.
        "ALTER TABLE appointments ADD COLUMN citizen_id_digest TEXT",
        "CREATE INDEX appointments_digest ON appointments (citizen_id_digest)"
        " WHERE citizen_id_digest IS NOT NULL",
    ],
    [
        # Backend documents in force (daemons/queue/documents.py): one row per kind.
        "CREATE TABLE documents (kind TEXT PRIMARY KEY, version INTEGER NOT NULL,"
        " body TEXT NOT NULL, applied_at TEXT NOT NULL)",
    ],
    [
        # The manager console: who asked for each request, alerts kept whole with their
        # acknowledgement, services moved between windows (daemons/queue/manager_actions.py).
        "ALTER TABLE request_log ADD COLUMN actor TEXT",
        "ALTER TABLE alerts ADD COLUMN body TEXT",
        "ALTER TABLE alerts ADD COLUMN acknowledged_by TEXT",
        "ALTER TABLE alerts ADD COLUMN acknowledged_at TEXT",
        "ALTER TABLE alerts ADD COLUMN note TEXT",
        "CREATE TABLE window_services (window_id TEXT PRIMARY KEY, body TEXT NOT NULL,"
        " actor TEXT, changed_at TEXT NOT NULL)",
    ],
    [
        # The managers' notice to the hall (daemons/queue/notices.py): the retained message
        # while in force (`body`) and after it came off the screens (`withdrawal`), with who.
        "CREATE TABLE notices (notice_id TEXT PRIMARY KEY, body TEXT NOT NULL,"
        " posted_by TEXT NOT NULL, posted_at TEXT NOT NULL, until TEXT NOT NULL,"
        " withdrawal TEXT, withdrawn_by TEXT, withdrawn_at TEXT)",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class Outcome:
    response: Response
    events: list[QueueEvent]  # also stored in the outbox in the same transaction
    duplicate: bool  # request id seen before: the stored response, no events, nothing changed


class QueueStore:
    def __init__(
        self, db_path: Path, site: SiteConfig, clock: Callable[[], datetime] = utc_now
    ) -> None:
        # `site` is the site config with the accepted backend documents laid over it.
        self.base_site = site
        self.site = site
        self.clock = clock
        self._conn = sqlite3.connect(
            str(db_path), isolation_level=None, check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        self._conn.row_factory = sqlite3.Row
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"SQLite refused WAL mode for {db_path} (got {mode})")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._migrate()
        self.site = self._effective_site()

    def close(self) -> None:
        self._conn.close()

    def _effective_site(self) -> SiteConfig:
        """The site config with the accepted backend documents and the managers' service moves
        laid over it."""
        return manager_actions.with_window_services(
            documents.effective_site(self.base_site, self._conn), self._conn
        )

    # --- schema ----------------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._immediate():
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"queue database schema {version} is newer than this program ({SCHEMA_VERSION})"
                )
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            now = to_db(self.clock())
            self._conn.executemany(
                "INSERT OR IGNORE INTO windows (window_id, mode_since) VALUES (?, ?)",
                [(w.id, now) for w in self.site.windows],
            )

    # --- transactions ----------------------------------------------------------------------------

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        """`BEGIN IMMEDIATE … COMMIT`, or `ROLLBACK` and re-raise on any exception: a request
        is applied whole or not at all. IMMEDIATE takes the write lock at once, so a reader
        never has to upgrade its lock half-way (the engine is the only writer anyway)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._rollback()
            raise
        self._conn.execute("COMMIT")

    @contextmanager
    def _transaction(self) -> Iterator[Tx]:
        """A write transaction with its context, the business day rolled first if it changed;
        the events it emitted go to the outbox in the same commit."""
        with self._immediate():
            tx = self._open(cause=None)
            yield tx
            self._queue_events(tx)

    def _open(self, cause: str | None) -> Tx:
        """Inside a write transaction: the context, after rolling the business day if needed."""
        now = self.clock()
        stored = self._meta("business_day")
        today = business_day(now, self.site.zone, self.site.opening_time)
        # The business day never goes back: a clock stepped back across opening time must not
        # reopen yesterday's counters.
        tx = Tx(self._conn, self.site, now, max(today, stored or today), cause)
        if stored != tx.day:
            self._start_day(tx, stored)
        return tx

    def _queue_events(self, tx: Tx) -> None:
        self._conn.executemany(
            "INSERT INTO outbox (event, created_at) VALUES (?, ?)",
            [(event.model_dump_json(), to_db(tx.now)) for event in tx.events],
        )

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _start_day(self, tx: Tx, previous: str | None) -> None:
        active = (TicketState.WAITING.value, TicketState.CALLED.value, TicketState.SERVING.value)
        closed = self._conn.execute(
            "UPDATE tickets SET state = 'cancelled', detail = 'day_closed', waiting_since = NULL"
            " WHERE business_day < ? AND state IN (?, ?, ?)",
            (tx.day, *active),
        ).rowcount
        # Staff stay logged in across the boundary; current tickets and pauses do not.
        self._conn.execute(
            "UPDATE windows SET current_ticket_id = NULL, paused = 0, pause_reason = NULL,"
            " mode_since = ? WHERE staff_id IS NOT NULL OR current_ticket_id IS NOT NULL",
            (to_db(tx.now),),
        )
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES ('business_day', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (tx.day,),
        )
        horizon = to_db(tx.now - KEEP_LOG)
        self._conn.execute("DELETE FROM request_log WHERE created_at < ?", (horizon,))
        self._conn.execute(
            "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?", (horizon,)
        )
        self._conn.execute("DELETE FROM alerts WHERE raised_at < ?", (horizon,))
        detail = f"previous={previous or '-'} closed_tickets={closed}"
        tx.emit(QueueEventType.BUSINESS_DAY_STARTED, detail=detail)

    # --- requests ---------------------------------------------------------------------------------

    def execute(self, action: str, request: Request) -> Outcome:
        with self._immediate():
            stored = self._conn.execute(
                "SELECT response, action FROM request_log WHERE request_id = ?", (request.id,)
            ).fetchone()
            if stored is not None and stored["action"] != action:
                # Not the repeat of a request: someone reused an id. Refused, not executed, and
                # not the other action's answer passed off as this one's.
                return Outcome(Response.fail(
                    request.id, errors.INVALID_PAYLOAD,
                    f"请求编号已被占用 / request id {request.id} was already used for "
                    f"{stored['action']}"), [], duplicate=False)
            if stored is not None:
                return Outcome(Response.model_validate_json(stored[0]), [], duplicate=True)
            tx = self._open(cause=request.id)
            tx.actor = request.actor
            response = self._run(tx, action, request)
            if action not in actions.READ_ONLY:
                stored_json = response.model_dump_json()
                self._conn.execute(
                    "INSERT INTO request_log (request_id, action, response, created_at, actor)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (request.id, action, stored_json, to_db(tx.now), request.actor),
                )
                # Answer with exactly what a retry will get (JSON keeps milliseconds only).
                response = Response.model_validate_json(stored_json)
            self._queue_events(tx)
        if action in documents.HANDLERS or action in manager_actions.SITE_CHANGING:
            self.site = self._effective_site()
        return Outcome(response, list(tx.events), duplicate=False)

    def stored_response(self, action: str, request_id: str) -> Response | None:
        """The answer this store gave `request_id` for `action`, if it executed it (the request
        log keeps `KEEP_LOG`)."""
        row = self._conn.execute(
            "SELECT response FROM request_log WHERE request_id = ? AND action = ?",
            (request_id, action),
        ).fetchone()
        return None if row is None else Response.model_validate_json(row[0])

    def _run(self, tx: Tx, action: str, request: Request) -> Response:
        spec = QUEUE_ACTIONS.get(action)
        handler = actions.HANDLERS.get(action)
        if spec is None or handler is None:
            return Response.fail(
                request.id, "unknown_action", f"未知操作：{action} / unknown action {action!r}"
            )
        typed: Request = request
        if not isinstance(request, spec.request):
            try:
                typed = spec.request.model_validate(request.model_dump())
            except ValidationError as exc:
                return Response.fail(
                    request.id, "invalid_payload",
                    f"请求格式错误 / invalid request: {exc.errors()[0]['msg']}",
                )
        kept = len(tx.events)
        self._conn.execute("SAVEPOINT action")
        try:
            data: BaseModel = handler(tx, typed)
        except DomainError as exc:
            # Undo the refused action's changes but keep the day roll that preceded it.
            self._conn.execute("ROLLBACK TO action")
            self._conn.execute("RELEASE action")
            del tx.events[kept:]
            return Response.fail(request.id, exc.code, exc.message)
        self._conn.execute("RELEASE action")
        if not isinstance(data, spec.data):
            raise TypeError(f"{action} returned {type(data).__name__}, not {spec.data.__name__}")
        return Response.ok(request.id, data)

    # --- state, supervision and outbox ------------------------------------------------------------

    def summary(self) -> QueueSummaryState:
        """The retained state of the current business day (rolls the day if it changed)."""
        with self._transaction() as tx:
            return self._summary(tx)

    def _summary(self, tx: Tx) -> QueueSummaryState:
        counts = {
            (r["service_id"], r["state"]): r["n"]
            for r in self._conn.execute(
                "SELECT service_id, state, count(*) AS n FROM tickets WHERE business_day = ?"
                " GROUP BY service_id, state",
                (tx.day,),
            )
        }

        def total(state: TicketState) -> int:
            return sum(n for (_, s), n in counts.items() if s == state.value)

        services = []
        for service in self.site.services:
            waiting = counts.get((service.id, TicketState.WAITING.value), 0)
            last = self._conn.execute(
                "SELECT number FROM tickets WHERE business_day = ? AND service_id = ?"
                " AND called_at IS NOT NULL ORDER BY called_at DESC LIMIT 1",
                (tx.day, service.id),
            ).fetchone()
            services.append(ServiceSummary(
                service_id=service.id, name=service.name_zh, prefix=service.prefix,
                waiting=waiting, estimated_wait_s=estimated_wait_s(tx, service.id, waiting),
                last_called=last["number"] if last else None,
            ))
        return QueueSummaryState(
            hall_id=self.site.hall_id,
            business_day=tx.day,
            services=services,
            windows=[window_summary(tx, w) for w in all_windows(tx)],
            issued_today=sum(counts.values()),
            done_today=total(TicketState.DONE),
            no_show_today=total(TicketState.NO_SHOW),
            waiting=total(TicketState.WAITING),
        )

    def check_supervision(self) -> list[QueueEvent]:
        """Raise each newly exceeded threshold once; returns the events (also in the outbox)."""
        with self._transaction() as tx:
            for finding in supervision.find_alerts(
                tx.now, self.site.thresholds, *self._supervision_rows(tx)
            ):
                alert = manager_actions.record_alert(tx, finding.alert, finding.occurrence)
                if alert is not None:
                    tx.emit(
                        QueueEventType.SUPERVISION_ALERT, alert=alert,
                        ticket=view_of(tx, finding.ticket_id) if finding.ticket_id else None,
                        window=summary_of(tx, finding.window_id) if finding.window_id else None,
                    )
        return list(tx.events)

    def record_staff_absence(
        self, window_id: str, absent_since: datetime, absent_s: int, grace_s: int
    ) -> list[QueueEvent]:
        """A camera saw the seat of `window_id` empty since `absent_since`: raise `staff_absent`
        once per window and absence start, and only while the window is open (staff logged in,
        not paused) by the engine's own state. Returns the events (also in the outbox)."""
        with self._transaction() as tx:
            state = window_state(tx, window_id)
            if state is not None and state.staff_id is not None and not state.paused:
                alert = manager_actions.record_alert(
                    tx,
                    supervision.staff_absent_alert(
                        window_id, state.config.name_zh, state.staff_id, absent_s, grace_s
                    ),
                    to_db(absent_since),
                )
                if alert is not None:
                    tx.emit(QueueEventType.SUPERVISION_ALERT, alert=alert,
                            window=summary_of(tx, window_id))
        return list(tx.events)

    def raise_alert(self, alert: SupervisionAlert, occurrence: str) -> list[QueueEvent]:
        """A device fault or crowding reported on the bus: raised once per subject and occurrence.
        Returns the events (also in the outbox)."""
        with self._transaction() as tx:
            recorded = manager_actions.record_alert(tx, alert, occurrence)
            if recorded is not None:
                known = alert.window_id is not None and tx.site.window(alert.window_id)
                window = summary_of(tx, alert.window_id) if known and alert.window_id else None
                tx.emit(QueueEventType.SUPERVISION_ALERT, alert=recorded, window=window)
        return list(tx.events)

    def _supervision_rows(self, tx: Tx) -> tuple[
        list[supervision.WaitingRow], list[supervision.ActiveRow], list[supervision.WindowRow]
    ]:
        def service_name(service_id: str) -> str:
            service = self.site.service(service_id)
            return service.name_zh if service else service_id

        def window_name(window_id: str) -> str:
            window = self.site.window(window_id)
            return window.name_zh if window else window_id

        tickets = self._conn.execute(
            "SELECT * FROM tickets WHERE business_day = ? AND state IN ('waiting', 'called',"
            " 'serving')",
            (tx.day,),
        ).fetchall()
        waiting = [
            supervision.WaitingRow(r["ticket_id"], r["number"], r["service_id"],
                                   service_name(r["service_id"]),
                                   from_db(r["waiting_since"] or r["queued_at"]))
            for r in tickets if r["state"] == TicketState.WAITING.value
        ]
        active = [
            supervision.ActiveRow(r["ticket_id"], r["number"], r["service_id"], r["window_id"],
                                  window_name(r["window_id"]), r["staff_id"],
                                  from_db(r["called_at"]))
            for r in tickets
            if r["state"] != TicketState.WAITING.value and r["window_id"] and r["called_at"]
        ]
        windows = [
            supervision.WindowRow(w.window_id, w.config.name_zh, w.staff_id, w.paused,
                                  w.current_ticket_id is not None, w.mode_since, w.services)
            for w in all_windows(tx)
        ]
        return waiting, active, windows

    def retained_notice(self) -> HallNotice | None:
        """The managers' notice the bus must hold (daemons/queue/notices.py)."""
        return notices.retained(self._conn)

    def expire_notice(self, wall_now: datetime) -> list[QueueEvent]:
        """Withdraw the notice in force if it ran out; the events (also in the outbox)."""
        if not notices.ran_out(self._conn, wall_now):
            return []
        with self._transaction() as tx:
            notices.expire(tx, wall_now)
        return list(tx.events)

    def pending_events(self, limit: int = 500) -> list[tuple[int, QueueEvent]]:
        rows = self._conn.execute(
            "SELECT seq, event FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [(row["seq"], QueueEvent.model_validate_json(row["event"])) for row in rows]

    def mark_published(self, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        now = to_db(self.clock())
        with self._immediate():
            self._conn.executemany(
                "UPDATE outbox SET published_at = ? WHERE seq = ? AND published_at IS NULL",
                [(now, seq) for seq in seqs],
            )
