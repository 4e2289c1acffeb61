"""`type: caller`: the caller keypad at a window: a key press becomes one queue request, and the
keypad's display and beep say how it went (drivers/line/caller_keypad.py has the keys and codes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from daemons.line.devices.effects import Effect, PublishEvent, StateChanged
from daemons.line.devices.press import PressDevice
from drivers.line import caller_keypad
from drivers.line import commands as rc
from firmware_config.line import DeviceProfile, LineConfig, LineDeviceConfig
from hall_bus.contract import Response
from hall_bus.contract.line import LineDeviceEventType, LineDeviceKind

# A keypad's press waits for the engine twice (3 s each) before the keypad says "unreachable".
ATTEMPTS = 2


class CallerKeypad(PressDevice):
    kind = LineDeviceKind.CALLER

    def __init__(self, line: LineConfig, config: LineDeviceConfig, profile: DeviceProfile, *,
                 service_ids: list[str], new_id: Callable[[], str]) -> None:
        super().__init__(line, config, profile)
        self.service_ids = service_ids
        self.new_id = new_id

    def handle_press(self, press: rc.Press) -> list[Effect]:
        window = self.config.window or ""
        wanted = caller_keypad.request_for(press, window, self.service_ids)
        if isinstance(wanted, caller_keypad.Result):
            return self._done(press, "?", wanted)
        return self.ask(press, wanted.action, dict(wanted.fields), self.new_id())

    def ask(self, press: rc.Press, action: str, fields: dict[str, Any],
            request_id: str) -> list[Effect]:
        def answered(response: Response | None) -> list[Effect]:
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
            return self._done(press, action, result, text)

        return self.request(press, action, fields, request_id, ATTEMPTS, answered)

    def _done(self, press: rc.Press, action: str, result: caller_keypad.Result,
              text: str = "") -> list[Effect]:
        shown = text or caller_keypad.RESULT_TEXT[result]
        self.shown = (shown,)
        return [*self.finish_press(press.seq, int(result), shown),
                PublishEvent(LineDeviceEventType.KEY_PRESSED,
                             {"action": action, "result": int(result)}),
                StateChanged()]
