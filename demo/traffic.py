"""A hall day played over the bus: citizens taking tickets, staff calling, serving and pausing,
citizens rating. Kiosk actions are the queue engine's requests, as the kiosks send them; at a
window the staff press its simulated caller keypad and the citizen its evaluation pad, where the
window has them (demo/window_desk.py), so those go over the line's wire like real presses.

Time is simulated (see hall_bus.simclock): each agent schedules its next step in simulated
seconds and a dispatcher runs the steps when the scaled clock reaches them.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from demo.window_desk import (
    CalledTicket,
    Desk,
    DeskOutcome,
    PressLog,
    QueueView,
    build_desks,
)
from firmware_config.site import SiteConfig, StaffConfig, WindowConfig
from hall_bus.client import BusClient, BusTimeout
from hall_bus.contract import (
    QUEUE_ACTIONS,
    Appointment,
    PriorityClass,
    RatingLevel,
    Response,
    ResponseStatus,
)
from hall_bus.simclock import ScaledClock
from hall_bus.topics import queue_endpoint

log = logging.getLogger("hall.demo.traffic")

# Share of arrivals per hour of the day; halls are busiest mid-morning and early afternoon.
HOURLY_ARRIVAL_SHARE = {
    8: 0.07,
    9: 0.15,
    10: 0.16,
    11: 0.12,
    12: 0.05,
    13: 0.08,
    14: 0.14,
    15: 0.13,
    16: 0.08,
    17: 0.02,
}
PRIORITY_MIX = [
    (PriorityClass.NORMAL, 0.88),
    (PriorityClass.ELDERLY_DISABLED, 0.09),
    (PriorityClass.GREEN_CHANNEL, 0.03),
]
RATING_MIX = [
    (RatingLevel.VERY_SATISFIED, 0.80),
    (RatingLevel.SATISFIED, 0.12),
    (RatingLevel.BASICALLY_SATISFIED, 0.05),
    (RatingLevel.DISSATISFIED, 0.02),
    (RatingLevel.VERY_DISSATISFIED, 0.01),
]
NO_SHOW_SHARE = 0.05
NO_SHOW_RETURNS_SHARE = 0.3
TRANSFER_SHARE = 0.03
RATING_SHARE = 0.85
APPOINTMENT_SHARE = 0.08


def _pick(rng: random.Random, mix: list[tuple[Any, float]]) -> Any:
    return rng.choices([item for item, _ in mix], weights=[w for _, w in mix])[0]


class HallDay:
    """Runs the simulated citizens and staff until `stop()`."""

    def __init__(
        self,
        site: SiteConfig,
        bus: BusClient,
        clock: ScaledClock,
        tickets_per_day: int,
        seed: int | None = None,
        workers: int = 48,
    ) -> None:
        self.site = site
        self.bus = bus
        self.clock = clock
        self.endpoint = queue_endpoint(site.hall_id)
        self.rng = random.Random(seed)
        self.tickets_per_day = tickets_per_day
        self.counters: Counter[str] = Counter()
        self._heap: list[tuple[datetime, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._heap_lock = threading.Lock()
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="demo-agent")
        self._dispatcher = threading.Thread(
            target=self._dispatch, name="demo-dispatch", daemon=True
        )
        self._zone = site.zone
        # Windows whose staff will pause once the current citizen is done, and for how long.
        self._breaks_due: dict[str, float] = {}
        # Staff and citizens wait for a keypad's acknowledgement, so a step can take a poll
        # cycle or two of real time: more workers than windows keep the kiosks going meanwhile.
        self.presses = PressLog()
        self.view = QueueView(bus, site.hall_id)
        self.desks: dict[str, Desk] = build_desks(site, self.request, self.view, self.presses)

    # --- scheduling --------------------------------------------------------------------------

    def at(self, moment: datetime, step: Callable[[], None]) -> None:
        with self._heap_lock:
            heapq.heappush(self._heap, (moment, next(self._sequence), step))
        self._wakeup.set()

    def after(self, sim_seconds: float, step: Callable[[], None]) -> None:
        self.at(self.clock() + timedelta(seconds=sim_seconds), step)

    def _dispatch(self) -> None:
        while not self._stopping.is_set():
            with self._heap_lock:
                due = self._heap[0][0] if self._heap else None
                step = heapq.heappop(self._heap)[2] if due and due <= self.clock() else None
            if step is not None:
                self._pool.submit(self._run_step, step)
                continue
            delay = 0.05 if due is None else min(0.05, self.clock.real_seconds_until(due))
            self._wakeup.wait(delay)
            self._wakeup.clear()

    def _run_step(self, step: Callable[[], None]) -> None:
        if self._stopping.is_set():
            return
        try:
            step()
        except Exception:
            log.exception("模拟步骤出错 / simulation step failed")
            self.counters["step_errors"] += 1

    def request(self, action: str, **fields: Any) -> Response | None:
        request = QUEUE_ACTIONS[action].request.model_validate(fields)
        self.counters["requests"] += 1
        try:
            response = self.bus.request(self.endpoint, action, request, timeout=10)
        except BusTimeout:
            self.counters["timeouts"] += 1
            return None
        if response.status is ResponseStatus.ERROR:
            self.counters[f"error:{response.code}"] += 1
        return response

    # --- the day -----------------------------------------------------------------------------

    def local(self, hour: int, minute: int = 0) -> datetime:
        day = self.clock().astimezone(self._zone).date()
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=self._zone)

    def start(self) -> None:
        self._load_appointments()
        rosters = self._assign_staff()
        for window, person in rosters:
            delay = self.rng.uniform(0, 240)
            self.after(delay, partial(self._window_opens, window, person))
        self._schedule_arrivals()
        self._dispatcher.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        self._dispatcher.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _assign_staff(self) -> list[tuple[WindowConfig, StaffConfig]]:
        free = list(self.site.staff)
        pairs = []
        for window in self.site.windows:
            person = next((s for s in free if not s.windows or window.id in s.windows), None)
            if person is not None:
                free.remove(person)
                pairs.append((window, person))
        return pairs

    def _schedule_arrivals(self) -> None:
        service_weights = [1.0 / s.expected_service_min for s in self.site.services]
        closing = self.local(self.site.closing_time.hour, self.site.closing_time.minute)
        for hour, share in HOURLY_ARRIVAL_SHARE.items():
            count = round(self.tickets_per_day * share)
            start = self.local(hour)
            for _ in range(count):
                moment = start + timedelta(seconds=self.rng.uniform(0, 3600))
                if moment >= closing:
                    continue  # kiosks stop issuing tickets at closing time
                service = self.rng.choices(self.site.services, weights=service_weights)[0]
                if self.rng.random() < APPOINTMENT_SHARE:
                    continue  # appointments arrive through check-in instead
                priority = _pick(self.rng, PRIORITY_MIX)
                self.at(moment, partial(self._arrive, service.id, priority))

    def _load_appointments(self) -> None:
        appointments = []
        for number in range(round(self.tickets_per_day * APPOINTMENT_SHARE)):
            service = self.rng.choice(self.site.services)
            slot = self.local(9) + timedelta(minutes=30 * self.rng.randrange(0, 15))
            code = f"YY{number + 1:05d}"
            appointments.append(
                Appointment(
                    code=code,
                    service_id=service.id,
                    slot_start=slot,
                    slot_end=slot + timedelta(minutes=30),
                    citizen_masked_name=self.rng.choice(["张*", "李*", "王**", "刘*"]),
                )
            )
            arrival = slot - timedelta(minutes=self.rng.uniform(-10, 20))
            self.at(arrival, partial(self._check_in, code))
        if appointments:
            self.request("load_appointments", appointments=appointments)

    # --- citizens ------------------------------------------------------------------------------

    def _arrive(self, service_id: str, priority: PriorityClass) -> None:
        response = self.request(
            "take_ticket", service_id=service_id, priority_class=priority, source="kiosk-1"
        )
        if response is not None and response.status is ResponseStatus.OK:
            self.counters["tickets"] += 1

    def _check_in(self, code: str) -> None:
        response = self.request("check_in", appointment_code=code, source="kiosk-1")
        if response is not None and response.status is ResponseStatus.OK:
            self.counters["check_ins"] += 1

    def _maybe_return(self, ticket_id: str) -> None:
        if self.rng.random() < NO_SHOW_RETURNS_SHARE:
            self.after(self.rng.uniform(120, 1200), partial(self._reactivate, ticket_id))

    def _reactivate(self, ticket_id: str) -> None:
        self.request("reactivate", ticket_id=ticket_id)

    # --- staff -------------------------------------------------------------------------------

    def act(self, window: WindowConfig, action: str, **fields: Any) -> DeskOutcome:
        """A staff action at the window's desk (its keypad, or a request without one)."""
        outcome = self.desks[window.id].act(action, **fields)
        if not outcome.ok:
            self.counters["desk_failures"] += 1
        return outcome

    def _window_opens(self, window: WindowConfig, person: StaffConfig) -> None:
        if not self.act(window, "login", staff_id=person.id).ok:
            self.after(300, lambda: self._window_opens(window, person))
            return
        # Staggered lunch: half the windows at 11:45, the rest at 12:30, so the hall stays open.
        lunch = self.local(11, 45) if window.number % 2 else self.local(12, 30)
        self.at(lunch, lambda: self._take_break(window, minutes=self.rng.uniform(35, 50)))
        short_break = self.local(self.rng.choice([10, 15]), self.rng.randrange(0, 60))
        self.at(short_break, lambda: self._take_break(window, minutes=self.rng.uniform(5, 15)))
        self._call_next(window)

    def _window_is_closing(self) -> bool:
        return self.clock() >= self.local(
            self.site.closing_time.hour, self.site.closing_time.minute
        )

    def _take_break(self, window: WindowConfig, minutes: float) -> None:
        self._breaks_due[window.id] = minutes

    def _call_next(self, window: WindowConfig) -> None:
        minutes = self._breaks_due.pop(window.id, None)
        if minutes is not None and self.act(window, "pause", reason="休息 / break").ok:
            self.after(minutes * 60, lambda: self._resume(window))
            return
        # Staff see the waiting counts (hall screen, console) and press 下一位 only when one of
        # their services has someone waiting: a keypad press costs the whole line wire time.
        nobody = self.view.waiting([entry.service for entry in window.services]) == 0
        ticket = None if nobody else self.act(window, "call_next").ticket
        if ticket is None:
            # Citizens who took a ticket before closing are still served; then the window closes.
            if self._window_is_closing():
                self.act(window, "logout")
            else:
                self.after(self.rng.uniform(20, 60), lambda: self._call_next(window))
            return
        if self.rng.random() < NO_SHOW_SHARE:
            self.after(90, partial(self._recall_or_skip, window, ticket.ticket_id, False))
            return
        self.after(self.rng.uniform(20, 90), lambda: self._serve(window, ticket))

    def _resume(self, window: WindowConfig) -> None:
        self.act(window, "resume")
        self._call_next(window)

    def _recall_or_skip(self, window: WindowConfig, ticket_id: str, recalled: bool) -> None:
        if not recalled:
            self.act(window, "recall")
            self.after(90, lambda: self._recall_or_skip(window, ticket_id, recalled=True))
            return
        if self.act(window, "skip").ok:
            self._maybe_return(ticket_id)
        self.after(10, lambda: self._call_next(window))

    def _serve(self, window: WindowConfig, ticket: CalledTicket) -> None:
        self.act(window, "start_service")
        service = self.site.service(ticket.service_id)
        expected_min = service.expected_service_min if service else 10.0
        # Service times are skewed: most are quick, a few take very long.
        minutes = self.rng.lognormvariate(math.log(expected_min) - 0.08, 0.4)
        self.after(minutes * 60, lambda: self._finish(window, ticket))

    def _finish(self, window: WindowConfig, ticket: CalledTicket) -> None:
        if self.rng.random() < TRANSFER_SHARE:
            others = [s.id for s in self.site.services if s.id != ticket.service_id]
            self.act(window, "transfer", to_service_id=self.rng.choice(others))
        elif self.act(window, "finish").ok and self.rng.random() < RATING_SHARE:
            self.after(self.rng.uniform(5, 30), lambda: self._rate(window, ticket))
        self.after(self.rng.uniform(10, 40), lambda: self._call_next(window))

    def _rate(self, window: WindowConfig, ticket: CalledTicket) -> None:
        level: RatingLevel = _pick(self.rng, RATING_MIX)
        if self.desks[window.id].rate(ticket, level, reason=self.rng.randrange(8)):
            self.counters["ratings"] += 1
        else:
            self.counters["ratings_failed"] += 1
