"""Every answer fits the broker's packet limit: a busy day's tickets come in pages, and an answer
that would not fit is an error, never a connection the broker drops again and again."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from queue_fixtures import FakeClock
from test_queue_engine import Hall
from test_queue_engine import clock as clock  # fixtures, used by name
from test_queue_engine import engine as engine
from test_queue_engine import hall as hall
from test_request_log_answers import restarted

from daemons.queue.service import QueueEngine
from hall_bus.client import BusClient
from hall_bus.contract import LIST_PAGE_MAX, DescribeRequest, ResponseStatus
from hall_bus.contract.base import MAX_PAYLOAD_BYTES

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

PRELOADED = 10_000


def _preload(database: Path, count: int) -> None:
    """`count` served tickets copied from the day's one real ticket, straight into the store
    (issuing them one by one would measure something else)."""
    with sqlite3.connect(database) as connection:
        connection.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO tickets (ticket_id, business_day, number, service_id, priority_class,"
            " state, issued_at, queued_at, finished_at) "
            "SELECT business_day || '-Z' || printf('%05d', i), business_day,"
            " 'Z' || printf('%05d', i), service_id, priority_class, 'done', issued_at,"
            " queued_at, issued_at FROM tickets, n",
            (count,))


def test_a_day_of_ten_thousand_tickets_pages_while_others_are_answered(
    engine: QueueEngine, hall: Hall, clock: FakeClock, tmp_path: Path
) -> None:
    database = tmp_path / "queue.sqlite3"
    hall.ok("take_ticket", service_id="household")
    engine.stop()
    _preload(database, PRELOADED)
    engine = restarted(engine, database, clock)
    try:
        hall.wait_ready()

        # Another client keeps asking while the pages go out: it is answered every time.
        other = BusClient(engine.site.hall_id, "asker", engine.site.broker)
        other.start(wait=10)
        answered: list[ResponseStatus] = []
        stop = threading.Event()

        def keep_asking() -> None:
            while not stop.is_set():
                answered.append(other.request(hall.endpoint, "describe", DescribeRequest(),
                                              timeout=10).status)

        asker = threading.Thread(target=keep_asking, daemon=True)
        asker.start()
        pages: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            fields: dict[str, Any] = {"limit": LIST_PAGE_MAX}
            if after:
                fields["after"] = after
            response = hall.ask("list_tickets", timeout=20, **fields)
            assert response.status is ResponseStatus.OK, response.code
            # The full page, as it went on the wire, fits the bus with room to spare.
            assert len(response.model_dump_json()) < MAX_PAYLOAD_BYTES
            pages.append(response.data or {})
            after = pages[-1]["next_after"]
            if after is None:
                break
        stop.set()
        asker.join(30)
        other.stop()

        tickets = [t["ticket_id"] for page in pages for t in page["tickets"]]
        assert len(tickets) == PRELOADED + 1 == len(set(tickets))
        assert len(pages) == (PRELOADED + 1) // LIST_PAGE_MAX + 1
        assert answered and set(answered) == {ResponseStatus.OK}
    finally:
        engine.stop()
