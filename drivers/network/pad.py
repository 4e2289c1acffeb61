"""An evaluation pad that speaks MQTT itself (a tablet at the window), and its simulator.

MQTT device profile: a network pad is node `<pad id>` on the hall bus and follows the same
contract as a pad on an RS-485 line, with no line daemon in between:

- it subscribes to `hall/<id>/queue/event` (a `ticket_finished` at its window starts a rating)
  and `hall/<id>/queue/state` (the staff shown while idle, 亮证上岗);
- it sends `rate` to the queue engine itself; a rating is only final once the engine answered,
  and it is retried with the same request id until then (the engine answers repeats from its log);
- it publishes a retained `LineDeviceState` on `hall/<id>/<pad id>/pad/state` and
  `LineDeviceEvent`s (`rating_given`, `rating_unrated`) on `hall/<id>/<pad id>/pad/event`;
  its availability is the node's `status` (last will `offline`).

`NetworkPad` is that behaviour in Python; the conversation is the same `PadSession` the RS-485 pads
use. `press` is a touch on the screen, for tests and the demo.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from drivers.line.evaluation_pad import THANKS, PadMode, PadSession, Rating
from firmware_config.line import PadPolicy
from firmware_config.site import SiteConfig
from hall_bus import topics
from hall_bus.client import BusClient, BusTimeout
from hall_bus.contract import QueueEvent, QueueEventType, QueueSummaryState, RateRequest, channels
from hall_bus.contract.line import (
    LineDeviceEvent,
    LineDeviceEventType,
    LineDeviceKind,
    LineDeviceState,
)
from hall_bus.ids import utc_now

log = logging.getLogger("hall.network_pad")

DEVICE = "pad"


class NetworkPad:
    def __init__(self, site: SiteConfig, pad_id: str, window_id: str,
                 policy: PadPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        policy = policy or PadPolicy()
        self.site = site
        self.window_id = window_id
        self.session = PadSession(list(policy.reasons), policy.timeout_s, policy.min_interval_s)
        self.clock = clock
        self.bus = BusClient(site.hall_id, pad_id, site.broker)
        self.endpoint = topics.Endpoint(site.hall_id, pad_id, DEVICE)
        # A pad on the LAN is its own node: it publishes on the line devices' channels.
        self.queue = topics.queue_endpoint(site.hall_id)
        self.shown: tuple[str, ...] = ()
        self.staff: tuple[str, str] | None = None
        self.ratings: list[Rating] = []  # acknowledged by the engine
        self._lock = threading.Lock()  # bus callbacks, touches and the timer share the session
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._tick_loop, name=f"pad-{pad_id}", daemon=True)

    def start(self, wait: float | None = 10.0) -> None:
        self.bus.subscribe_to(channels.QUEUE_EVENT, self._on_event)
        self.bus.subscribe_to(channels.QUEUE_STATE, self._on_summary)
        self.bus.start(wait=wait)
        self._timer.start()
        self._publish()

    def stop(self) -> None:
        self._stop.set()
        self._timer.join(2)
        self.bus.stop()

    def press(self, key: int) -> Rating | None:
        """A touch; returns the rating once the engine has acknowledged it."""
        with self._lock:
            rating = self.session.press(key, self.clock())
            self.shown = self.session.screen() or self.shown
        self._publish()
        if rating is None or rating.level is None:
            return None
        return self._send(rating)

    def _send(self, rating: Rating) -> Rating | None:
        assert rating.level is not None
        request = RateRequest(ticket_id=rating.ticket_id, level=rating.level,
                              reason=rating.reason, source=self.endpoint.node)
        for number in range(1, 11):
            # A higher attempt tells the engine an earlier answer was lost: it answers again
            # (without rating twice) instead of dropping the copy as a redelivery.
            attempt = request.model_copy(update={"deadline": utc_now() + timedelta(seconds=3),
                                                 "attempt": number})
            try:
                response = self.bus.request(self.queue, "rate", attempt, timeout=3)
            except BusTimeout:
                continue
            ok = response.status == "ok"
            self._event(LineDeviceEventType.RATING_GIVEN, ticket_id=rating.ticket_id,
                        level=rating.level, reason=rating.reason,
                        detail=None if ok else response.code)
            with self._lock:
                self.shown = (THANKS,) if ok else ("评价未成功",)
                if ok:
                    self.ratings.append(rating)
            self._publish()
            return rating if ok else None
        log.warning("评价未送达 / rating for %s not acknowledged", rating.ticket_id)
        return None

    def _on_event(self, _topic: str, event: QueueEvent) -> None:
        ticket = event.ticket
        if event.type is not QueueEventType.TICKET_FINISHED or ticket is None:
            return
        if ticket.window_id != self.window_id or ticket.rating is not None:
            return
        with self._lock:
            started = self.session.ticket_finished(ticket.ticket_id, ticket.number, self.clock())
            if started:
                self.shown = self.session.screen()
        if started:
            self._publish()

    def _on_summary(self, _topic: str, state: QueueSummaryState) -> None:
        window = next((w for w in state.windows if w.window_id == self.window_id), None)
        with self._lock:
            self.staff = ((window.staff_id, window.staff_name or "")
                          if window is not None and window.staff_id else None)
            if self.session.mode is PadMode.IDLE:
                self.shown = self._idle_screen()
        self._publish()

    def _idle_screen(self) -> tuple[str, ...]:
        if self.staff is None:
            return ("暂停服务",)
        return (f"{self.staff[1]} {self.staff[0]}", "亮证上岗")

    def _tick_loop(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                timed_out = self.session.tick(self.clock())
                if timed_out is not None:
                    self.shown = self._idle_screen()
            if timed_out is not None:
                self._event(LineDeviceEventType.RATING_UNRATED, ticket_id=timed_out.ticket_id)
                self._publish()

    def _event(self, type_: LineDeviceEventType, **fields: object) -> None:
        event = LineDeviceEvent(type=type_, device_id=DEVICE, window_id=self.window_id, **fields)
        self.bus.publish_to(channels.LINE_DEVICE_EVENT, event, line=self.endpoint.node,
                            device=DEVICE)

    def _publish(self) -> None:
        with self._lock:
            state = LineDeviceState(
                line_id=self.endpoint.node, device_id=DEVICE, kind=LineDeviceKind.PAD, address=0,
                window_id=self.window_id, online=True, supervised=True, shown=list(self.shown))
        self.bus.publish_to(channels.LINE_DEVICE_STATE, state, line=self.endpoint.node,
                            device=DEVICE)

