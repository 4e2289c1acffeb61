"""What every device on a line has: its config and profile, what it shows, its answers to polls.

Each device keeps one device's view (what it shows, its keypad conversation) and returns what it
wants done as effects (effects.py); none of them does I/O. All methods run on the line thread.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from daemons.line.devices.effects import Effect, PublishEvent, StateChanged, Write, WriteJob
from daemons.line.scheduler import Lane
from drivers.led.framing import Framing, can_scroll, encode_display, expects_reply
from drivers.led.text import Effect as TextEffect
from drivers.led.text import layout
from drivers.line import commands as rc
from drivers.line.frame import Frame
from firmware_config.line import DeviceProfile, LineConfig, LineDeviceConfig
from hall_bus.contract import QueueEvent, QueueSummaryState, TicketView
from hall_bus.contract.line import LineDeviceEventType, LineDeviceKind, LineDeviceState
from hall_bus.contract.notice import HallNotice


class LineDevice:
    kind: LineDeviceKind

    def __init__(self, line: LineConfig, config: LineDeviceConfig, profile: DeviceProfile) -> None:
        self.line = line
        self.config = config
        self.profile = profile
        self.framing = Framing(profile.framing)
        self.shown: tuple[str, ...] = ()
        self.problems: tuple[str, ...] = ()
        self.online = True
        self.polls = 0
        self.misses = 0
        self.misses_in_row = 0
        self.last_seen: datetime | None = None  # wall clock, for the bus
        # A text of this display waits in the line's queue (kept by the daemon): a newer text
        # replaces it in its place at no cost.
        self.text_waiting = False

    @property
    def supervised(self) -> bool:
        return expects_reply(self.framing)

    @property
    def polled(self) -> bool:
        return False

    @property
    def expecting_press(self) -> bool:
        """Whether a press now would mean something (the line polls such devices every cycle)."""
        return self.polled

    def on_queue_event(self, event: QueueEvent) -> list[Effect]:
        return []

    def on_summary(self, state: QueueSummaryState) -> list[Effect]:
        return []

    def on_called(self, ticket: TicketView) -> list[Effect]:
        return []

    def on_notice(self, notice: HallNotice) -> list[Effect]:
        return []

    def on_poll_reply(self, frame: Frame) -> list[Effect]:
        return []

    def tick(self, now: float) -> list[Effect]:
        return []

    def refresh(self) -> list[Effect]:
        """Its text again (heartbeat and power-cycle repair for displays that do not answer)."""
        return self.display("\n".join(self.shown), Lane.ROUTINE) if self.shown else []

    def snapshot(self) -> LineDeviceState:
        return LineDeviceState(
            line_id=self.line.id, device_id=self.config.id, kind=self.kind,
            address=self.config.address, window_id=self.config.window, online=self.online,
            supervised=self.supervised, shown=list(self.shown), problems=list(self.problems),
            polls=self.polls, misses=self.misses, last_seen=self.last_seen,
        )

    def display(self, text: str, lane: Lane, *, effect: TextEffect = TextEffect.STATIC,
                hall_screen: bool = False) -> list[Effect]:
        """Lay `text` out for this display and queue the frame; problems are reported."""
        placed = layout(text, self.profile.columns, self.profile.rows, effect=effect,
                        can_scroll=self.profile.can_scroll and can_scroll(self.framing))
        if placed.effect is TextEffect.FLASH and not self.profile.can_flash:
            placed = layout(text, self.profile.columns, self.profile.rows,
                            can_scroll=self.profile.can_scroll)
        effects: list[Effect] = []
        if placed.problems and placed.problems != self.problems:
            effects.append(PublishEvent(LineDeviceEventType.DISPLAY_PROBLEM,
                                        {"detail": "; ".join(placed.problems)}))
        self.shown, self.problems = placed.lines, placed.problems
        address, framing = self.config.address, self.framing

        def build(seq: int) -> bytes:
            return encode_display(framing, address, seq, placed, hall_screen=hall_screen)

        job = WriteJob(self, build, self.supervised, self._show_reply(), replaces=True)
        return [*effects, Write(job, lane), StateChanged()]

    def _show_reply(self) -> Callable[[Frame], list[Effect]]:
        def on_reply(frame: Frame) -> list[Effect]:
            try:
                status = rc.decode_show_reply(frame)
            except rc.DecodeError:
                return []
            if status is rc.ShowStatus.OK:
                return []
            self.problems = (*self.problems, f"显示屏拒绝 / display refused: {status.name}")
            return [PublishEvent(LineDeviceEventType.DISPLAY_PROBLEM, {"detail": status.name}),
                    StateChanged()]
        return on_reply
