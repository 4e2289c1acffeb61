"""The queue engine daemon: the bus face of the durable queue store.

Requests arrive on `hall/<id>/queue/request/<action>` and are executed one at a time (the store is
the only writer of queue state). The store commits each request together with its response and
its events; only then is the response published. Events go through the store's outbox: they are
published after the commit and removed from the outbox once the broker acknowledged them, so a
crash or a broker outage delays events but never loses them. The retained summary state is
republished after every change and after every reconnect. So is the managers' retained notice
(daemons/queue/notices.py), from the store: after a restart the notice in force is on the bus
again and one that ran out meanwhile is withdrawn.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

from daemons.queue import device_alerts, notices
from daemons.queue.actions import READ_ONLY
from daemons.queue.store import QueueStore
from firmware_config.loader import add_site_argument
from firmware_config.site import SiteConfig
from hall_bus.client import BusClient
from hall_bus.contract import QUEUE_ACTIONS, Request, Response, ResponseStatus, channels
from hall_bus.contract.camera import CameraEvent, CameraEventType
from hall_bus.contract.kiosk import KioskEvent
from hall_bus.contract.line import LineDeviceEvent
from hall_bus.ids import utc_now
from hall_bus.lifecycle import run_until_signalled
from hall_bus.liveness import Heartbeat
from hall_bus.logs import bind, ticket_of
from hall_bus.simclock import Clock, ScaledClock, wall_clock
from hall_bus.topics import (
    queue_endpoint,
)

log = logging.getLogger("hall.queue")

SUMMARY_MIN_INTERVAL_S = 0.2


class QueueEngine:
    def __init__(self, site: SiteConfig, db_path: Path, clock: Clock = wall_clock) -> None:
        self.site = site
        self.endpoint = queue_endpoint(site.hall_id)
        self.store = QueueStore(db_path, site, clock)
        self.bus = BusClient(site.hall_id, "queue", site.broker)
        # The store has one SQLite connection; the request worker and the maintenance thread
        # take turns on it.
        self._store_lock = threading.Lock()
        self._summary_dirty = True
        self._summary_sent_at = 0.0
        self._notice_dirty = True  # published from the store once connected
        self._in_flight: list[tuple[Any, int]] = []
        self._last_sent_seq = 0
        self._stopping = threading.Event()
        self._maintenance = threading.Thread(
            target=self._maintenance_loop, name="queue-maintenance", daemon=True
        )
        # The maintenance loop takes the store lock every turn, so its heartbeat also stops when
        # a request handler is stuck holding the store.
        self.heartbeats = [Heartbeat("queue-maintenance")]

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, wait: float | None = None) -> None:
        self.bus.on_connect_hooks.append(self._on_reconnect)
        actions: dict[str, type[Request]] = {
            name: action.request for name, action in QUEUE_ACTIONS.items()
        }
        self.bus.serve(self.endpoint, actions, self._handle, stored=self._stored_response)
        self.bus.subscribe_to(channels.CAMERA_EVENT, self._on_camera_event)
        # Device faults become alerts a manager acknowledges (daemons/queue/device_alerts.py).
        for line in self.site.lines:
            self.bus.subscribe_to(channels.LINE_DEVICE_EVENT,
                                  partial(self._on_line_event, line.id), line=line.id)
        for kiosk in self.site.kiosks:
            self.bus.subscribe_to(channels.KIOSK_EVENT, partial(self._on_kiosk_event, kiosk.id),
                                  kiosk=kiosk.id)
        self.bus.start(wait=wait)
        self._maintenance.start()
        log.info(
            "排队引擎已启动 / queue engine running for hall %s on %s:%d",
            self.site.hall_id,
            self.site.broker.host,
            self.site.broker.port,
        )

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._maintenance.is_alive():
            self._maintenance.join(timeout=5)
        with self._store_lock:
            self._flush_outbox()
        self.bus.stop()
        with self._store_lock:
            self.store.close()

    # --- requests ----------------------------------------------------------------------------

    def _handle(self, action: str, request: Request) -> Response:
        with self._store_lock:
            outcome = self.store.execute(action, request)
            if outcome.duplicate:
                log.info(
                    "重复请求 / duplicate request %s (%s): stored answer repeated",
                    request.id,
                    action,
                )
            elif outcome.response.status is ResponseStatus.OK and action not in READ_ONLY:
                self._summary_dirty = True
                if action in notices.ACTIONS:
                    # Before the answer: the manager's page sees the notice in force at once.
                    self._publish_notice()
            if action not in READ_ONLY:
                _log_outcome(action, request, outcome.response)
            self._flush_outbox(forget_acknowledged=False)
        return outcome.response

    def _stored_response(self, action: str, request_id: str) -> Response | None:
        with self._store_lock:
            return self.store.stored_response(action, request_id)

    def _on_line_event(self, line_id: str, _topic: str, event: LineDeviceEvent) -> None:
        self._raise(device_alerts.from_line_device(line_id, event))

    def _on_kiosk_event(self, kiosk_id: str, _topic: str, event: KioskEvent) -> None:
        self._raise(device_alerts.from_kiosk(kiosk_id, event))

    def _raise(self, found: device_alerts.Found | None) -> None:
        if found is None:
            return
        with self._store_lock:
            self.store.raise_alert(*found)
            self._flush_outbox(forget_acknowledged=False)

    def _on_camera_event(self, topic: str, event: CameraEvent) -> None:
        """Staff absence seen by a camera becomes a `staff_absent` supervision alert; a camera
        fault or a crowded waiting area an alert of its own."""
        if event.type is not CameraEventType.ABSENCE_STARTED:
            self._raise(device_alerts.from_camera(event))
            return
        if event.window_id is None or event.absent_since is None:
            log.warning("absence event without window or start on %s dropped", topic)
            return
        with self._store_lock:
            self.store.record_staff_absence(
                event.window_id, event.absent_since, event.absent_s or 0, event.grace_s or 0
            )
            self._flush_outbox(forget_acknowledged=False)

    # --- events, state and periodic work ---------------------------------------------------------

    def _flush_outbox(self, forget_acknowledged: bool = True) -> None:
        """Publish pending events and forget the ones the broker has acknowledged.

        Forgetting is a write transaction of its own; the request path skips it and leaves it to
        the maintenance loop, which forgets in batches, so each request costs one disk sync.
        """
        acknowledged = [seq for info, seq in self._in_flight if info.is_published()]
        if acknowledged and forget_acknowledged:
            self.store.mark_published(acknowledged)
            self._in_flight = [(i, s) for i, s in self._in_flight if not i.is_published()]
        if not self.bus.connected:
            return
        # One connection delivers QoS 1 messages in order, so newer events need not wait for
        # older acknowledgements; only those not yet sent on this connection go out.
        for seq, event in self.store.pending_events():
            if seq > self._last_sent_seq:
                self._in_flight.append((self.bus.publish_to(channels.QUEUE_EVENT, event), seq))
                self._last_sent_seq = seq

    def _publish_notice(self) -> None:
        self._notice_dirty = False
        notice = self.store.retained_notice()
        if notice is not None:
            # Retained and remembered by the client: republished after every reconnect too.
            self.bus.publish_to(channels.HALL_NOTICE, notice)

    def _publish_summary(self) -> None:
        self._summary_dirty = False
        self._summary_sent_at = time.monotonic()
        self.bus.publish_to(channels.QUEUE_STATE, self.store.summary())

    def _on_reconnect(self) -> None:
        with self._store_lock:
            # Messages in flight when the link dropped may never be acknowledged; the outbox
            # still holds them, so send them again (readers de-duplicate by event id).
            self._in_flight = []
            self._last_sent_seq = 0
            self._summary_dirty = True

    def _maintenance_loop(self) -> None:
        interval = self.site.thresholds.check_interval_s
        next_check = 0.0
        while not self._stopping.wait(0.05):
            try:
                with self._store_lock:
                    self.heartbeats[0].beat()
                    now = time.monotonic()
                    if now >= next_check:
                        next_check = now + interval
                        if self.store.check_supervision():
                            self._summary_dirty = True
                    if self.store.expire_notice(utc_now()):
                        self._notice_dirty = True
                    if self._notice_dirty and self.bus.connected:
                        self._publish_notice()
                    self._flush_outbox()
                    if (
                        self._summary_dirty
                        and self.bus.connected
                        and now - self._summary_sent_at >= SUMMARY_MIN_INTERVAL_S
                    ):
                        self._publish_summary()
            except Exception:
                # A failing check must not stop the engine from serving requests.
                log.exception("排队引擎维护任务出错 / queue maintenance failed")
                time.sleep(1)


def add_queue_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall queue`."""
    add_site_argument(parser)
    parser.add_argument("--db", type=Path, default=None, help="SQLite file (default in data_dir)")
    parser.add_argument(
        "--sim-clock",
        default=None,
        metavar="START@ANCHORxSPEED",
        help="run on a simulated, faster clock (used by `hall demo`)",
    )


def run_queue_command(args: argparse.Namespace) -> int:
    from firmware_config.loader import load_site_or_exit

    site = load_site_or_exit(args.site)
    db_path: Path = args.db or site.data_dir / "queue.sqlite3"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    clock: Clock = ScaledClock.parse(args.sim_clock) if args.sim_clock else wall_clock
    engine = QueueEngine(site, db_path, clock)
    return run_until_signalled(engine, "排队引擎正在停止 / queue engine stopping")


def _log_outcome(action: str, request: Request, response: Response) -> None:
    """One line per executed action, carrying the ticket id (hall_bus/logs.py correlation)."""
    ticket_id, number = ticket_of(response.data, getattr(request, "ticket_id", None))
    with bind(ticket_id=ticket_id):
        if response.status is ResponseStatus.OK:
            log.info("%s: %s", action, number or ticket_id or "ok")
        else:
            log.info("%s refused: %s", action, response.code)
