"""`type: window_strip`: the LED strip above a window: the call, else the window's idle text."""

from __future__ import annotations

from daemons.line.devices.base import LineDevice
from daemons.line.devices.effects import Effect
from daemons.line.scheduler import Lane
from drivers.led import window_strip as strip_text
from drivers.led.text import Effect as TextEffect
from firmware_config.line import DeviceProfile, LineConfig, LineDeviceConfig
from hall_bus.contract import QueueEvent, QueueEventType, QueueSummaryState, TicketView
from hall_bus.contract.line import LineDeviceKind

CALLS = (QueueEventType.TICKET_CALLED, QueueEventType.TICKET_RECALLED)


class WindowStrip(LineDevice):
    kind = LineDeviceKind.WINDOW_STRIP

    def __init__(self, line: LineConfig, config: LineDeviceConfig, profile: DeviceProfile, *,
                 window_number: int, window_name: str) -> None:
        super().__init__(line, config, profile)
        self.window_number = window_number
        self.window_name = window_name
        self.idle_text = ""
        self.last_call: tuple[str, int] | None = None

    def on_queue_event(self, event: QueueEvent) -> list[Effect]:
        if event.type in CALLS and event.ticket is not None:
            return self.on_called(event.ticket)
        return []

    def on_called(self, ticket: TicketView) -> list[Effect]:
        """A call or recall, from the engine's answer to our keypad or from its event."""
        if ticket.window_id != self.config.window:
            return []
        key = (ticket.ticket_id, ticket.recalls)
        if key == self.last_call:
            return []  # the answer already showed it; the event repeats it
        self.last_call = key
        effect = strip_text.recall_effect() if ticket.recalls else TextEffect.STATIC
        return self.display(strip_text.call_text(ticket.number, self.window_number), Lane.CALL,
                            effect=effect)

    def on_summary(self, state: QueueSummaryState) -> list[Effect]:
        window = next((w for w in state.windows if w.window_id == self.config.window), None)
        if window is None or window.current_ticket is not None:
            return []
        text = strip_text.idle_text(self.window_number, self.window_name,
                                    paused=window.mode == "paused", closed=window.mode == "closed")
        if text == self.idle_text:
            return []
        self.idle_text = text
        return self.display(text, Lane.ROUTINE)
