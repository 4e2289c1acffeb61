"""What each device on a line does with queue news and with its own answers.

Each class keeps one device's view (what it shows, its keypad conversation) and asks the line for
frames through `LineContext`; none of them does I/O. All methods run on the line thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from daemons.line.press_memory import PressRecord
from daemons.line.scheduler import Lane
from drivers.led import window_strip as led_strip
from drivers.led.framing import Framing, can_scroll, encode_display, expects_reply
from drivers.led.hall_screen import HallScreen
from drivers.led.text import Effect, layout
from drivers.line import caller_keypad
from drivers.line import commands as rc
from drivers.line.evaluation_pad import THANKS, PadMode, PadSession, Rating, idle_payload
from drivers.line.frame import Frame, encode
from firmware_config.line import DeviceProfile, LineConfig, LineDeviceConfig
from hall_bus.contract import (
    QueueEvent,
    QueueEventType,
    QueueSummaryState,
    RatingLevel,
    Response,
    TicketView,
)
from hall_bus.contract.line import LineDeviceEventType, LineDeviceKind, LineDeviceState
from hall_bus.contract.notice import HallNotice
from hall_bus.ids import utc_now

EngineCallback = Callable[[Response | None], None]
COUNTS_EVERY_S = 3.0


@dataclass
class WriteJob:
    device: LineDevice
    build: Callable[[int], bytes]  # frame seq -> wire bytes
    expects_reply: bool
    on_reply: Callable[[Frame], None] | None = None
    replaces: bool = False  # a display's newest text supersedes its text still waiting to go
    lane: Lane = Lane.ROUTINE  # set by the line when queued
    queued_at: float = field(default_factory=time.monotonic)


class LineContext(Protocol):
    def write(self, job: WriteJob, lane: Lane) -> None: ...
    def engine(self, action: str, fields: dict[str, object], request_id: str,
               attempts: int, done: EngineCallback) -> None: ...
    def device_event(self, device: LineDevice, type_: LineDeviceEventType,
                     **fields: object) -> None: ...
    def state_changed(self, device: LineDevice) -> None: ...
    def remember(self, device: LineDevice) -> None: ...
    def queued(self, device: LineDevice) -> bool: ...


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

    def on_queue_event(self, event: QueueEvent, ctx: LineContext) -> None:
        pass

    def on_summary(self, state: QueueSummaryState, ctx: LineContext) -> None:
        pass

    def on_called(self, ticket: TicketView, ctx: LineContext) -> None:
        pass

    def on_poll_reply(self, frame: Frame, ctx: LineContext) -> None:
        pass

    def tick(self, now: float, ctx: LineContext) -> None:
        pass

    def snapshot(self) -> LineDeviceState:
        return LineDeviceState(
            line_id=self.line.id, device_id=self.config.id, kind=self.kind,
            address=self.config.address, window_id=self.config.window, online=self.online,
            supervised=self.supervised, shown=list(self.shown), problems=list(self.problems),
            polls=self.polls, misses=self.misses, last_seen=self.last_seen,
        )

    def display(self, text: str, ctx: LineContext, lane: Lane, *,
                effect: Effect = Effect.STATIC, hall_screen: bool = False) -> None:
        """Lay `text` out for this display and queue the frame; problems are reported."""
        placed = layout(text, self.profile.columns, self.profile.rows, effect=effect,
                        can_scroll=self.profile.can_scroll and can_scroll(self.framing))
        if placed.effect is Effect.FLASH and not self.profile.can_flash:
            placed = layout(text, self.profile.columns, self.profile.rows,
                            can_scroll=self.profile.can_scroll)
        if placed.problems and placed.problems != self.problems:
            ctx.device_event(self, LineDeviceEventType.DISPLAY_PROBLEM,
                             detail="; ".join(placed.problems))
        self.shown, self.problems = placed.lines, placed.problems
        address, framing = self.config.address, self.framing

        def build(seq: int) -> bytes:
            return encode_display(framing, address, seq, placed, hall_screen=hall_screen)

        ctx.write(WriteJob(self, build, self.supervised, self._show_reply(ctx), replaces=True),
                  lane)
        ctx.state_changed(self)

    def _show_reply(self, ctx: LineContext) -> Callable[[Frame], None]:
        def on_reply(frame: Frame) -> None:
            try:
                status = rc.decode_show_reply(frame)
            except rc.DecodeError:
                return
            if status is not rc.ShowStatus.OK:
                self.problems = (*self.problems, f"显示屏拒绝 / display refused: {status.name}")
                ctx.device_event(self, LineDeviceEventType.DISPLAY_PROBLEM, detail=status.name)
                ctx.state_changed(self)
        return on_reply


class WindowStrip(LineDevice):
    kind = LineDeviceKind.WINDOW_STRIP

    def __init__(self, *args: object, window_number: int, window_name: str) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.window_number = window_number
        self.window_name = window_name
        self.idle_text = ""

        self.last_call: tuple[str, int] | None = None

    def on_queue_event(self, event: QueueEvent, ctx: LineContext) -> None:
        calls = (QueueEventType.TICKET_CALLED, QueueEventType.TICKET_RECALLED)
        if event.type in calls and event.ticket is not None:
            self.on_called(event.ticket, ctx)

    def on_called(self, ticket: TicketView, ctx: LineContext) -> None:
        """A call or recall, from the engine's answer to our keypad or from its event."""
        if ticket.window_id != self.config.window:
            return
        key = (ticket.ticket_id, ticket.recalls)
        if key == self.last_call:
            return  # the answer already showed it; the event repeats it
        self.last_call = key
        effect = led_strip.recall_effect() if ticket.recalls else Effect.STATIC
        self.display(led_strip.call_text(ticket.number, self.window_number), ctx, Lane.CALL,
                     effect=effect)

    def on_summary(self, state: QueueSummaryState, ctx: LineContext) -> None:
        window = next((w for w in state.windows if w.window_id == self.config.window), None)
        if window is None or window.current_ticket is not None:
            return
        text = led_strip.idle_text(self.window_number, self.window_name,
                                   paused=window.mode == "paused", closed=window.mode == "closed")
        if text != self.idle_text:
            self.idle_text = text
            self.display(text, ctx, Lane.ROUTINE)


class HallScreenDevice(LineDevice):
    kind = LineDeviceKind.HALL_SCREEN

    def __init__(self, *args: object, window_numbers: dict[str, int]) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.screen = HallScreen(call_rows=max(1, self.profile.rows - 2), notice=self.line.notice)
        self.window_numbers = window_numbers
        self.last_call: tuple[str, int] | None = None
        self.counts_pending = False
        self.written_at = -1e9
        self.notice_until: datetime | None = None

    def on_queue_event(self, event: QueueEvent, ctx: LineContext) -> None:
        if event.type is QueueEventType.TICKET_CALLED and event.ticket is not None:
            self.on_called(event.ticket, ctx)

    def on_called(self, ticket: TicketView, ctx: LineContext) -> None:
        number = self.window_numbers.get(ticket.window_id or "")
        if number is None or ticket.recalls or (ticket.ticket_id, 0) == self.last_call:
            return
        self.last_call = (ticket.ticket_id, 0)
        self.screen.called(ticket.number, number)
        self._write(ctx, Lane.URGENT)

    def on_summary(self, state: QueueSummaryState, ctx: LineContext) -> None:
        before = self.screen.lines()
        self.screen.summary(state)
        if not self.shown or (self.screen.lines() != before and ctx.queued(self)):
            # A text still waiting to go takes the new counts at no cost: it is replaced in its
            # place (a call's list is usually still queued when the call's counts arrive).
            self._write(ctx, Lane.ROUTINE)
        elif self.screen.lines() != before:
            # Waiting counts change with every call; a hall screen frame costs about 0.1 s of the
            # line at 9600 baud, so counts go out at most every COUNTS_EVERY_S, with the next call
            # if that comes first.
            self.counts_pending = True

    def on_notice(self, notice: HallNotice, ctx: LineContext) -> None:
        """A manager's notice replaces the line's configured one until it runs out; an empty
        one withdraws it."""
        running = notice.until is None or notice.until > utc_now()
        text = notice.text_zh if notice.text_zh and running else self.line.notice
        self.notice_until = notice.until if text == notice.text_zh else None
        self._show_notice(text, ctx)

    def _show_notice(self, text: str, ctx: LineContext) -> None:
        if text != self.screen.notice:
            self.screen.notice = text
            self._write(ctx, Lane.ROUTINE)

    def tick(self, now: float, ctx: LineContext) -> None:
        if self.notice_until is not None and utc_now() >= self.notice_until:
            self.notice_until = None
            self._show_notice(self.line.notice, ctx)
        if self.counts_pending and now - self.written_at >= COUNTS_EVERY_S:
            self._write(ctx, Lane.ROUTINE)

    def _write(self, ctx: LineContext, lane: Lane) -> None:
        self.counts_pending = False
        self.written_at = time.monotonic()
        self.display("\n".join(self.screen.lines()), ctx, lane, hall_screen=True)


class _Pressable(LineDevice):
    """A polled device whose presses are acknowledged once and executed once."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.in_flight: int | None = None
        self.record: PressRecord | None = None  # the last press, restored after a restart

    @property
    def polled(self) -> bool:
        return True

    def on_poll_reply(self, frame: Frame, ctx: LineContext) -> None:
        try:
            press = rc.decode_poll_reply(frame)
        except rc.DecodeError:
            return
        if press is None or press.seq == self.in_flight:
            return
        record = self.record
        if record is not None and record.repeats(press.seq):
            if record.ack is not None:
                # Our ACK was lost: answer again, never execute again.
                result, beep, text = record.ack
                self.send_ack(press.seq, result, rc.Beep(beep), text, ctx)
                return
            if record.action is not None and record.request_id is not None:
                # Sent before a restart, answer unknown: same request id, answered from the log.
                self.in_flight = press.seq
                self.ask(press, record.action, record.fields or {}, record.request_id, ctx)
                return
        self.in_flight = press.seq
        self.handle_press(press, ctx)

    def handle_press(self, press: rc.Press, ctx: LineContext) -> None:
        raise NotImplementedError

    def ask(self, press: rc.Press, action: str, fields: dict[str, Any], request_id: str,
            ctx: LineContext) -> None:
        """Send the press's engine request, remembered first so a restart cannot repeat it."""
        raise NotImplementedError

    def remember_request(self, seq: int, action: str, fields: dict[str, Any], request_id: str,
                         ctx: LineContext) -> None:
        self.record = PressRecord(seq, time.time(), action, fields, request_id)
        ctx.remember(self)

    def finish_press(self, seq: int, result: int, text: str, ctx: LineContext) -> None:
        beep = rc.Beep.OK if result == 0 else rc.Beep.ERROR
        self.in_flight = None
        self.record = PressRecord(seq, time.time(), ack=(result, int(beep), text))
        ctx.remember(self)
        self.send_ack(seq, result, beep, text, ctx)

    def send_ack(self, seq: int, result: int, beep: rc.Beep, text: str, ctx: LineContext) -> None:
        address = self.config.address

        def build(frame_seq: int) -> bytes:
            return encode(rc.ack(address, frame_seq, seq, result, beep, text))

        ctx.write(WriteJob(self, build, expects_reply=True), Lane.URGENT)


class CallerKeypad(_Pressable):
    kind = LineDeviceKind.CALLER

    def __init__(self, *args: object, service_ids: list[str], new_id: Callable[[], str]) -> None:
        super().__init__(*args)
        self.service_ids = service_ids
        self.new_id = new_id

    def handle_press(self, press: rc.Press, ctx: LineContext) -> None:
        window = self.config.window or ""
        wanted = caller_keypad.request_for(press, window, self.service_ids)
        if isinstance(wanted, caller_keypad.Result):
            self._done(press, "?", wanted, ctx)
            return
        self.ask(press, wanted.action, dict(wanted.fields), self.new_id(), ctx)

    def ask(self, press: rc.Press, action: str, fields: dict[str, Any], request_id: str,
            ctx: LineContext) -> None:
        self.remember_request(press.seq, action, fields, request_id, ctx)

        def done(response: Response | None) -> None:
            if response is None:
                result = caller_keypad.Result.UNREACHABLE
            elif response.status != "ok":
                result = caller_keypad.result_for_error(response.code)
            elif action == "call_next" and not (response.data or {}).get("ticket"):
                result = caller_keypad.Result.NOBODY_WAITING
            else:
                result = caller_keypad.Result.OK
            ticket = (response.data or {}).get("ticket") if response else None
            text = str(ticket["number"]) if result == 0 and isinstance(ticket, dict) else ""
            self._done(press, action, result, ctx, text)

        ctx.engine(action, fields, request_id, 2, done)

    def _done(self, press: rc.Press, action: str, result: caller_keypad.Result,
              ctx: LineContext, text: str = "") -> None:
        shown = text or caller_keypad.RESULT_TEXT[result]
        self.shown = (shown,)
        self.finish_press(press.seq, int(result), shown, ctx)
        ctx.device_event(self, LineDeviceEventType.KEY_PRESSED, action=action, result=int(result))
        ctx.state_changed(self)


class EvaluationPad(_Pressable):
    kind = LineDeviceKind.PAD

    def __init__(self, *args: object, new_id: Callable[[], str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(*args)
        policy = self.line.pad
        self.session = PadSession(list(policy.reasons), policy.timeout_s, policy.min_interval_s)
        self.new_id = new_id
        self.clock = clock
        self.staff: tuple[str, str] | None = None

    def on_queue_event(self, event: QueueEvent, ctx: LineContext) -> None:
        ticket = event.ticket
        if event.type is not QueueEventType.TICKET_FINISHED or ticket is None:
            return
        if ticket.window_id != self.config.window or ticket.rating is not None:
            return
        if self.session.ticket_finished(ticket.ticket_id, ticket.number, self.clock()):
            self.display("\n".join(self.session.screen()), ctx, Lane.URGENT)

    def on_summary(self, state: QueueSummaryState, ctx: LineContext) -> None:
        window = next((w for w in state.windows if w.window_id == self.config.window), None)
        staff = (window.staff_id, window.staff_name or "") if window and window.staff_id else None
        if staff != self.staff:
            self.staff = staff
            if self.session.mode is PadMode.IDLE:
                self.show_idle(ctx)

    def show_idle(self, ctx: LineContext) -> None:
        staff_id, name = self.staff or ("", "暂停服务")
        address = self.config.address
        payload = idle_payload(staff_id, name, staff_id)
        self.shown = (f"{name} {staff_id}".strip(), "亮证上岗" if staff_id else "")

        def build(seq: int) -> bytes:
            return encode(Frame(address, rc.IDLE, seq, payload))

        ctx.write(WriteJob(self, build, expects_reply=True), Lane.ROUTINE)
        ctx.state_changed(self)

    @property
    def expecting_press(self) -> bool:
        # An idle pad rates nothing; it matters again once it prompts for a rating.
        return self.session.mode is not PadMode.IDLE or self.in_flight is not None

    def handle_press(self, press: rc.Press, ctx: LineContext) -> None:
        mode_before = self.session.mode
        rating = self.session.press(press.key, self.clock())
        if rating is None:
            self.finish_press(press.seq, 0, "", ctx)
            if self.session.mode is not mode_before:
                self.display("\n".join(self.session.screen()), ctx, Lane.URGENT)
            return
        self._rate(press.seq, rating, ctx)

    def _rate(self, seq: int, rating: Rating, ctx: LineContext) -> None:
        assert rating.level is not None
        fields: dict[str, Any] = {"ticket_id": rating.ticket_id, "level": rating.level.value,
                                  "source": self.config.id}
        if rating.reason:
            fields["reason"] = rating.reason
        self.ask(rc.Press(seq, 0), "rate", fields, self.new_id(), ctx)

    def ask(self, press: rc.Press, action: str, fields: dict[str, Any], request_id: str,
            ctx: LineContext) -> None:
        self.remember_request(press.seq, action, fields, request_id, ctx)
        ticket_id, reason = str(fields["ticket_id"]), fields.get("reason")
        level = RatingLevel(fields["level"])

        def done(response: Response | None) -> None:
            # The press stays unacknowledged on the pad until the engine has the rating, so a
            # rating is never lost between pad and engine; the same request id is retried.
            ok = response is not None and response.status == "ok"
            self.finish_press(press.seq, 0 if ok else 4, THANKS if ok else "评价未成功", ctx)
            ctx.device_event(self, LineDeviceEventType.RATING_GIVEN, ticket_id=ticket_id,
                             level=level, reason=reason,
                             detail=None if ok else (response.code if response else "timeout"))
            # The acknowledgement already shows the thanks on the pad; then back to idle.
            self.show_idle(ctx)

        ctx.engine(action, fields, request_id, 20, done)

    def tick(self, now: float, ctx: LineContext) -> None:
        timed_out = self.session.tick(self.clock())
        if timed_out is not None:
            ctx.device_event(self, LineDeviceEventType.RATING_UNRATED,
                             ticket_id=timed_out.ticket_id)
            self.show_idle(ctx)
