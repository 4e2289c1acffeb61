"""An LED screen that speaks MQTT itself (a network hall screen or window strip), and its simulator.

MQTT device profile: a network screen is node `<screen id>` on the hall bus and follows the same
contract as a display on an RS-485 line, with no line daemon in between:

- it subscribes to `hall/<id>/queue/event` (`ticket_called`, and `ticket_recalled` for a strip, at
  its window) and to `hall/<id>/queue/state` (waiting counts for a hall screen; the idle, paused or
  closed text of a strip's window);
- it lays text out for its own geometry (`columns` half cells by `rows` lines, GBK, width-aware,
  scrolling and flashing where it can) exactly as the line daemon does for a wired display;
- it publishes a retained `LineDeviceState` (kind `hall_screen` or `window_strip`, `line_id` = its
  node, `address` 0, `shown` = the lines it shows, `problems` = what it could not show) on
  `hall/<id>/<screen id>/screen/state`, and a `display_problem` `LineDeviceEvent` on
  `hall/<id>/<screen id>/screen/event` when text does not fit or has no GBK glyph;
- its availability is the node's `status` (last will `offline`); after a reconnect the retained
  queue state brings it up to date.

`NetworkScreen` is that behaviour in Python and serves as the simulated screen: it keeps what it
shows and draws it as a dot-matrix PNG or a terminal view (drivers/led/render.py).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from drivers.led import window_strip as led_strip
from drivers.led.hall_screen import HallScreen
from drivers.led.render import render_png, terminal_view
from drivers.led.text import Effect, layout
from firmware_config.site import SiteConfig
from hall_bus import topics
from hall_bus.client import BusClient
from hall_bus.contract import QueueEvent, QueueEventType, QueueSummaryState, TicketView, channels
from hall_bus.contract.line import (
    LineDeviceEvent,
    LineDeviceEventType,
    LineDeviceKind,
    LineDeviceState,
)

log = logging.getLogger("hall.network_screen")

DEVICE = "screen"
CALL_ROWS_SPARE = 2  # a hall screen keeps two rows for the waiting counts and the notice


class NetworkScreen:
    """A hall screen (no `window_id`) or a window strip (`window_id` given) on the bus."""

    def __init__(self, site: SiteConfig, screen_id: str, *, window_id: str | None = None,
                 columns: int | None = None, rows: int | None = None, notice: str = "",
                 can_scroll: bool = True, can_flash: bool = True) -> None:
        self.site = site
        self.window = site.window(window_id) if window_id else None
        if window_id and self.window is None:
            raise ValueError(f"unknown window {window_id!r} for screen {screen_id!r}")
        self.kind = LineDeviceKind.WINDOW_STRIP if self.window else LineDeviceKind.HALL_SCREEN
        strip = self.kind is LineDeviceKind.WINDOW_STRIP
        self.columns = columns or (32 if strip else 64)
        self.rows = rows or (1 if strip else 6)
        self.can_scroll, self.can_flash = can_scroll, can_flash
        self.window_numbers = {w.id: w.number for w in site.windows}
        self.hall = HallScreen(call_rows=max(1, self.rows - CALL_ROWS_SPARE), notice=notice)
        self.bus = BusClient(site.hall_id, screen_id, site.broker)
        self.endpoint = topics.Endpoint(site.hall_id, screen_id, DEVICE)
        # A screen on the LAN is its own node: it publishes on the line devices' channels.
        self.queue = topics.queue_endpoint(site.hall_id)
        self.shown: tuple[str, ...] = ()
        self.effect = Effect.STATIC
        self.problems: tuple[str, ...] = ()
        self._current: str | None = None  # strip: the ticket it calls; idle text only without one
        self._lock = threading.Lock()  # bus callbacks come from the client's thread

    def start(self, wait: float | None = 10.0) -> None:
        self.bus.subscribe_to(channels.QUEUE_EVENT, self._on_event)
        self.bus.subscribe_to(channels.QUEUE_STATE, self._on_summary)
        self.bus.start(wait=wait)
        self._publish()

    def stop(self) -> None:
        self.bus.stop()

    def render_png(self, path: Path) -> Path:
        """What a citizen sees, as a dot-matrix picture."""
        with self._lock:
            return render_png(self.shown, self.columns, self.rows, path)

    def terminal_view(self) -> str:
        with self._lock:
            return terminal_view(self.shown, self.columns, self.rows)

    # --- queue news -----------------------------------------------------------------------------

    def _on_event(self, _topic: str, event: QueueEvent) -> None:
        ticket = event.ticket
        if ticket is None:
            return
        if event.type is QueueEventType.TICKET_CALLED:
            self._called(ticket, recall=False)
        elif event.type is QueueEventType.TICKET_RECALLED:
            self._called(ticket, recall=True)

    def _called(self, ticket: TicketView, *, recall: bool) -> None:
        if self.window is not None:
            if ticket.window_id != self.window.id:
                return
            self._current = ticket.ticket_id
            effect = led_strip.recall_effect() if recall else Effect.STATIC
            self._show(led_strip.call_text(ticket.number, self.window.number), effect)
            return
        number = self.window_numbers.get(ticket.window_id or "")
        if number is None or recall:
            return  # a recall is the strip's business; the hall list keeps its order
        with self._lock:
            self.hall.called(ticket.number, number)
            text = "\n".join(self.hall.lines())
        self._show(text, Effect.STATIC)

    def _on_summary(self, _topic: str, state: QueueSummaryState) -> None:
        if self.window is None:
            with self._lock:
                self.hall.summary(state)
                text = "\n".join(self.hall.lines())
            self._show(text, Effect.STATIC)
            return
        window = next((w for w in state.windows if w.window_id == self.window.id), None)
        if window is None:
            return
        if window.current_ticket is not None:
            if self._current != window.current_ticket_id:
                # Started (or reconnected) while a citizen is being served: show that call.
                self._current = window.current_ticket_id
                self._show(led_strip.call_text(window.current_ticket, self.window.number),
                           Effect.STATIC)
            return  # otherwise the call stays up while the citizen is served
        self._current = None
        self._show(led_strip.idle_text(self.window.number, self.window.name_zh,
                                       paused=window.mode == "paused",
                                       closed=window.mode == "closed"), Effect.STATIC)

    # --- showing --------------------------------------------------------------------------------

    def _show(self, text: str, effect: Effect) -> None:
        placed = layout(text, self.columns, self.rows, effect=effect, can_scroll=self.can_scroll)
        if placed.effect is Effect.FLASH and not self.can_flash:
            placed = layout(text, self.columns, self.rows, can_scroll=self.can_scroll)
        with self._lock:
            if (placed.lines, placed.effect) == (self.shown, self.effect):
                return
            new_problems = placed.problems and placed.problems != self.problems
            self.shown, self.effect, self.problems = placed.lines, placed.effect, placed.problems
        log.info("[%s] %s", self.endpoint.node, " | ".join(placed.lines))
        if new_problems:
            self.bus.publish_to(channels.LINE_DEVICE_EVENT, LineDeviceEvent(
                type=LineDeviceEventType.DISPLAY_PROBLEM, device_id=DEVICE,
                window_id=self.window.id if self.window else None,
                detail="; ".join(placed.problems)), line=self.endpoint.node, device=DEVICE)
        self._publish()

    def _publish(self) -> None:
        with self._lock:
            state = LineDeviceState(
                line_id=self.endpoint.node, device_id=DEVICE, kind=self.kind, address=0,
                window_id=self.window.id if self.window else None, online=True,
                supervised=True, shown=list(self.shown), problems=list(self.problems))
        self.bus.publish_to(channels.LINE_DEVICE_STATE, state, line=self.endpoint.node,
                            device=DEVICE)
