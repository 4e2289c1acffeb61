"""`hall voice`: the announcer daemon on the hall bus.

It follows the queue's `ticket_called` / `ticket_recalled` events, hands each call to the
scheduler of its window's audio zone, and runs one worker per zone that renders the next
announcement into one buffer and plays it on that zone's sink. Notices are queued at their time
of day. Its retained state (`hall/<id>/voice/state`) says per zone the backlog, the policy in force
and why, the last announcement and the health of the output.
"""

from __future__ import annotations

import argparse
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from daemons.voice.announce import CallRequest, call_tokens, notice_tokens, repeat_tokens
from daemons.voice.pack import PackError, VoicePack, load_pack
from daemons.voice.pack_builder import build_pack
from daemons.voice.render import Renderer
from daemons.voice.scheduler import Plan, ZoneScheduler
from daemons.voice.sinks import AlsaSink, Sink, SinkError, WavFileSink
from daemons.voice.tts import EspeakEngine, TtsError
from firmware_config.loader import add_site_argument, load_site_or_exit
from firmware_config.site import SiteConfig
from hall_bus.client import BusClient
from hall_bus.contract import channels
from hall_bus.contract.notice import HallNotice
from hall_bus.contract.queue import QueueEvent, QueueEventType
from hall_bus.contract.voice import (
    AnnouncementKind,
    LastAnnouncement,
    SinkHealth,
    VoicePolicy,
    VoiceState,
)
from hall_bus.ids import utc_now
from hall_bus.lifecycle import run_until_signalled
from hall_bus.liveness import Heartbeat
from hall_bus.simclock import Clock, ScaledClock, wall_clock
from hall_bus.topics import Endpoint

log = logging.getLogger("hall.voice")

CALL_EVENTS = (QueueEventType.TICKET_CALLED, QueueEventType.TICKET_RECALLED)
IDLE_POLL_S = 0.5
NOTICE_GRACE_S = 60.0
# A manager's notice older than this when it arrives (a retained one after a restart) is not said.
MANAGER_NOTICE_FRESH_S = 120.0
MAX_WINDOW_NUMBER = 999
TICKET_PATTERN = re.compile(r"[A-Za-z]{0,3}[0-9]{1,5}")

SinkFactory = Callable[[str], Sink]


def voice_endpoint(hall_id: str) -> Endpoint:
    return Endpoint(hall_id, "voice")


class ZoneWorker:
    """Speaks one zone's announcements, one at a time, on its own thread."""

    def __init__(self, daemon: VoiceDaemon, scheduler: ZoneScheduler, sink: Sink) -> None:
        self.daemon = daemon
        self.scheduler = scheduler
        self.sink = sink
        self.health = SinkHealth(kind=sink.kind, target=sink.target, ok=True)
        self.wake = threading.Event()
        self.first_sample_at: dict[str, float] = {}  # event id -> monotonic time, for the bench
        self.thread = threading.Thread(
            target=self._run, name=f"voice-{scheduler.zone}", daemon=True
        )
        self.heartbeat = Heartbeat(f"voice-{scheduler.zone}")

    def _run(self) -> None:
        daemon = self.daemon
        while not daemon.stopping.is_set():
            self.heartbeat.beat()
            try:
                plan = self.scheduler.next(daemon.monotonic())
            except Exception:  # never let one odd call end the zone's thread
                log.exception("zone %s: could not plan the next announcement", self.scheduler.zone)
                self.heartbeat.pause(daemon.stopping, IDLE_POLL_S)
                continue
            if plan is None:
                self.heartbeat.pause(self.wake, IDLE_POLL_S)
                self.wake.clear()
                continue
            try:
                self._speak(plan)
            except Exception:  # a bad announcement must not silence the zone for the day
                log.exception("zone %s: announcement failed", self.scheduler.zone)
            daemon.publish_state()

    def _speak(self, plan: Plan) -> None:
        daemon = self.daemon
        volume = daemon.volume_now()
        if volume == 0 and plan.kind is AnnouncementKind.NOTICE:
            return
        rendered = daemon.renderer.render(plan.tokens, max(volume, 1), plan.speed)
        name = plan.notice_id or (plan.calls[0].ticket if plan.calls else "repeat")
        while not daemon.stopping.is_set():
            try:
                started = self.sink.play(rendered.samples, rendered.rate, _safe(name))
            except SinkError as exc:
                self._failed(str(exc))
                if self._too_late(plan):
                    log.warning("zone %s: gave up on %s: output down", self.scheduler.zone, name)
                    self.scheduler.abandoned(plan)
                    return
                self.heartbeat.pause(daemon.stopping, daemon.voice.sink.retry_s)
                continue
            break
        else:
            return
        if not self.health.ok:
            log.info("zone %s: audio output back / 音频输出恢复", self.scheduler.zone)
        self.health = SinkHealth(kind=self.sink.kind, target=self.sink.target, ok=True)
        for call in plan.calls:
            self.first_sample_at[call.event_id] = started
        delays = self.scheduler.finished(plan, started, rendered.marks_s())
        self.scheduler.last = LastAnnouncement(
            kind=plan.kind,
            text=rendered.text,
            tickets=[call.ticket for call in plan.calls] or
            ([plan.repeat_of.ticket] if plan.repeat_of else []),
            policy=plan.policy,
            started_at=utc_now(),
            duration_s=round(rendered.duration_s, 3),
            speed=plan.speed,
            worst_delay_s=round(max(delays, default=0.0), 3),
        )
        log.info("zone %s [%s] %s", self.scheduler.zone, plan.policy.value, rendered.text)

    def _failed(self, error: str) -> None:
        if self.health.ok:
            log.warning("zone %s: 音频输出故障 / audio output failed: %s",
                        self.scheduler.zone, error)
        self.health = SinkHealth(kind=self.sink.kind, target=self.sink.target, ok=False,
                                 error=error, failures=self.health.failures + 1)
        self.daemon.publish_state()

    def _too_late(self, plan: Plan) -> bool:
        oldest = min((call.received for call in plan.calls), default=None)
        if oldest is None:
            return True  # a repeat or a notice is not worth holding the zone for
        return self.daemon.monotonic() - oldest > 2 * self.daemon.voice.max_delay_s


class VoiceDaemon:
    def __init__(
        self,
        site: SiteConfig,
        *,
        data_dir: Path | None = None,
        sink_factory: SinkFactory | None = None,
        clock: Clock = wall_clock,
        engine: EspeakEngine | None = None,
        pack: VoicePack | None = None,
    ) -> None:
        self.site = site
        self.voice = site.voice
        self.data_dir = data_dir or site.data_dir
        self.clock = clock
        self.monotonic = time.monotonic
        self.engine = engine if engine is not None else EspeakEngine()
        self.endpoint = voice_endpoint(site.hall_id)
        self.bus = BusClient(site.hall_id, "voice", site.broker)
        self.stopping = threading.Event()
        self._pack = pack
        self._sink_factory = sink_factory or self._default_sink
        self._state_lock = threading.Lock()
        self._notices_done: set[tuple[date, str]] = set()
        self._notice_thread = threading.Thread(
            target=self._notice_loop, name="voice-notices", daemon=True
        )
        self._notice_beat = Heartbeat("voice-notices")
        self.zones = sorted({window.zone for window in site.windows})
        self.windows = {window.id: window for window in site.windows}
        self.renderer: Renderer
        self.workers: dict[str, ZoneWorker] = {}

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, wait: float | None = None) -> None:
        pack = self._pack or self._load_or_build_pack()
        # Pack problems found while rendering reach the state with the zone's next publish: the
        # renderer runs under a scheduler's lock, so it must not publish (and so lock) itself.
        self.renderer = Renderer(pack, self.engine)
        self._warm_up()
        for zone in self.zones:
            scheduler = ZoneScheduler(zone, self.voice, self.renderer.layout)
            self.workers[zone] = ZoneWorker(self, scheduler, self._sink_factory(zone))
        self.bus.on_connect_hooks.append(self.publish_state)
        self.bus.subscribe_to(channels.QUEUE_EVENT, self._on_queue_event)
        self.bus.subscribe_to(channels.HALL_NOTICE, self._on_manager_notice)
        self.bus.start(wait=wait)
        for worker in self.workers.values():
            worker.thread.start()
        self._notice_thread.start()
        self.publish_state()
        log.info("语音播报已启动 / announcer running: zones %s, pack %s", self.zones, pack.name)

    @property
    def heartbeats(self) -> list[Heartbeat]:
        """One per zone's speaking thread and the notices' clock; complete once started."""
        return [self._notice_beat, *(worker.heartbeat for worker in self.workers.values())]

    def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        for worker in self.workers.values():
            worker.wake.set()
            worker.sink.close()
        for worker in self.workers.values():
            if worker.thread.is_alive():
                worker.thread.join(timeout=5)
        self.bus.stop()

    def _load_or_build_pack(self) -> VoicePack:
        folder = self.voice.pack_path(self.data_dir)
        try:
            return load_pack(folder, self.voice.sample_rate)
        except PackError as exc:
            log.warning("%s", exc)
        # First start without a pack: make the default one (offline) rather than stay mute.
        try:
            build_pack(self.site, folder, self.engine)
            return load_pack(folder, self.voice.sample_rate)
        except (TtsError, PackError, OSError) as exc:
            log.error("没有可用的语音包 / no voice pack: %s; every word will use the engine", exc)
            return VoicePack(name="(none)", rate=self.voice.sample_rate,
                             problems={"pack": str(exc)})

    def _warm_up(self) -> None:
        """Lay out one call per window under every policy before the first event: a clip the pack
        lacks is reported at once, and its engine-spoken stand-in is cached, so no speech engine
        runs while a zone plans at a peak."""
        for window in self.site.windows:
            call = CallRequest("warm-up", "A000", window.id, window.number, window.name_zh, 0.0)
            for policy in VoicePolicy:
                self.renderer.layout(call_tokens([call], policy, self.voice))
            self.renderer.layout(repeat_tokens(call, self.voice))

    def _default_sink(self, zone: str) -> Sink:
        sink = self.voice.sink
        if sink.kind == "alsa":
            return AlsaSink(sink.devices.get(zone, sink.default_device))
        return WavFileSink(self.voice.output_path(self.data_dir) / zone, keep=sink.keep_files)

    # --- input -------------------------------------------------------------------------------

    def _on_queue_event(self, topic: str, event: QueueEvent) -> None:
        if event.type not in CALL_EVENTS or event.ticket is None or event.window is None:
            return
        window = event.window
        problem = _unspeakable(event.ticket.number, window.number)
        if problem:
            log.warning("dropped %s on %s: %s", event.id, topic, problem)
            return
        configured = self.windows.get(window.window_id)
        zone = configured.zone if configured else self.zones[0]
        call = CallRequest(
            ticket_id=event.ticket.ticket_id,
            ticket=event.ticket.number,
            window_id=window.window_id,
            window_number=window.number,
            window_name=window.name,
            received=self.monotonic(),
            recall=event.type is QueueEventType.TICKET_RECALLED,
            event_id=event.id,
        )
        worker = self.workers.get(zone)
        if worker is None:
            return
        outcome = worker.scheduler.offer(call, call.received, self.volume_now())
        log.debug("zone %s: %s %s", zone, event.ticket.number, outcome.value)
        worker.wake.set()
        self.publish_state()

    # --- schedule ----------------------------------------------------------------------------

    def local_now(self) -> datetime:
        return self.clock().astimezone(self.site.zone)

    def volume_now(self) -> int:
        return self.voice.volume_at(self.local_now().time())

    def _notice_loop(self) -> None:
        # A restart just after a notice's time still says it; one an hour later does not.
        checked = self.local_now() - timedelta(seconds=NOTICE_GRACE_S)
        while not self._notice_beat.pause(self.stopping, 1.0):
            now = self.local_now()
            self.queue_due_notices(checked, now)
            checked = now

    def _on_manager_notice(self, _topic: str, notice: HallNotice) -> None:
        """A notice a manager broadcast from the console is said once in every zone. Retained:
        after a restart only a notice sent within the last minutes is said (not yesterday's)."""
        now = utc_now()
        fresh = now - notice.ts <= timedelta(seconds=MANAGER_NOTICE_FRESH_S)
        running = notice.until is None or notice.until > now
        if not (notice.text_zh and notice.speak and fresh and running):
            return
        tokens = notice_tokens(notice.text_zh, notice.text_en, self.voice)
        for worker in self.workers.values():
            worker.scheduler.add_notice(f"console-{notice.id}", tokens, self.monotonic())
            worker.wake.set()
        log.info("值班长公告已排队 / manager notice %s queued (by %s)", notice.id, notice.actor)

    def queue_due_notices(self, after: datetime, until: datetime) -> list[str]:
        """Queue every notice whose time of day falls in (after, until]; their ids."""
        queued = []
        for notice in self.voice.notices:
            day = until.date()
            due = datetime.combine(day, notice.at, until.tzinfo)
            if not after < due <= until or (day, notice.id) in self._notices_done:
                continue
            self._notices_done.add((day, notice.id))
            tokens = notice_tokens(notice.text_zh, notice.text_en, self.voice)
            for zone in notice.zones or self.zones:
                worker = self.workers.get(zone)
                if worker is not None:
                    worker.scheduler.add_notice(notice.id, tokens, self.monotonic())
                    worker.wake.set()
            queued.append(notice.id)
        return queued

    # --- state -------------------------------------------------------------------------------

    def state(self) -> VoiceState:
        volume = self.volume_now()
        return VoiceState(
            hall_id=self.site.hall_id,
            max_delay_s=self.voice.max_delay_s,
            drop_superseded=self.voice.drop_superseded,
            pack=self.renderer.pack.name,
            pack_problems=self.renderer.pack.problem_lines(),
            zones=[w.scheduler.snapshot(volume, w.health) for w in self.workers.values()],
        )

    def publish_state(self) -> None:
        if not self.workers:
            return
        with self._state_lock:
            self.bus.publish_to(channels.VOICE_STATE, self.state())


def _unspeakable(ticket: str, window_number: int) -> str | None:
    """Why a call cannot be read out, or None. The queue engine never sends these; a stray
    publisher might, and one bad message must not stall a zone."""
    if not 1 <= window_number <= MAX_WINDOW_NUMBER:
        return f"window number {window_number} outside 1..{MAX_WINDOW_NUMBER}"
    if not TICKET_PATTERN.fullmatch(ticket):
        return f"ticket number {ticket[:20]!r} is not letters then digits (at most 8)"
    return None


def _safe(name: str) -> str:
    return "".join(ch if (ch.isalnum() and ch.isascii()) or ch in "-_" else "_" for ch in name)


def add_voice_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall voice`."""
    add_site_argument(parser)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: the site's data_dir")
    parser.add_argument("--sim-clock", default=None, metavar="START@ANCHORxSPEED",
                        help="simulated clock for quiet hours and notices (used by `hall demo`)")


def run_voice_command(args: argparse.Namespace) -> int:

    site = load_site_or_exit(args.site)
    clock: Clock = ScaledClock.parse(args.sim_clock) if args.sim_clock else wall_clock
    data_dir: Path = args.data_dir or site.data_dir
    daemon = VoiceDaemon(site, data_dir=data_dir, clock=clock)
    return run_until_signalled(daemon, "语音叫号正在停止 / voice announcer stopping")
