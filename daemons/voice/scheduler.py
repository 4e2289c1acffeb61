"""One audio zone's announcement queue and its load policy. Pure: time is passed in.

Calls are announced first come, first served. A recall of a call still queued, and any second
event for the same ticket, is dropped as a repeat (it keeps its earlier place). Every other call
is announced: when a window calls another ticket while its previous call is still queued, both
are said, because at a peak the earlier call is still the only way its citizen learns to go.
Only with `drop_superseded` configured is the earlier call dropped ("superseded") and the new one
put in its place; the retained state says which rule is in force.

Before each announcement the scheduler picks the lightest policy (normal → single → merged →
terse → compressed, the last at the lowest speed that suffices) under which every queued call —
and the calls the recent arrival rate says will come meanwhile — would start within `max_delay_s`
of its event. It records which policy and why, for the retained state.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from daemons.voice.announce import CallRequest, call_tokens, repeat_tokens
from daemons.voice.phrases import Token
from firmware_config.voice import VoiceConfig
from hall_bus.contract.voice import (
    AnnouncementKind,
    LastAnnouncement,
    SinkHealth,
    VoicePolicy,
    ZoneVoiceState,
)

# How far back arrivals count when forecasting the calls to come.
ARRIVAL_WINDOW_S = 60.0
# Plan against this share of the maximum delay: calls come in bursts, and a burst that lands
# during a long announcement must still fit in what is left.
PLANNING_SHARE = 0.6
# A `compressed` announcement that starts within this of the previous one's end continues it:
# no chime, no lead words.
CONTINUATION_GAP_S = 1.0
NOTICE_MAX_WAIT_S = 60.0
POLICY_ORDER = (VoicePolicy.NORMAL, VoicePolicy.SINGLE, VoicePolicy.MERGED, VoicePolicy.TERSE)
MERGING = (VoicePolicy.MERGED, VoicePolicy.TERSE, VoicePolicy.COMPRESSED)
# Speeds tried under `compressed`, slowest first, up to the configured maximum.
SPEED_STEP = 0.1
FIRST_SPEED = 1.2

Layout = Callable[[list[Token]], tuple[float, dict[int, float]]]


class Offer(StrEnum):
    QUEUED = "queued"
    REPEAT = "repeat"
    SUPERSEDED = "superseded"  # queued, and an older call of the same window was dropped
    MUTED = "muted"


@dataclass
class Plan:
    """The next announcement of a zone."""

    kind: AnnouncementKind
    policy: VoicePolicy
    tokens: list[Token]
    calls: list[CallRequest] = field(default_factory=list)
    notice_id: str | None = None
    repeat_of: CallRequest | None = None
    speed: float = 1.0  # time compression the renderer applies (compressed policy only)


@dataclass
class _Counters:
    calls_spoken: int = 0
    repeats_dropped: int = 0
    superseded: int = 0
    merged: int = 0
    late: int = 0
    muted: int = 0
    worst_delay_s: float = 0.0


class ZoneScheduler:
    def __init__(
        self, zone: str, voice: VoiceConfig, layout: Layout, *, adaptive: bool = True
    ) -> None:
        """`adaptive=False` turns the load policy off (every call in full, nothing dropped): the
        baseline the bench compares against."""
        self.zone = zone
        self.adaptive = adaptive
        self.voice = voice
        self.layout = layout
        self.policy = VoicePolicy.NORMAL
        self.policy_reason = "空闲 / idle"
        self.speed = 1.0
        self.last: LastAnnouncement | None = None
        self.counters = _Counters()
        self._pending: list[CallRequest] = []
        self._notices: deque[tuple[str, list[Token], float]] = deque()  # id, words, queued at
        self._arrivals: deque[float] = deque()
        self._follow_up: tuple[CallRequest, int] | None = None  # call to repeat, times left
        self._burst_until = float("-inf")  # end of the last `compressed` announcement
        self._lock = threading.Lock()

    # --- input ------------------------------------------------------------------------------

    def offer(self, call: CallRequest, now: float, volume: int = 100) -> Offer:
        with self._lock:
            if volume == 0:
                self.counters.muted += 1
                return Offer.MUTED
            if not self.adaptive:
                self._pending.append(call)
                return Offer.QUEUED
            if any(queued.ticket_id == call.ticket_id for queued in self._pending):
                self.counters.repeats_dropped += 1
                return Offer.REPEAT
            self._note_arrival(now)
            if self.voice.drop_superseded:
                for index, queued in enumerate(self._pending):
                    if queued.window_id == call.window_id:
                        self._pending[index] = call
                        self.counters.superseded += 1
                        return Offer.SUPERSEDED
            self._pending.append(call)
            return Offer.QUEUED

    def add_notice(self, notice_id: str, tokens: list[Token], now: float) -> None:
        with self._lock:
            self._notices.append((notice_id, tokens, now))

    @property
    def has_follow_up(self) -> bool:
        with self._lock:
            return self._follow_up is not None

    @property
    def backlog(self) -> int:
        with self._lock:
            return len(self._pending)

    # --- output -----------------------------------------------------------------------------

    def next(self, now: float) -> Plan | None:
        """Take the next announcement off the queue: a due repeat, then calls, then notices (a
        notice that has waited a minute goes before the calls)."""
        with self._lock:
            repeat = self._take_follow_up(now)
            if repeat is not None:
                return repeat
            # Calls come first, but a notice is not starved by a busy afternoon.
            overdue = bool(self._notices) and now - self._notices[0][2] > NOTICE_MAX_WAIT_S
            if self._notices and (overdue or not self._pending):
                notice_id, tokens, _queued = self._notices.popleft()
                return Plan(AnnouncementKind.NOTICE, self.policy, tokens, notice_id=notice_id)
            if not self._pending:
                return None
            self.policy, self.policy_reason, self.speed = self._choose(now)
            size = _group_size(self.policy, self.voice)
            calls, self._pending = self._pending[:size], self._pending[size:]
            tokens = call_tokens(calls, self.policy, self.voice,
                                 continues_burst=self._continues_burst(self.policy, now))
            return Plan(AnnouncementKind.CALL, self.policy, tokens, calls, speed=self.speed)

    def _continues_burst(self, policy: VoicePolicy, now: float) -> bool:
        return policy is VoicePolicy.COMPRESSED and now - self._burst_until <= CONTINUATION_GAP_S

    def timing(self, plan: Plan) -> tuple[float, dict[int, float]]:
        """Duration and call offsets in seconds of a plan as it will play (after compression)."""
        return self._timed(plan.tokens, plan.speed)

    def _timed(self, tokens: list[Token], speed: float) -> tuple[float, dict[int, float]]:
        duration, marks = self.layout(tokens)
        if speed == 1.0:
            return duration, marks
        return duration / speed, {call: offset / speed for call, offset in marks.items()}

    def _take_follow_up(self, now: float) -> Plan | None:
        if self._follow_up is None:
            return None
        call, left = self._follow_up
        self._follow_up = None
        tokens = repeat_tokens(call, self.voice)
        if self._pending:
            duration, _ = self.layout(tokens)
            policy, reason, speed = self._choose(now, head_start=duration)
            if policy is not VoicePolicy.NORMAL:
                self.policy, self.policy_reason, self.speed = policy, reason, speed
                self.counters.repeats_dropped += left
                return None
        if left > 1:
            self._follow_up = (call, left - 1)
        return Plan(AnnouncementKind.CALL, VoicePolicy.NORMAL, tokens, repeat_of=call)

    def finished(self, plan: Plan, started: float, marks_s: dict[int, float]) -> list[float]:
        """Account for a played announcement; returns each call's delay (event → its words)."""
        delays = [
            started + marks_s.get(index, 0.0) - call.received
            for index, call in enumerate(plan.calls)
        ]
        with self._lock:
            if plan.policy is VoicePolicy.COMPRESSED and plan.calls:
                self._burst_until = started + self._timed(plan.tokens, plan.speed)[0]
            counters = self.counters
            counters.calls_spoken += len(plan.calls)
            if plan.policy in MERGING:
                counters.merged += len(plan.calls)
            counters.late += sum(delay > self.voice.max_delay_s for delay in delays)
            if delays:
                counters.worst_delay_s = max(counters.worst_delay_s, *delays)
            if plan.calls and self.voice.repeat > 1:
                if plan.policy is VoicePolicy.NORMAL:
                    self._follow_up = (plan.calls[0], self.voice.repeat - 1)
                else:
                    # What the calm policy would have said again, and was not.
                    counters.repeats_dropped += (self.voice.repeat - 1) * len(plan.calls)
        return delays

    def abandoned(self, plan: Plan) -> None:
        """The output stayed down past the calls' time: they count as late, never as said."""
        with self._lock:
            self.counters.late += len(plan.calls)

    def snapshot(self, volume: int, sink: SinkHealth) -> ZoneVoiceState:
        with self._lock:
            c = self.counters
            return ZoneVoiceState(
                zone=self.zone,
                backlog=len(self._pending),
                policy=self.policy,
                policy_reason=self.policy_reason,
                speed=round(self.speed, 2),
                volume=volume,
                last=self.last,
                sink=sink,
                calls_spoken=c.calls_spoken,
                repeats_dropped=c.repeats_dropped,
                superseded=c.superseded,
                merged=c.merged,
                late=c.late,
                muted=c.muted,
                worst_delay_s=round(c.worst_delay_s, 3),
            )

    # --- policy -----------------------------------------------------------------------------

    def _note_arrival(self, now: float) -> None:
        self._arrivals.append(now)
        while self._arrivals and self._arrivals[0] < now - ARRIVAL_WINDOW_S:
            self._arrivals.popleft()

    def _forecast(self, now: float) -> list[CallRequest]:
        """Calls expected while the backlog is spoken, at the recent arrival rate."""
        recent = [t for t in self._arrivals if t >= now - ARRIVAL_WINDOW_S]
        if len(recent) < 2 or not self._pending:
            return []
        # A burst of simultaneous calls is not a rate: spread it over at least half the delay
        # limit. (Over the whole limit, the first seconds of a real peak read as calm and the
        # zone fell behind before it compressed.)
        span = max(now - recent[0], self.voice.max_delay_s / 2)
        interval = span / (len(recent) - 1)
        model = self._pending[-1]
        count = int(self.voice.max_delay_s / interval)
        return [
            CallRequest(f"forecast-{i}", model.ticket, f"forecast-{i}", model.window_number,
                        model.window_name, now + interval * i)
            for i in range(1, count + 1)
        ]

    def _choose(
        self, now: float, head_start: float = 0.0
    ) -> tuple[VoicePolicy, str, float]:
        """The lightest policy (and speed) that keeps every call on time, after `head_start` s
        of audio."""
        if not self.adaptive:
            return VoicePolicy.NORMAL, "负载策略已关闭 / load policy off", 1.0
        target = self.voice.max_delay_s * PLANNING_SHARE
        limit = self.voice.max_delay_s
        forecast = self._forecast(now)
        worst: dict[VoicePolicy, float] = {}
        for policy in POLICY_ORDER:
            worst[policy] = self._worst_delay(policy, now + head_start, forecast)
            if worst[policy] <= target:
                return policy, self._reason(policy, worst, limit), 1.0
        waiting = len(self._pending)
        last, speed = worst[VoicePolicy.TERSE], 1.0
        for speed in self._speeds():
            last = self._worst_delay(VoicePolicy.COMPRESSED, now + head_start, forecast, speed)
            if last <= target:
                break
        if speed == 1.0 and last <= limit:
            return VoicePolicy.TERSE, (
                f"合并并精简 / merged, ticket and window only: {waiting} 个呼叫待播，最迟一次将晚 "
                f"{last:.0f} 秒（上限 {limit:g} 秒）/ {waiting} call(s) waiting; the latest would "
                f"start {last:.0f} s after its event (limit {limit:g} s)"
            ), 1.0
        if speed == 1.0:
            return VoicePolicy.TERSE, self._overload(waiting, last, limit), 1.0
        action = (f"合并、精简并加快至 {speed:.1f} 倍（音调不变）/ merged, ticket and window only, "
                  f"played {speed:.1f}x faster at the same pitch")
        if last <= limit:
            return VoicePolicy.COMPRESSED, (
                f"{action}: {waiting} 个呼叫待播，最迟一次将晚 {last:.0f} 秒（上限 {limit:g} 秒）"
                f"/ {waiting} call(s) waiting; the latest would start {last:.0f} s after its "
                f"event (limit {limit:g} s)"
            ), speed
        return VoicePolicy.COMPRESSED, f"{action}; {self._overload(waiting, last, limit)}", speed

    def _speeds(self) -> list[float]:
        """Speeds to try under `compressed`, slowest first; empty if compression is off."""
        fastest = self.voice.max_speedup
        if fastest <= 1.0:
            return []
        speeds = []
        speed = min(FIRST_SPEED, fastest)
        while speed < fastest - 1e-9:
            speeds.append(round(speed, 2))
            speed += SPEED_STEP
        return [*speeds, fastest]

    @staticmethod
    def _overload(waiting: int, last: float, limit: float) -> str:
        return (
            f"超载：{waiting} 个呼叫待播，最迟一次将晚 {last:.0f} 秒（上限 {limit:g} 秒）/ "
            f"overloaded: {waiting} call(s) waiting; the latest would start {last:.0f} s after "
            f"its event (limit {limit:g} s) even at its shortest"
        )

    def _reason(self, policy: VoicePolicy, worst: dict[VoicePolicy, float], limit: float) -> str:
        waiting = len(self._pending)
        if policy is VoicePolicy.NORMAL:
            return f"正常：{waiting} 个呼叫待播 / normal: {waiting} call(s) waiting"
        previous = POLICY_ORDER[POLICY_ORDER.index(policy) - 1]
        action = {
            VoicePolicy.SINGLE: "不再重复 / repeats dropped",
            VoicePolicy.MERGED: "合并相邻呼叫 / adjacent calls merged",
            VoicePolicy.TERSE: "合并并精简 / merged, ticket and window only",
        }[policy]
        return (
            f"{action}: {waiting} 个呼叫待播，按 {previous.value} 最迟一次将晚 "
            f"{worst[previous]:.0f} 秒（上限 {limit:g} 秒，留有余量）/ {waiting} call(s) waiting; "
            f"under {previous.value} the latest would start {worst[previous]:.0f} s after its "
            f"event (limit {limit:g} s, planned with a margin)"
        )

    def _worst_delay(
        self, policy: VoicePolicy, now: float, forecast: list[CallRequest], speed: float = 1.0
    ) -> float:
        """Simulate speaking the queue (and the forecast) under `policy`; the worst call delay."""
        size = _group_size(policy, self.voice)
        queue = list(self._pending)
        upcoming = list(forecast)
        clock = now
        burst_end = self._burst_until
        worst = 0.0
        while queue or upcoming:
            while upcoming and upcoming[0].received <= clock:
                queue.append(upcoming.pop(0))
            if not queue:
                clock = upcoming[0].received
                continue
            group, queue = queue[:size], queue[size:]
            # Under `compressed` only the first announcement of a burst has a chime.
            continues = clock - burst_end <= CONTINUATION_GAP_S
            tokens = call_tokens(group, policy, self.voice, continues_burst=continues)
            duration, marks = self._timed(tokens, speed)
            for index, call in enumerate(group):
                worst = max(worst, clock + marks.get(index, 0.0) - call.received)
            clock += duration
            burst_end = clock
            if policy is VoicePolicy.NORMAL and self.voice.repeat > 1:
                repeat, _ = self.layout(repeat_tokens(group[0], self.voice))
                clock += repeat * (self.voice.repeat - 1)
        return worst


def _group_size(policy: VoicePolicy, voice: VoiceConfig) -> int:
    """Calls per announcement: at a burst more of them share one chime."""
    if policy is VoicePolicy.COMPRESSED:
        return max(voice.merge_max, voice.burst_merge_max)
    return voice.merge_max if policy in MERGING else 1
