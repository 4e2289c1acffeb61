"""`type: pad`: the evaluation pad at a window: it asks for a rating when a ticket is finished
there, shows the logged-in staff while idle (亮证上岗), and holds the press until the engine has
the rating (drivers/line/evaluation_pad.py is the conversation)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from daemons.line.devices.effects import Effect, PublishEvent, StateChanged, Write, WriteJob
from daemons.line.devices.press import PressDevice
from daemons.line.scheduler import Lane
from drivers.line import commands as rc
from drivers.line.evaluation_pad import THANKS, PadMode, PadSession, Rating, idle_payload
from drivers.line.frame import Frame, encode
from firmware_config.line import DeviceProfile, LineConfig, LineDeviceConfig
from hall_bus.contract import QueueEvent, QueueEventType, QueueSummaryState, RatingLevel, Response
from hall_bus.contract.line import LineDeviceEventType, LineDeviceKind

# A rating is retried (same request id) for about a minute before the pad says it failed.
ATTEMPTS = 20


class EvaluationPad(PressDevice):
    kind = LineDeviceKind.PAD

    def __init__(self, line: LineConfig, config: LineDeviceConfig, profile: DeviceProfile, *,
                 new_id: Callable[[], str], clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(line, config, profile)
        policy = self.line.pad
        self.session = PadSession(list(policy.reasons), policy.timeout_s, policy.min_interval_s)
        self.new_id = new_id
        self.clock = clock
        self.staff: tuple[str, str] | None = None

    def on_queue_event(self, event: QueueEvent) -> list[Effect]:
        ticket = event.ticket
        if event.type is not QueueEventType.TICKET_FINISHED or ticket is None:
            return []
        if ticket.window_id != self.config.window or ticket.rating is not None:
            return []
        if self.session.ticket_finished(ticket.ticket_id, ticket.number, self.clock()):
            return self.display("\n".join(self.session.screen()), Lane.URGENT)
        return []

    def on_summary(self, state: QueueSummaryState) -> list[Effect]:
        window = next((w for w in state.windows if w.window_id == self.config.window), None)
        staff = (window.staff_id, window.staff_name or "") if window and window.staff_id else None
        if staff == self.staff:
            return []
        self.staff = staff
        return self.show_idle() if self.session.mode is PadMode.IDLE else []

    def show_idle(self) -> list[Effect]:
        staff_id, name = self.staff or ("", "暂停服务")
        address = self.config.address
        payload = idle_payload(staff_id, name, staff_id)
        self.shown = (f"{name} {staff_id}".strip(), "亮证上岗" if staff_id else "")

        def build(seq: int) -> bytes:
            return encode(Frame(address, rc.IDLE, seq, payload))

        return [Write(WriteJob(self, build, expects_reply=True), Lane.ROUTINE), StateChanged()]

    @property
    def expecting_press(self) -> bool:
        # An idle pad rates nothing; it matters again once it prompts for a rating.
        return self.session.mode is not PadMode.IDLE or self.in_flight is not None

    def handle_press(self, press: rc.Press) -> list[Effect]:
        mode_before = self.session.mode
        rating = self.session.press(press.key, self.clock())
        if rating is not None:
            return self._rate(press.seq, rating)
        effects = self.finish_press(press.seq, 0, "")
        if self.session.mode is not mode_before:
            effects += self.display("\n".join(self.session.screen()), Lane.URGENT)
        return effects

    def _rate(self, seq: int, rating: Rating) -> list[Effect]:
        assert rating.level is not None
        fields: dict[str, Any] = {"ticket_id": rating.ticket_id, "level": rating.level.value,
                                  "source": self.config.id}
        if rating.reason:
            fields["reason"] = rating.reason
        return self.ask(rc.Press(seq, 0), "rate", fields, self.new_id())

    def ask(self, press: rc.Press, action: str, fields: dict[str, Any],
            request_id: str) -> list[Effect]:
        ticket_id, reason = str(fields["ticket_id"]), fields.get("reason")
        level = RatingLevel(fields["level"])

        def answered(response: Response | None) -> list[Effect]:
            # The press stays unacknowledged on the pad until the engine has the rating, so a
            # rating is never lost between pad and engine; the same request id is retried.
            ok = response is not None and response.status == "ok"
            given = PublishEvent(LineDeviceEventType.RATING_GIVEN, {
                "ticket_id": ticket_id, "level": level, "reason": reason,
                "detail": None if ok else (response.code if response else "timeout")})
            # The acknowledgement already shows the thanks on the pad; then back to idle.
            return [*self.finish_press(press.seq, 0 if ok else 4, THANKS if ok else "评价未成功"),
                    given, *self.show_idle()]

        return self.request(press, action, fields, request_id, ATTEMPTS, answered)

    def tick(self, now: float) -> list[Effect]:
        timed_out = self.session.tick(self.clock())
        if timed_out is None:
            return []
        return [PublishEvent(LineDeviceEventType.RATING_UNRATED,
                             {"ticket_id": timed_out.ticket_id}), *self.show_idle()]
