"""How the demo's staff and citizens act at a window: by the window's simulated caller keypad and
evaluation pad where its line is simulated, by the queue engine's requests where it has none.

At a keypad window the staff press a key and wait for the keypad's own acknowledgement (its text
and beep) before the next press; what was called is read from the engine's retained queue state,
as a person reads the window's screen, not from an answer only the line daemon sees. The citizen
rates on the pad once it shows the rating prompt for their ticket, no faster than the pad's
minimum press interval, and picks a reason on the pad for the bottom two levels. Actions no keypad
has (start of service) and everything at kiosks stay engine requests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from demo.report import percentile
from drivers.line.caller_keypad import Key, Result
from drivers.line.evaluation_pad import LEVELS, PROMPT, REASON_PROMPT, THANKS, PadKey
from drivers.line.press_channel import PressChannel, PressOutcome, press_channel_path
from firmware_config.line import LineConfig, PadPolicy, load_profile
from firmware_config.site import SiteConfig
from hall_bus.client import BusClient
from hall_bus.contract import QueueSummaryState, RatingLevel, Response, ResponseStatus
from hall_bus.topics import queue_endpoint

log = logging.getLogger("hall.demo.desk")

KEYS = {
    "login": Key.LOGIN,
    "call_next": Key.NEXT,
    "recall": Key.RECALL,
    "skip": Key.SKIP,
    "transfer": Key.TRANSFER,
    "pause": Key.PAUSE,
    "resume": Key.RESUME,
    "logout": Key.LOGOUT,
    "finish": Key.FINISH,
}
# What the keypad's result codes mean as engine outcomes, for the traffic's bookkeeping.
RESULT_ERRORS = {
    Result.NOBODY_WAITING: "no_current_ticket",
    Result.NOT_LOGGED_IN: "window_closed",
    Result.BAD_INPUT: "bad_input",
    Result.REFUSED: "refused",
    Result.UNREACHABLE: "unreachable",
}
PRESS_WAIT_S = 10.0  # a keypad is answered within a poll cycle or two; longer means trouble
RATING_WAIT_S = 30.0  # a pad rating is acknowledged only once the engine has it
PROMPT_WAIT_S = 5.0
STATE_WAIT_S = 5.0

# Presses a window's staff wait for per citizen (next, finish; the rating is the citizen's) and
# once a day (login, a break and lunch paused and resumed, logout).
STAFF_PRESSES_PER_CITIZEN = 2
STAFF_PRESSES_PER_DAY = 6
# A keypad press to its acknowledgement on the demo's 9600-baud lines (8 windows of keypad, pad
# and strip each, plus the hall screen on one): 0.3 s p50 with one window pressing, 1.8 s with
# all eight back to back (bench/demo_press_bench.py); in a `hall demo --seconds 20` day p50
# 0.4-0.65 s and, what capacity depends on, a mean of 0.8 s (device_presses.ack_ms_mean). The
# wire does not speed up with the simulated clock.
PRESS_ACK_S = 0.8

RequestFn = Callable[..., Response | None]


def keypad_minutes(speed: float) -> tuple[float, float]:
    """Simulated minutes a keypad window's staff spend waiting for the keypad: per citizen, and
    once a day."""
    per_press = PRESS_ACK_S * speed / 60
    return STAFF_PRESSES_PER_CITIZEN * per_press, STAFF_PRESSES_PER_DAY * per_press


@dataclass(frozen=True)
class CalledTicket:
    ticket_id: str
    number: str
    service_id: str


@dataclass(frozen=True)
class DeskOutcome:
    ok: bool
    error: str | None = None
    ticket: CalledTicket | None = None


class Desk(Protocol):
    def act(self, action: str, **fields: Any) -> DeskOutcome: ...
    def rate(self, ticket: CalledTicket, level: RatingLevel, reason: int) -> bool: ...


@dataclass
class PressLog:
    """Presses made on simulated devices: counts, failures and press-to-acknowledgement times."""

    sent: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    by_action: Counter[str] = field(default_factory=Counter)
    ack_ms: list[float] = field(default_factory=list)
    # Ratings a citizen meant to give on a pad and could not, by why.
    ratings_missed: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, action: str, outcome: PressOutcome) -> None:
        with self.lock:
            self.sent += 1
            self.by_action[action] += 1
            if outcome.ack_ms is not None:
                self.ack_ms.append(outcome.ack_ms)
            if not outcome.ok:
                self.failed[outcome.error or "unknown"] += 1

    def report(self, speed: float = 1.0) -> dict[str, Any]:
        """The figures; `speed` (of the simulated clock) gives a press's cost in its minutes."""
        with self.lock:
            p50_s = percentile(self.ack_ms, 0.50) / 1000
            return {
                "sent": self.sent,
                "failed": sum(self.failed.values()),
                "failed_by_error": dict(self.failed),
                "pad_ratings_missed": dict(self.ratings_missed),
                "by_action": dict(self.by_action),
                "ack_ms_mean": round(sum(self.ack_ms) / len(self.ack_ms), 1) if self.ack_ms
                else 0.0,
                "ack_ms_p50": round(percentile(self.ack_ms, 0.50), 1),
                "ack_ms_p99": round(percentile(self.ack_ms, 0.99), 1),
                "simulated_min_per_press_p50": round(p50_s * speed / 60, 1),
            }


class QueueView:
    """The engine's retained queue state, as the screens see it."""

    def __init__(self, bus: BusClient, hall_id: str) -> None:
        self._latest: QueueSummaryState | None = None
        self._changed = threading.Condition()
        bus.subscribe_model(queue_endpoint(hall_id).state, QueueSummaryState,
                            lambda _t, state: self._update(state))

    def _update(self, state: QueueSummaryState) -> None:
        with self._changed:
            self._latest = state
            self._changed.notify_all()

    def waiting(self, service_ids: list[str]) -> int | None:
        """Citizens waiting for any of these services (None before the first state)."""
        state = self._latest
        if state is None:
            return None
        return sum(s.waiting for s in state.services if s.service_id in service_ids)

    def current(self, window_id: str, number: str, timeout: float) -> CalledTicket | None:
        """The ticket `number` once the state shows it at `window_id`."""
        found: list[CalledTicket] = []

        def shows_it() -> bool:
            state = self._latest
            window = next((w for w in state.windows if w.window_id == window_id),
                          None) if state else None
            if window is None or window.current_ticket != number:
                return False
            if window.current_ticket_id is None or window.current_service_id is None:
                return False
            found.append(CalledTicket(window.current_ticket_id, number, window.current_service_id))
            return True

        with self._changed:
            self._changed.wait_for(shows_it, timeout)
        return found[-1] if found else None


class DirectDesk:
    """A window without a simulated keypad: the engine's requests, as a console would send."""

    def __init__(self, window_id: str, request: RequestFn) -> None:
        self.window_id = window_id
        self.request = request

    def act(self, action: str, **fields: Any) -> DeskOutcome:
        response = self.request(action, window_id=self.window_id, **fields)
        if response is None:
            return DeskOutcome(False, "timeout")
        if response.status is ResponseStatus.ERROR:
            return DeskOutcome(False, response.code)
        ticket = (response.data or {}).get("ticket")
        called = CalledTicket(ticket["ticket_id"], ticket["number"], ticket["service_id"]) \
            if action == "call_next" and isinstance(ticket, dict) else None
        return DeskOutcome(True, ticket=called)

    def rate(self, ticket: CalledTicket, level: RatingLevel, reason: int) -> bool:
        reasons = PadPolicy().reasons
        response = self.request("rate", ticket_id=ticket.ticket_id, level=level,
                                reason=reasons[reason % len(reasons)] if level.is_bad else None,
                                source="pad")
        return response is not None and response.status is ResponseStatus.OK


class KeypadDesk:
    """A window whose caller keypad (and pad, if any) sit on a simulated line."""

    def __init__(self, window_id: str, channel: PressChannel, caller: str, pad: str | None,
                 pad_policy: PadPolicy, service_ids: list[str], view: QueueView,
                 presses: PressLog, direct: DirectDesk) -> None:
        self.window_id = window_id
        self.channel = channel
        self.caller = caller
        self.pad = pad
        self.pad_policy = pad_policy
        self.service_ids = service_ids
        self.view = view
        self.presses = presses
        self.direct = direct
        self._pad_lock = threading.Lock()  # one citizen at the pad at a time
        self._pad_pressed_at = -1e9

    def act(self, action: str, **fields: Any) -> DeskOutcome:
        key = KEYS.get(action)
        if key is None:
            return self.direct.act(action, **fields)  # no key for it (start_service)
        arg = ""
        if key is Key.LOGIN:
            arg = str(fields["staff_id"])
        elif key is Key.TRANSFER:
            arg = str(self.service_ids.index(str(fields["to_service_id"])) + 1)
        outcome = self.channel.press(self.caller, key, arg, PRESS_WAIT_S)
        self.presses.record(action, outcome)
        if not outcome.ok:
            log.warning("%s %s: 按键未被应答 / press not acknowledged: %s", self.caller, action,
                        outcome.error)
            return DeskOutcome(False, outcome.error)
        try:
            result = Result(outcome.result) if outcome.result is not None else Result.REFUSED
        except ValueError:
            result = Result.REFUSED
        if action == "call_next" and result is Result.NOBODY_WAITING:
            return DeskOutcome(True)  # the keypad shows E1: nobody to call
        if result is not Result.OK:
            return DeskOutcome(False, RESULT_ERRORS.get(result, "refused"))
        if action != "call_next":
            return DeskOutcome(True)
        # The keypad shows the number called; which ticket that is, the hall's state tells.
        ticket = self.view.current(self.window_id, outcome.text, STATE_WAIT_S)
        if ticket is None:
            log.warning("%s: %s 未出现在排队状态中 / not in the queue state", self.window_id,
                        outcome.text)
            return DeskOutcome(False, "not_in_state")
        return DeskOutcome(True, ticket=ticket)

    def rate(self, ticket: CalledTicket, level: RatingLevel, reason: int) -> bool:
        if self.pad is None:
            return self.direct.rate(ticket, level, reason)
        with self._pad_lock:
            missed = self._rate_on_pad(ticket, level, reason)
        if missed is not None:
            with self.presses.lock:
                self.presses.ratings_missed[missed] += 1
        return missed is None

    def _rate_on_pad(self, ticket: CalledTicket, level: RatingLevel, reason: int) -> str | None:
        """None once the pad thanked for the rating, else why not."""
        matched, shown = self.channel.screen(self.pad or "", PROMPT, PROMPT_WAIT_S)
        if not matched or f"{ticket.number} 号" not in shown:
            # The window finished the next citizen first: the pad asks about their ticket.
            return "no_prompt" if not matched else "prompt_for_another_ticket"
        outcome = self._press_pad("rate", PadKey.LEVEL_1 + LEVELS.index(level))
        if outcome is None:
            return "level_not_acknowledged"
        if not (level.is_bad and self.pad_policy.reasons):
            return None if outcome.text == THANKS else "level_ignored"
        matched, _ = self.channel.screen(self.pad or "", REASON_PROMPT, PROMPT_WAIT_S)
        if not matched:
            return "no_reason_screen"
        index = reason % len(self.pad_policy.reasons)
        outcome = self._press_pad("rate_reason", PadKey.REASON_BASE + 1 + index)
        if outcome is None:
            return "reason_not_acknowledged"
        return None if outcome.text == THANKS else "reason_ignored"

    def _press_pad(self, what: str, key: int) -> PressOutcome | None:
        # The pad ignores presses closer together than its minimum interval; a citizen who
        # pressed one a moment ago (or the previous citizen) is not faster than that.
        assert self.pad is not None
        wait = self._pad_pressed_at + self.pad_policy.min_interval_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        outcome = self.channel.press(self.pad, key, wait_s=RATING_WAIT_S)
        self._pad_pressed_at = time.monotonic()
        self.presses.record(what, outcome)
        return outcome if outcome.ok and outcome.result == 0 else None


def build_desks(site: SiteConfig, request: RequestFn, view: QueueView,
                presses: PressLog) -> dict[str, Desk]:
    """A desk per window: keypad windows on the site's simulated lines, the rest direct."""
    desks: dict[str, Desk] = {w.id: DirectDesk(w.id, request) for w in site.windows}
    service_ids = [s.id for s in site.services]
    for line in site.lines:
        path = press_channel_path(line, site.data_dir)
        if path is None:
            continue
        channel = PressChannel(path)
        for window_id, (caller, pad) in _window_devices(line).items():
            if caller is not None:
                desks[window_id] = KeypadDesk(window_id, channel, caller, pad, line.pad,
                                              service_ids, view, presses,
                                              DirectDesk(window_id, request))
    return desks


def keypad_windows(site: SiteConfig) -> set[str]:
    """Windows whose staff use a simulated caller keypad in the demo."""
    return {window_id for line in site.lines if press_channel_path(line, site.data_dir)
            for window_id, (caller, _pad) in _window_devices(line).items() if caller}


def _window_devices(line: LineConfig) -> dict[str, tuple[str | None, str | None]]:
    found: dict[str, tuple[str | None, str | None]] = {}
    for device in line.devices:
        if device.window is None:
            continue
        kind = load_profile(device.profile).kind
        caller, pad = found.get(device.window, (None, None))
        if kind == "caller":
            caller = device.id
        elif kind == "pad":
            pad = device.id
        found[device.window] = (caller, pad)
    return found
