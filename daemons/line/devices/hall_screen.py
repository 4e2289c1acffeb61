"""`type: hall_screen`: the hall's big LED screen: latest calls, waiting counts, the notice."""

from __future__ import annotations

import time
from datetime import datetime

from daemons.line.devices.base import LineDevice
from daemons.line.devices.effects import Effect
from daemons.line.scheduler import Lane
from drivers.led.hall_screen import HallScreen
from firmware_config.line import DeviceProfile, LineConfig, LineDeviceConfig
from hall_bus.contract import QueueEvent, QueueEventType, QueueSummaryState, TicketView
from hall_bus.contract.line import LineDeviceKind
from hall_bus.contract.notice import HallNotice
from hall_bus.ids import utc_now

# Waiting counts change with every call; a hall screen frame costs about 0.1 s of the line at
# 9600 baud, so counts go out at most this often, with the next call if that comes first.
COUNTS_EVERY_S = 3.0


class HallScreenDevice(LineDevice):
    kind = LineDeviceKind.HALL_SCREEN

    def __init__(self, line: LineConfig, config: LineDeviceConfig, profile: DeviceProfile, *,
                 window_numbers: dict[str, int]) -> None:
        super().__init__(line, config, profile)
        self.screen = HallScreen(call_rows=max(1, self.profile.rows - 2), notice=self.line.notice)
        self.window_numbers = window_numbers
        self.last_call: tuple[str, int] | None = None
        self.counts_pending = False
        self.written_at = -1e9
        self.notice_until: datetime | None = None

    def on_queue_event(self, event: QueueEvent) -> list[Effect]:
        if event.type is QueueEventType.TICKET_CALLED and event.ticket is not None:
            return self.on_called(event.ticket)
        return []

    def on_called(self, ticket: TicketView) -> list[Effect]:
        number = self.window_numbers.get(ticket.window_id or "")
        if number is None or ticket.recalls or (ticket.ticket_id, 0) == self.last_call:
            return []
        self.last_call = (ticket.ticket_id, 0)
        self.screen.called(ticket.number, number)
        return self._write(Lane.URGENT)

    def on_summary(self, state: QueueSummaryState) -> list[Effect]:
        before = self.screen.lines()
        self.screen.summary(state)
        changed = self.screen.lines() != before
        if not self.shown or (changed and self.text_waiting):
            # A text still waiting to go takes the new counts at no cost: it is replaced in its
            # place (a call's list is usually still queued when the call's counts arrive).
            return self._write(Lane.ROUTINE)
        if changed:
            self.counts_pending = True
        return []

    def on_notice(self, notice: HallNotice) -> list[Effect]:
        """A manager's notice replaces the line's configured one until it runs out; an empty
        one withdraws it."""
        running = notice.until is None or notice.until > utc_now()
        text = notice.text_zh if notice.text_zh and running else self.line.notice
        self.notice_until = notice.until if text == notice.text_zh else None
        return self._show_notice(text)

    def _show_notice(self, text: str) -> list[Effect]:
        if text == self.screen.notice:
            return []
        self.screen.notice = text
        return self._write(Lane.ROUTINE)

    def tick(self, now: float) -> list[Effect]:
        effects: list[Effect] = []
        if self.notice_until is not None and utc_now() >= self.notice_until:
            self.notice_until = None
            effects += self._show_notice(self.line.notice)
        if self.counts_pending and now - self.written_at >= COUNTS_EVERY_S:
            effects += self._write(Lane.ROUTINE)
        return effects

    def _write(self, lane: Lane) -> list[Effect]:
        self.counts_pending = False
        self.written_at = time.monotonic()
        return self.display("\n".join(self.screen.lines()), lane, hall_screen=True)
