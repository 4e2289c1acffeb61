"""`day_report`: the figures halls assess windows by, per service, window and staff member.

Read from the engine's own store, so the report agrees with what the engine did: tickets,
no-shows, mean wait (issue → call), mean service time (service start, or the call when the
citizen was finished straight from called, → finish), ratings by level, and staff absences
(`staff_absent` alerts). Waits are measured from issue, not from a transfer: the citizen's wait
in the hall is what is assessed. The chart series counts arrivals and the mean wait of the
tickets called in each bucket of the day.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from daemons.queue.manager_actions import alerts_of_day
from daemons.queue.rows import TICKET_SELECT, Tx, from_db, opt_from_db
from hall_bus.contract import (
    DayReportData,
    DayReportRequest,
    RatingLevel,
    RatingView,
    ReportRow,
    SeriesPoint,
    SupervisionAlert,
    SupervisionKind,
)


@dataclass
class _Tally:
    tickets: int = 0
    served: int = 0
    no_shows: int = 0
    waits: list[float] = field(default_factory=list)
    services: list[float] = field(default_factory=list)
    ratings: dict[str, int] = field(default_factory=dict)
    absences: int = 0

    def add_ticket(self, row: sqlite3.Row) -> None:
        self.tickets += 1
        issued, called = from_db(row["issued_at"]), opt_from_db(row["called_at"])
        began = opt_from_db(row["service_started_at"]) or called
        finished = opt_from_db(row["finished_at"])
        if row["state"] == "done":
            self.served += 1
            if began is not None and finished is not None:
                self.services.append((finished - began).total_seconds())
        elif row["state"] == "no_show":
            self.no_shows += 1
        if called is not None:
            self.waits.append((called - issued).total_seconds())
        if row["rating"]:
            self.ratings[row["rating"]] = self.ratings.get(row["rating"], 0) + 1

    def row(self, key: str, name: str) -> ReportRow:
        return ReportRow(
            key=key, name=name, tickets=self.tickets, served=self.served,
            no_shows=self.no_shows, mean_wait_s=_mean(self.waits),
            mean_service_s=_mean(self.services),
            ratings={level.value: self.ratings.get(level.value, 0) for level in RatingLevel},
            absences=self.absences,
        )


def _mean(values: list[float]) -> int | None:
    return round(sum(values) / len(values)) if values else None


def _tickets(tx: Tx, day: str) -> list[sqlite3.Row]:
    return tx.conn.execute(
        f"{TICKET_SELECT} WHERE t.business_day = ? ORDER BY t.issued_at", (day,)
    ).fetchall()


def _absences(tx: Tx, day: str) -> list[SupervisionAlert]:
    rows = alerts_of_day(tx, day, SupervisionKind.STAFF_ABSENT)
    return [SupervisionAlert.model_validate_json(r["body"]) for r in rows]


def _series(rows: Iterable[sqlite3.Row], tx: Tx, day: str, bucket_min: int) -> list[SeriesPoint]:
    site = tx.site
    opening = datetime.combine(datetime.fromisoformat(day).date(), site.opening_time, site.zone)
    closing = datetime.combine(opening.date(), site.closing_time, site.zone)
    width = timedelta(minutes=bucket_min)
    arrivals: dict[int, int] = defaultdict(int)
    waits: dict[int, list[float]] = defaultdict(list)
    last = max(0, int((closing - opening) / width))
    for row in rows:
        issued = from_db(row["issued_at"])
        slot = max(0, int((issued - opening) / width))
        arrivals[slot] += 1
        last = max(last, slot)
        if row["called_at"]:
            called = from_db(row["called_at"])
            call_slot = max(0, int((called - opening) / width))
            waits[call_slot].append((called - issued).total_seconds())
            last = max(last, call_slot)
    return [
        SeriesPoint(start=opening + slot * width, arrivals=arrivals.get(slot, 0),
                    mean_wait_s=_mean(waits.get(slot, [])))
        for slot in range(last + 1)
    ]


def _ratings(tx: Tx, day: str, limit: int) -> list[RatingView]:
    bad = tuple(level.value for level in RatingLevel if level.is_bad)
    # Every bad one (they are followed up), and the newest others for the page's list.
    rows = tx.conn.execute(
        "SELECT * FROM (SELECT r.*, t.number FROM ratings r JOIN tickets t USING (ticket_id)"
        " WHERE t.business_day = ? AND r.level IN (?, ?)"
        " UNION ALL SELECT * FROM (SELECT r.*, t.number FROM ratings r JOIN tickets t"
        " USING (ticket_id) WHERE t.business_day = ? AND r.level NOT IN (?, ?)"
        " ORDER BY r.rated_at DESC LIMIT ?)) ORDER BY rated_at DESC",
        (day, *bad, day, *bad, limit),
    ).fetchall()
    views = []
    for r in rows:
        level = RatingLevel(r["level"])
        views.append(RatingView(
            ticket_id=r["ticket_id"], number=r["number"], service_id=r["service_id"],
            window_id=r["window_id"], staff_id=r["staff_id"], level=level,
            level_zh=level.label_zh, reason=r["reason"], rated_at=from_db(r["rated_at"]),
            follow_up=r["follow_up"],
        ))
    return views


def _grouped(
    rows: list[sqlite3.Row], key: Callable[[sqlite3.Row], str | None]
) -> dict[str, _Tally]:
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    for row in rows:
        value = key(row)
        if value is not None:
            tallies[value].add_ticket(row)
    return tallies


def day_report(tx: Tx, req: DayReportRequest) -> DayReportData:
    day = req.business_day or tx.day
    site = tx.site
    rows = _tickets(tx, day)
    by_service = _grouped(rows, lambda r: r["service_id"])
    # Waits and service times belong to the window and person that called the ticket.
    by_window = _grouped(rows, lambda r: r["window_id"])
    by_staff = _grouped(rows, lambda r: r["staff_id"])
    for alert in _absences(tx, day):
        if alert.window_id:
            by_window[alert.window_id].absences += 1
        if alert.staff_id:
            by_staff[alert.staff_id].absences += 1
    staff_names = {s.id: s.name for s in site.staff}
    return DayReportData(
        business_day=day,
        services=[by_service[s.id].row(s.id, s.name_zh) for s in site.services],
        windows=[by_window[w.id].row(w.id, w.name_zh) for w in site.windows],
        staff=[by_staff[key].row(key, staff_names.get(key, key)) for key in sorted(by_staff)],
        series=_series(rows, tx, day, req.bucket_min),
        ratings=_ratings(tx, day, req.ratings_limit),
    )
