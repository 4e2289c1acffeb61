"""The caller keypad at a window: its keys, what each asks of the queue engine, its answers.

The keypad reports a press (key + typed digits) over the reference protocol; the line daemon turns
it into a queue request and acknowledges it with a result code, a beep and a short text on the
keypad's own display. Result 0 is OK; other codes are the first digits a staff member can look up:
1 nobody waiting, 2 not logged in, 3 bad input, 4 refused, 5 engine unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from drivers.line.commands import Press
from hall_bus import errors


class Key(IntEnum):
    NEXT = 0x01
    RECALL = 0x02
    SKIP = 0x03
    TRANSFER = 0x04  # digits: the target service's position in the site list, 1-based
    PAUSE = 0x05
    RESUME = 0x06
    LOGIN = 0x07  # digits: the staff number
    LOGOUT = 0x08
    FINISH = 0x09


ACTIONS = {
    Key.NEXT: "call_next",
    Key.RECALL: "recall",
    Key.SKIP: "skip",
    Key.TRANSFER: "transfer",
    Key.PAUSE: "pause",
    Key.RESUME: "resume",
    Key.LOGIN: "login",
    Key.LOGOUT: "logout",
    Key.FINISH: "finish",
}


class Result(IntEnum):
    OK = 0
    NOBODY_WAITING = 1
    NOT_LOGGED_IN = 2
    BAD_INPUT = 3
    REFUSED = 4
    UNREACHABLE = 5


RESULT_TEXT = {
    Result.OK: "OK",
    Result.NOBODY_WAITING: "E1 无人等候",
    Result.NOT_LOGGED_IN: "E2 未登录",
    Result.BAD_INPUT: "E3 输入有误",
    Result.REFUSED: "E4 操作被拒绝",
    Result.UNREACHABLE: "E5 系统忙",
}

# Queue engine error codes (hall_bus/errors.py) and what the keypad shows for them.
ENGINE_ERRORS = {
    errors.WINDOW_CLOSED: Result.NOT_LOGGED_IN,
    errors.UNKNOWN_STAFF: Result.BAD_INPUT,
    errors.STAFF_NOT_ALLOWED: Result.BAD_INPUT,
    errors.UNKNOWN_SERVICE: Result.BAD_INPUT,
    errors.SAME_SERVICE: Result.BAD_INPUT,
    errors.INVALID_PAYLOAD: Result.BAD_INPUT,
    errors.NO_CURRENT_TICKET: Result.NOBODY_WAITING,
}


@dataclass(frozen=True)
class KeypadRequest:
    """A press turned into a queue action and its extra request fields."""

    action: str
    fields: dict[str, str]


def request_for(press: Press, window_id: str, service_ids: list[str]) -> KeypadRequest | Result:
    """The queue request a press asks for, or the error result to show at once."""
    try:
        key = Key(press.key)
    except ValueError:
        return Result.BAD_INPUT
    fields = {"window_id": window_id}
    if key is Key.LOGIN:
        if not press.arg or not press.arg.isalnum():
            return Result.BAD_INPUT
        fields["staff_id"] = press.arg
    elif key is Key.TRANSFER:
        if not press.arg.isdigit() or not 1 <= int(press.arg) <= len(service_ids):
            return Result.BAD_INPUT
        fields["to_service_id"] = service_ids[int(press.arg) - 1]
    return KeypadRequest(ACTIONS[key], fields)


def result_for_error(code: str | None) -> Result:
    return ENGINE_ERRORS.get(code or "", Result.REFUSED)
