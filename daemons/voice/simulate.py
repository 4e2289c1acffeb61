"""Play a burst of calls through the zone schedulers on a simulated clock.

Used by the peak test and by bench/voice_bench.py: real phrase layout from a real voice pack,
real scheduler decisions, only the clock is simulated (an announcement "plays" for exactly its
rendered duration).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from daemons.voice.announce import CallRequest
from daemons.voice.render import Renderer
from daemons.voice.scheduler import ZoneScheduler
from firmware_config.site import SiteConfig, WindowConfig
from hall_bus.contract.voice import VoicePolicy


@dataclass(frozen=True)
class TimedCall:
    at: float
    window_id: str
    ticket: str
    recall: bool = False


@dataclass
class ZoneRun:
    zone: str
    delays: dict[str, float] = field(default_factory=dict)  # ticket -> event to its words
    dropped: list[str] = field(default_factory=list)  # tickets never announced
    policies: list[VoicePolicy] = field(default_factory=list)  # one per announcement
    reasons: list[str] = field(default_factory=list)
    max_backlog: int = 0
    finished_at: float = 0.0
    scheduler: ZoneScheduler | None = None


def peak_calls(site: SiteConfig, count: int, seconds: float, seed: int = 5) -> list[TimedCall]:
    """`count` calls spread at random over `seconds`, the windows taking turns evenly."""
    rng = random.Random(seed)
    windows = [window.id for window in site.windows]
    times = sorted(rng.uniform(0, seconds) for _ in range(count))
    order = [windows[i % len(windows)] for i in range(count)]
    rng.shuffle(order)
    prefixes = "ABCDEFGH"
    return [
        TimedCall(t, window_id, f"{prefixes[i % len(prefixes)]}{i + 1:03d}")
        for i, (t, window_id) in enumerate(zip(times, order, strict=True))
    ]


def run_calls(
    site: SiteConfig, renderer: Renderer, calls: list[TimedCall], *, adaptive: bool = True
) -> dict[str, ZoneRun]:
    windows = {window.id: window for window in site.windows}
    runs: dict[str, ZoneRun] = {}
    for zone in sorted({window.zone for window in site.windows}):
        zone_calls = [call for call in calls if windows[call.window_id].zone == zone]
        scheduler = ZoneScheduler(zone, site.voice, renderer.layout, adaptive=adaptive)
        runs[zone] = _run_zone(scheduler, zone_calls, windows)
    return runs


def _run_zone(
    scheduler: ZoneScheduler, calls: list[TimedCall], windows: dict[str, WindowConfig]
) -> ZoneRun:
    run = ZoneRun(scheduler.zone, scheduler=scheduler)
    pending = list(calls)
    free_at = 0.0
    while pending or scheduler.backlog or scheduler.has_follow_up:
        # Everything that happened before the zone fell silent is queued by then; when it has
        # nothing to say, time jumps to the next call.
        idle = not scheduler.backlog and not scheduler.has_follow_up
        while pending and (pending[0].at <= free_at or idle):
            idle = False
            call = pending.pop(0)
            window = windows[call.window_id]
            request = CallRequest(call.ticket, call.ticket, call.window_id, window.number,
                                  window.name_zh, call.at, call.recall)
            scheduler.offer(request, call.at)
            run.max_backlog = max(run.max_backlog, scheduler.backlog)
            free_at = max(free_at, call.at)
        plan = scheduler.next(free_at)
        if plan is None:
            continue
        duration, marks = scheduler.timing(plan)
        for index, delay in enumerate(scheduler.finished(plan, free_at, marks)):
            run.delays[plan.calls[index].ticket] = delay
        run.policies.append(plan.policy)
        run.reasons.append(scheduler.policy_reason)
        free_at += duration
    run.finished_at = free_at
    run.dropped = [call.ticket for call in calls if call.ticket not in run.delays]
    return run
