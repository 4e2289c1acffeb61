"""Kill the queue engine with SIGKILL at random moments during a stream of requests, and check
that no ticket was lost or numbered twice.

Requesters behave like real kiosks and callers: a request that got no answer is sent again with
the same id until it is answered, so every request is eventually acknowledged exactly once in
effect. After the last kill the engine is started once more and the whole day is listed:
- every acknowledged ticket is present, with the number it was acknowledged with;
- ticket numbers per service run 1..N without gaps or repeats;
- there are exactly as many tickets as distinct take_ticket requests (none executed twice);
- no more tickets are current (called or serving) than there are windows.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.engine_process import EngineProcess, write_site
from firmware_config.site import SiteConfig
from hall_bus import errors
from hall_bus.client import BusClient, BusTimeout
from hall_bus.contract import (
    LIST_PAGE_MAX,
    CallNextRequest,
    DescribeRequest,
    ListTicketsRequest,
    LoginRequest,
    Request,
    Response,
    ResponseStatus,
    TakeTicketRequest,
    TicketListData,
    every_ticket,
)
from hall_bus.ids import utc_now
from hall_bus.topics import queue_endpoint

ENGINE_READY_TIMEOUT_S = 20.0


@dataclass
class CrashResult:
    kills: int = 0
    requests_sent: int = 0
    retries: int = 0
    tickets_acknowledged: int = 0
    calls_acknowledged: int = 0
    tickets_found: int = 0
    restart_s: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Requester(threading.Thread):
    """Sends requests one after another, re-sending an unanswered one with the same id."""

    def __init__(self, harness: CrashHarness, index: int) -> None:
        super().__init__(name=f"requester-{index}", daemon=True)
        self.harness = harness
        self.rng = random.Random(harness.seed * 1000 + index)
        self.index = index

    def run(self) -> None:
        harness = self.harness
        windows = [w.id for w in harness.site.windows]
        services = [s.id for s in harness.site.services]
        while not harness.requesters_stop.is_set():
            request: Request
            if self.rng.random() < 0.75:
                request = TakeTicketRequest(service_id=self.rng.choice(services))
                action = "take_ticket"
            else:
                request = CallNextRequest(window_id=windows[self.index % len(windows)])
                action = "call_next"
            response = harness.send_until_answered(action, request)
            if response is None:
                return
            harness.record(action, request, response)


class CrashHarness:
    def __init__(
        self,
        site: SiteConfig,
        workdir: Path,
        seed: int = 1,
        requesters: int = 4,
        request_timeout_s: float = 0.5,
    ) -> None:
        self.site = site.model_copy(update={"data_dir": workdir})
        self.workdir = workdir
        self.seed = seed
        self.rng = random.Random(seed)
        self.request_timeout_s = request_timeout_s
        self.endpoint = queue_endpoint(site.hall_id)
        site_path = write_site(self.site, workdir / "site.yaml")
        self.engine = EngineProcess(site_path, workdir / "queue.sqlite3", workdir / "queue.log")
        self.bus = BusClient(site.hall_id, "crash-test", site.broker)
        self.requesters_stop = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.result = CrashResult()
        self.acknowledged: dict[str, str] = {}  # ticket_id -> number as acknowledged
        self.take_requests: set[str] = set()
        self.requesters = [Requester(self, i) for i in range(requesters)]

    def send_until_answered(self, action: str, request: Request) -> Response | None:
        """Send, and send again with the same id and a higher attempt, until answered; None once
        stopping."""
        number = 0
        while not self.stopping.is_set():
            number += 1
            copy = request.model_copy(
                update={
                    "deadline": utc_now() + timedelta(seconds=self.request_timeout_s),
                    "attempt": number,
                }
            )
            with self.lock:
                self.result.requests_sent += 1
                self.result.retries += number > 1
            try:
                response = self.bus.request(
                    self.endpoint, action, copy, timeout=self.request_timeout_s
                )
            except BusTimeout:
                continue
            # An expired copy was not executed (possibly an earlier attempt answered late):
            # send again, as a kiosk would.
            if response.code != errors.DEADLINE_EXPIRED:
                return response
        return None

    def record(self, action: str, request: Request, response: Response) -> None:
        if response.status is not ResponseStatus.OK:
            with self.lock:
                self.result.problems.append(f"{action} {request.id}: {response.code}")
            return
        data: dict[str, Any] = response.data or {}
        with self.lock:
            if action == "take_ticket":
                ticket = data["ticket"]
                self.take_requests.add(request.id)
                previous = self.acknowledged.setdefault(ticket["ticket_id"], ticket["number"])
                if previous != ticket["number"]:
                    self.result.problems.append(f"{ticket['ticket_id']} acknowledged twice")
                self.result.tickets_acknowledged = len(self.take_requests)
            elif data.get("ticket"):
                self.result.calls_acknowledged += 1

    def wait_engine_ready(self) -> float:
        started = time.monotonic()
        while time.monotonic() - started < ENGINE_READY_TIMEOUT_S:
            try:
                response = self.bus.request(
                    self.endpoint, "describe", DescribeRequest(), timeout=0.5
                )
            except BusTimeout:
                continue
            if response.status is ResponseStatus.OK:
                return time.monotonic() - started
        raise RuntimeError(f"engine did not start; see {self.engine.log_path}")

    def run(self, kills: int, max_kill_delay_s: float = 0.4, progress: bool = False) -> CrashResult:
        self.bus.start(wait=10)
        try:
            self.engine.start()
            self.wait_engine_ready()
            self._login_everywhere()
            for requester in self.requesters:
                requester.start()
            for number in range(kills):
                time.sleep(self.rng.uniform(0.02, max_kill_delay_s))
                self.engine.kill()
                self.result.kills += 1
                self.engine.start()
                self.result.restart_s.append(self.wait_engine_ready())
                if progress and (number + 1) % 20 == 0:
                    print(
                        f"  {number + 1}/{kills} kills, "
                        f"{self.result.tickets_acknowledged} tickets acknowledged",
                        flush=True,
                    )
            time.sleep(0.5)
            self.requesters_stop.set()
            for requester in self.requesters:
                requester.join(timeout=10)
            self._verify()
        finally:
            self.stopping.set()
            self.engine.terminate()
            self.bus.stop()
        return self.result

    def _login_everywhere(self) -> None:
        free = list(self.site.staff)
        for window in self.site.windows:
            person = next((p for p in free if not p.windows or window.id in p.windows), None)
            if person is None:
                continue
            free.remove(person)
            request = LoginRequest(window_id=window.id, staff_id=person.id)
            response = self.send_until_answered("login", request)
            if response is None or response.status is not ResponseStatus.OK:
                raise RuntimeError(f"login failed at {window.id}: {response}")

    def _verify(self) -> None:
        def fetch_page(after: str | None) -> TicketListData:
            response = self.send_until_answered("list_tickets", ListTicketsRequest(
                limit=LIST_PAGE_MAX, after=after))
            if response is None or response.status is not ResponseStatus.OK:
                raise RuntimeError(f"list_tickets failed: {response}")
            return TicketListData.model_validate(response.data)

        try:
            tickets = every_ticket(fetch_page).tickets
        except RuntimeError as exc:
            self.result.problems.append(str(exc))
            return
        self.result.tickets_found = len(tickets)
        found = {t.ticket_id: t for t in tickets}
        for ticket_id, number in self.acknowledged.items():
            ticket = found.get(ticket_id)
            if ticket is None:
                self.result.problems.append(f"acknowledged ticket {ticket_id} lost")
            elif ticket.number != number:
                self.result.problems.append(f"{ticket_id} is {ticket.number}, acked {number}")
        if len(tickets) != len(self.take_requests):
            self.result.problems.append(
                f"{len(tickets)} tickets for {len(self.take_requests)} take_ticket requests"
            )
        for service in self.site.services:
            numbers = sorted(
                int(t.number[len(service.prefix) :]) for t in tickets if t.service_id == service.id
            )
            if numbers != list(range(1, len(numbers) + 1)):
                self.result.problems.append(f"{service.id} numbers not 1..N: {numbers[:20]}…")
        current = [t.ticket_id for t in tickets if t.state.value in ("called", "serving")]
        if len(current) > len(self.site.windows):
            self.result.problems.append(
                f"{len(current)} tickets current at {len(self.site.windows)} windows"
            )
