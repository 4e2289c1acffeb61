"""`hall camera --camera NAME`: one camera's supervision on the hall bus.

Frames are analysed at the configured rate; the retained queue state says which windows are open
(logged in, not paused), since an empty seat at a closed window is no absence. Publishes the
camera's retained state and its events under `hall/<id>/camera/<name>/`, and the camera's own
availability on `…/status` (online while frames arrive, offline when the stream stalls).
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from daemons.camera.references import ReferenceStore
from daemons.camera.supervisor import BadFrame, CameraSupervisor
from drivers.camera.grabber import FrameGrabber
from drivers.camera.sources import FrameSource, SourceError, open_source
from firmware_config.camera import CameraConfig
from firmware_config.loader import add_site_argument, load_site_or_exit
from firmware_config.site import SiteConfig
from hall_bus.client import BusClient
from hall_bus.contract import QueueSummaryState, WindowMode, channels
from hall_bus.contract.camera import CameraEvent, CameraState
from hall_bus.lifecycle import run_until_signalled
from hall_bus.liveness import Heartbeat
from hall_bus.simclock import Clock, ScaledClock, wall_clock
from hall_bus.topics import OFFLINE, ONLINE

log = logging.getLogger("hall.camera")

STUCK_FACTOR = 3  # a read blocking this many stall periods gets the stream restarted
STATE_REFRESH_S = 30.0  # the retained state is also republished this often (for its fps figure)
DEMO_PERIOD_S = 1800.0  # the generated desk repeats every half hour of (simulated) time
_CLOSED_MODES = (WindowMode.CLOSED, WindowMode.PAUSED)


class CameraDaemon:
    def __init__(
        self,
        site: SiteConfig,
        camera: CameraConfig,
        source: FrameSource,
        clock: Clock = wall_clock,
        reference_dir: Path | None = None,
        capture_reference: bool = False,
        reopen: Callable[[], FrameSource] | None = None,
    ) -> None:
        """`reopen` makes a fresh source when the watchdog abandons one stuck in a read."""
        self.site = site
        self.camera = camera
        self.clock = clock
        self.bus = BusClient(site.hall_id, f"camera-{camera.name}", site.broker)
        references = ReferenceStore(reference_dir) if reference_dir is not None else None
        self.supervisor = CameraSupervisor(
            camera, site.thresholds.staff_absent_min * 60, references, clock(),
            {w.id: w.name_zh for w in site.windows},
        )
        self.grabber = FrameGrabber(source)
        self._reopen = reopen
        self.watchdog_restarts = 0
        self.capture_reference = capture_reference
        self._open_windows: dict[str, str | None] = {}
        self._windows_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="camera-analysis", daemon=True)
        self.heartbeats = [Heartbeat(f"camera-{camera.name}-analysis")]
        self._last_state: CameraState | None = None
        self._state_sent_at = 0.0
        self._online: bool | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, wait: float | None = None) -> None:
        self.bus.subscribe_to(channels.QUEUE_STATE, self._on_queue_state)
        self.bus.start(wait=wait)
        self.grabber.start()
        self._thread.start()
        log.info("摄像头监督已启动 / camera %s supervising %d seats from %s", self.camera.name,
                 len(self.camera.seats), self.grabber.source.description)

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.grabber.stop()
        self.bus.publish_to(channels.CAMERA_STATUS, OFFLINE, wait=2, camera=self.camera.name)
        self.bus.stop()

    # --- inputs ------------------------------------------------------------------------------

    def _on_queue_state(self, _topic: str, state: QueueSummaryState) -> None:
        open_windows = {
            w.window_id: w.staff_id for w in state.windows if w.mode not in _CLOSED_MODES
        }
        with self._windows_lock:
            self._open_windows = open_windows

    def open_windows(self) -> dict[str, str | None]:
        with self._windows_lock:
            return dict(self._open_windows)

    # --- analysis loop -----------------------------------------------------------------------

    def _loop(self) -> None:
        interval = 1.0 / self.camera.analysis_fps
        next_at = time.monotonic()
        while not self._stopping.is_set():
            next_at += interval
            try:
                self._step()
            except BadFrame as exc:
                log.warning("坏帧已丢弃 / camera %s: bad frame dropped: %s", self.camera.name, exc)
            except Exception:
                # A bad frame or a bug in one analysis must not end the supervision.
                log.exception("画面分析失败 / analysis of camera %s failed", self.camera.name)
            delay = next_at - time.monotonic()
            if delay < -interval:  # fell behind (slow machine): do not try to catch up
                next_at = time.monotonic()
            self.heartbeats[0].pause(self._stopping, max(0.0, delay))

    def _step(self) -> None:
        now = self.clock()
        windows = self.open_windows()
        stalled = self.grabber.seconds_since_frame() >= self.camera.stall_after_s
        if stalled:
            self._restart_if_stuck()
        frame = self.grabber.take()
        events: list[CameraEvent] = []
        if frame is not None:
            if self.capture_reference and self.supervisor.missing_references:
                self.supervisor.capture_references(frame)
                log.info("已保存空座参考图 / camera %s: empty-seat references taken",
                         self.camera.name)
            events = self.supervisor.process(frame, now, windows)
        elif stalled:
            events = self.supervisor.mark_stalled(now, windows)
        # A frame taken from a stream just replaced (see _restart_if_stuck) is a live camera,
        # though the stall was measured on the old one: online before its `camera_recovered`.
        self._set_online(frame is not None or not stalled)
        for event in events:
            log.info("%s", event.message)
            self.bus.publish_to(channels.CAMERA_EVENT, event, camera=self.camera.name)
        self._publish_state()

    def _restart_if_stuck(self) -> None:
        stuck = self.grabber.stuck_for()
        if self._reopen is None or stuck < STUCK_FACTOR * self.camera.stall_after_s:
            return
        log.warning("视频读取卡住 %.0f 秒，重启视频流 / camera %s: read blocked for %.0f s, "
                    "restarting the stream", stuck, self.camera.name, stuck)
        self.grabber.abandon()
        self.grabber = FrameGrabber(self._reopen())
        self.grabber.start()
        self.watchdog_restarts += 1

    def _set_online(self, online: bool) -> None:
        if online is not self._online:
            self._online = online
            self.bus.publish_to(channels.CAMERA_STATUS, ONLINE if online else OFFLINE,
                                camera=self.camera.name)

    def _publish_state(self) -> None:
        state = self.supervisor.state()
        comparable = state.model_dump(exclude={"id", "ts", "analysed_fps"})
        previous = self._last_state
        unchanged = previous is not None and comparable == previous.model_dump(
            exclude={"id", "ts", "analysed_fps"}
        )
        if unchanged and time.monotonic() - self._state_sent_at < STATE_REFRESH_S:
            return
        self._last_state = state
        self._state_sent_at = time.monotonic()
        self.bus.publish_to(channels.CAMERA_STATE, state, camera=self.camera.name)


def add_camera_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall camera`."""
    add_site_argument(parser)
    parser.add_argument("--camera", required=True, help="camera name from the site config")
    parser.add_argument("--sim-clock", default=None, metavar="START@ANCHORxSPEED",
                        help="simulated clock (used by `hall demo`)")
    parser.add_argument("--capture-reference", action="store_true",
                        help="take missing empty-seat references from the first frame "
                        "(seats must be empty: installation)")


def run_camera_command(args: argparse.Namespace) -> int:

    site = load_site_or_exit(args.site)
    camera = next((c for c in site.cameras if c.name == args.camera), None)
    if camera is None:
        known = ", ".join(c.name for c in site.cameras) or "-"
        log.error("站点配置中没有摄像头 %s / no camera %r in the site config (known: %s)",
                  args.camera, args.camera, known)
        return 1
    clock: Clock = ScaledClock.parse(args.sim_clock) if args.sim_clock else wall_clock
    try:
        source = open_source(camera.source, clock, DEMO_PERIOD_S, camera.analysis_fps)
    except SourceError as exc:
        log.error("%s", exc)
        return 1
    daemon = CameraDaemon(
        site, camera, source, clock, site.data_dir / "camera" / camera.name,
        capture_reference=args.capture_reference,
        reopen=lambda: open_source(camera.source, clock, DEMO_PERIOD_S, camera.analysis_fps),
    )
    return run_until_signalled(daemon, f"摄像头监督正在停止 / camera {camera.name} stopping")
