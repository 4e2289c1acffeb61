"""What the console's questions cost the queue engine: `day_report` and `list_alerts` on a busy day.

    python bench/day_report_bench.py [--tickets 1500]

The store alone (the engine runs one request at a time, so while it answers these it answers
nothing else). A day of `--tickets` citizens at the demo hall's 16 windows: each ticket is taken,
called, served and finished, four in five rated, and every tenth a staff absence reported, so
the alerts table fills as on a restless day. Then each read is timed 50 times; the console
asks both once after connecting and every 10 s.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import bench_site, percentile

from daemons.queue.store import QueueStore
from hall_bus.contract import (
    QUEUE_ACTIONS,
    DayReportRequest,
    ListAlertsRequest,
    Request,
    ResponseStatus,
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 4, 0, 40, tzinfo=UTC)  # 08:40 in Shanghai

    def __call__(self) -> datetime:
        return self.now


def _do(store: QueueStore, action: str, **fields: object) -> dict[str, object]:
    request: Request = QUEUE_ACTIONS[action].request(**fields)
    response = store.execute(action, request).response
    return response.data or {} if response.status is ResponseStatus.OK else {}


def fill_day(store: QueueStore, clock: Clock, tickets: int) -> int:
    site = store.site
    staff = iter(site.staff)
    windows = []
    for window in site.windows:
        person = next((p for p in staff if not p.windows or window.id in p.windows), None)
        if person is not None and _do(store, "login", window_id=window.id, staff_id=person.id):
            windows.append(window)
    step = timedelta(seconds=8 * 3600 / tickets)
    served = 0
    for index, window in zip(range(tickets), itertools.cycle(windows), strict=False):
        clock.now += step
        _do(store, "take_ticket", service_id=window.services[0].service)
        called = _do(store, "call_next", window_id=window.id).get("ticket")
        if isinstance(called, dict):
            _do(store, "start_service", window_id=window.id)
            _do(store, "finish", window_id=window.id)
            served += 1
            if index % 5:
                _do(store, "rate", ticket_id=called["ticket_id"], level="satisfied")
        if index % 10 == 0:
            store.check_supervision()
            store.record_staff_absence(window.id, clock.now, 400, 300)
    return served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="day-report-bench-") as folder:
        clock = Clock()
        store = QueueStore(Path(folder) / "queue.sqlite3", bench_site(), clock)
        served = fill_day(store, clock, args.tickets)
        for action, request in (("day_report", DayReportRequest()),
                                ("list_alerts", ListAlertsRequest())):
            times = []
            for _ in range(50):
                started = time.perf_counter()
                outcome = store.execute(action, request.model_copy(update={"id": f"r{_}"}))
                times.append((time.perf_counter() - started) * 1000)
                assert outcome.response.status is ResponseStatus.OK
            size = len(outcome.response.model_dump_json())
            print(f"{action}: p50 {percentile(times, 0.5):.1f} ms, p95 "
                  f"{percentile(times, 0.95):.1f} ms, answer {size / 1024:.0f} KiB "
                  f"({args.tickets} tickets, {served} served)")
        store.close()


if __name__ == "__main__":
    main()
