"""`hall bridge`: the hall's link to the central approval backend.

Three loops share one SQLite store:
- the bus thread stores every queue event, and every device fault the backend's supervision
  wants (device_events.py), as an outbox record before the broker gets its acknowledgement (the
  bridge keeps a persistent MQTT session, so events published while it is down wait at the
  broker);
- the delivery thread uploads pending records in `seq` order, one batch at a time, and retries a
  failed batch with exponential backoff; only a confirmed batch leaves the outbox, and the backend
  de-duplicates by event id, so a batch repeated after a crash has its effect once;
- the downlink thread fetches the backend's documents, validates each new version, keeps the last
  accepted one (persisted and retained on the bus) and reports acceptance or rejection back.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from daemons.bridge import device_events
from daemons.bridge.device_events import DeviceTopic
from daemons.bridge.downlinks import DocumentRejected, check_document
from daemons.bridge.https_uplink import BackendClient, UplinkError
from daemons.bridge.mqtt_uplink import MqttUplink
from daemons.bridge.records import OutboundRecord, record_for
from daemons.bridge.store import AcceptedDocument, BridgeStore
from firmware_config.bridge import BridgeConfig, HttpsUplinkConfig
from firmware_config.loader import add_site_argument, load_site_or_exit
from firmware_config.site import SiteConfig
from hall_bus import topics
from hall_bus.client import BusClient, BusError, describe_error
from hall_bus.contract import channels
from hall_bus.contract.base import MAX_PAYLOAD_BYTES, Request
from hall_bus.contract.bridge import (
    AppointmentsBody,
    BridgeEvent,
    BridgeEventType,
    BridgeState,
    CatalogueBody,
    DownlinkDocument,
    DownlinkKind,
    DownlinkReport,
    DownlinkState,
    FollowUpsBody,
    RosterBody,
    UplinkRecord,
    UplinkResult,
)
from hall_bus.contract.queue import APPOINTMENTS_PER_REQUEST, LoadAppointmentsRequest, QueueEvent
from hall_bus.contract.queue_documents import (
    ApplyCatalogueRequest,
    ApplyFollowUpsRequest,
    ApplyRosterRequest,
    FollowUpUpdate,
)
from hall_bus.lifecycle import run_until_signalled
from hall_bus.liveness import Heartbeat
from hall_bus.reconnect import Backoff

log = logging.getLogger(__name__)

NODE = "bridge"
ENGINE_TIMEOUT_S = 10.0
STOP_JOIN_S = 15.0
PRUNE_INTERVAL_S = 3600.0
# Retrying an outbox write the disk refused: soon at first, then at most every half minute.
# Offered to the engine again at every start; appointments are not, as the day's list is
# reloaded whenever the backend publishes it and an old day's list has no use.
RESYNCED_KINDS = (DownlinkKind.CATALOGUE, DownlinkKind.ROSTER, DownlinkKind.FOLLOW_UPS)
STORE_RETRY_MIN_S = 0.5
STORE_RETRY_MAX_S = 30.0


class Uplink(Protocol):
    def upload(self, records: list[UplinkRecord]) -> UplinkResult: ...


def read_key(path: Path) -> bytes:
    key = path.read_text().strip().encode()
    if len(key) < 16:
        raise ValueError(f"{path}: the hall key must be at least 16 characters")
    return key


class _EngineUnavailable(Exception):
    """The queue engine did not answer; the document is neither accepted nor rejected yet."""


class BridgeDaemon:
    def __init__(
        self, site: SiteConfig, config: BridgeConfig, db_path: Path, key: bytes | None
    ) -> None:
        self.site = site
        self.config = config
        # Downlink documents come from the backend's HTTPS API whatever the uplink is.
        self.backend: BackendClient | None = None
        if config.https is not None:
            if key is None:
                raise ValueError("the HTTPS API needs the hall key")
            self.backend = BackendClient(site.hall_id, config.https, key)
        self.uplink: Uplink
        if config.uplink == "mqtt" and config.mqtt is not None:
            self.uplink = MqttUplink(site.hall_id, config.mqtt)
        elif config.uplink == "https" and self.backend is not None:
            self.uplink = self.backend
        else:  # BridgeConfig refuses this already; kept for configs built in code
            raise ValueError(f"uplink {config.uplink} has no section of its own")
        self.store = BridgeStore(db_path)
        self.bus = BusClient(site.hall_id, NODE, site.broker)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_error: str | None = None
        self._delivery_beat = Heartbeat("bridge-delivery")
        self._downlink_beat = Heartbeat("bridge-downlink")
        # The downlink loop runs only with the HTTPS API, so only then does it have to beat.
        self.heartbeats = [self._delivery_beat] + ([self._downlink_beat] if self.backend else [])

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self, wait: float | None = 10.0) -> None:
        self._subscribe()
        self.bus.start(wait)
        for kind in DownlinkKind:
            accepted = self.store.accepted(kind)
            if accepted is not None:
                self._publish_document(accepted)
        loops = [("delivery", self._deliver_loop)]
        if self.backend is not None:
            loops.append(("downlink", self._downlink_loop))
        for name, target in loops:
            thread = threading.Thread(target=target, name=f"bridge-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def open_session(self, wait: float = 10.0) -> None:
        """Create the bridge's durable broker session and leave: an install step.

        The broker keeps queue events for a subscriber only once its session exists, so events the
        engine publishes before the bridge's very first connection would otherwise be lost. Events
        already waiting in an existing session are stored in the outbox as usual before this
        returns, so running it again is harmless.
        """
        self._subscribe()
        try:
            self.bus.start(wait)
        finally:
            self.bus.stop()
            self.store.close()

    def _subscribe(self) -> None:
        self.bus.subscribe(channels.QUEUE_EVENT.filter(self.site.hall_id), self._on_queue_event)
        for device_topic in device_events.device_topics(self.site):
            self.bus.subscribe(device_topic.topic_filter,
                               functools.partial(self._on_device_event, device_topic))

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=STOP_JOIN_S)
        if isinstance(self.uplink, MqttUplink):
            self.uplink.close()
        self.bus.stop()
        self.store.close()

    # --- bus → outbox ---------------------------------------------------------------------------

    def _on_queue_event(self, topic: str, payload: bytes) -> None:
        try:
            event = QueueEvent.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("dropped invalid queue event on %s: %s", topic, describe_error(exc))
            return
        self._store(record_for(event, self.config.rating_upload_limit_h))

    def _on_device_event(self, device_topic: DeviceTopic, topic: str, payload: bytes) -> None:
        try:
            record = device_events.convert(device_topic, topic, payload)
        except ValueError as exc:
            log.warning("dropped invalid device event on %s: %s", topic, exc)
            return
        if record is not None:
            self._store(record)

    def _store(self, record: OutboundRecord) -> None:
        backoff = Backoff(STORE_RETRY_MIN_S, STORE_RETRY_MAX_S)
        while True:
            try:
                self.store.add(
                    record.event_id, record.kind, record.type, record.occurred_at, record.body,
                    due_at=record.due_at,
                )
                break
            except (sqlite3.Error, OSError) as exc:
                # The broker's acknowledgement goes out when this callback returns. Holding on
                # keeps an event we could not write at the broker instead of losing it; the bus
                # thread waits meanwhile, which is what a full or failing disk deserves.
                if self._stopping.is_set():
                    raise
                delay = backoff.next_delay()
                log.error("发件箱写入失败，%.1f 秒后重试 / outbox write of %s failed, retry in "
                          "%.1f s: %s", delay, record.event_id, delay, exc)
                self._stopping.wait(delay)
        self._wake.set()

    # --- outbox → backend -----------------------------------------------------------------------

    def _deliver_loop(self) -> None:
        backoff = Backoff(self.config.retry_min_s, self.config.retry_max_s)
        while not self._stopping.is_set():
            try:
                self._deliver(backoff)
            except Exception:
                # A bug or a full disk must not end delivery for good: log, pause, go on.
                log.exception("投递循环出错 / delivery loop failed; retrying")
                self._delivery_beat.pause(self._stopping, backoff.next_delay())

    def _deliver(self, backoff: Backoff) -> None:
        next_state = 0.0
        next_prune = 0.0
        while not self._stopping.is_set():
            self._delivery_beat.beat()
            if time.monotonic() >= next_prune:
                pruned = self.store.prune_delivered(self.config.keep_delivered_days * 86400)
                if pruned:
                    log.info("清理已送达记录 %d 条 / pruned %d delivered records", pruned, pruned)
                next_prune = time.monotonic() + PRUNE_INTERVAL_S
            if time.monotonic() >= next_state:
                self._publish_state()
                next_state = time.monotonic() + self.config.state_interval_s
            batch = self.store.pending(self.config.batch_size)
            if not batch:
                self._delivery_beat.pause(self._wake, self.config.state_interval_s)
                self._wake.clear()
                continue
            seqs = [r.seq for r in batch]
            self.store.count_attempt(seqs)
            now = time.time()
            try:
                result = self.uplink.upload([r.to_uplink(now) for r in batch])
            except UplinkError as exc:
                self._last_error = str(exc)
                delay = backoff.next_delay()
                log.warning("上传失败，%.1f 秒后重试 / upload failed, retry in %.1f s: %s",
                            delay, delay, exc)
                self._publish_state()
                self._delivery_beat.pause(self._stopping, delay)
                continue
            confirmed = set(result.accepted) | set(result.duplicates)
            done = [r.seq for r in batch if r.event_id in confirmed]
            self.store.mark_delivered(done)
            if len(done) < len(batch):
                # Order matters: a batch the backend took only in part is retried from its first
                # unconfirmed record, never skipped over.
                self._last_error = f"backend confirmed {len(done)} of {len(batch)} records"
                self._delivery_beat.pause(self._stopping, backoff.next_delay())
                continue
            self._last_error = None
            backoff.reset()
            if len(batch) < self.config.batch_size:
                self._publish_state()
                next_state = time.monotonic() + self.config.state_interval_s

    def _publish_state(self) -> None:
        figures = self.store.figures()
        last = self.store.last_success_at()
        state = BridgeState(
            uplink=self.config.uplink,
            backlog=figures.backlog,
            oldest_undelivered_age_s=(
                round(time.time() - figures.oldest_stored_at, 3)
                if figures.oldest_stored_at is not None else None
            ),
            last_success_at=datetime.fromtimestamp(last, UTC) if last is not None else None,
            last_error=self._last_error,
            overdue_ratings=figures.overdue_ratings,
            delivered_total=figures.delivered_total,
        )
        self.bus.publish_to(channels.BRIDGE_STATE, state)

    # --- backend → hall -------------------------------------------------------------------------

    def _downlink_loop(self) -> None:
        unsynced = set(RESYNCED_KINDS)
        while not self._stopping.is_set():
            try:
                unsynced = self._resync_engine(unsynced)
                self.poll_documents()
            except UplinkError as exc:
                log.info("下行文档暂不可取 / downlink documents unavailable: %s", exc)
            except Exception:
                log.exception("下行处理出错 / downlink handling failed")
            self._downlink_beat.pause(self._stopping, self.config.poll_downlinks_s)

    def _resync_engine(self, kinds: set[DownlinkKind]) -> set[DownlinkKind]:
        """Offer the engine the documents in force once per start; the kinds still to offer.

        The engine takes the version it already has as a no-op, so this costs nothing normally,
        but it puts them back in force after the engine's database was replaced, and gives an
        engine upgraded to take documents the ones accepted before.
        """
        left = set()
        for kind in sorted(kinds):
            accepted = self.store.accepted(kind)
            requests = (_engine_requests(kind, accepted.version, accepted.body)
                        if accepted is not None else [])
            if not requests:
                continue
            try:
                for request in requests:
                    self._apply_in_engine(*request)
            except _EngineUnavailable:
                left.add(kind)
            except DocumentRejected as exc:
                # Kept as accepted: the backend was told so, and the next version replaces it.
                log.warning("排队引擎未重新采用 / engine did not take %s v%d again: %s",
                            kind.value, accepted.version if accepted else 0, exc)
        return left

    def poll_documents(self) -> None:
        if self.backend is None:
            return
        for document in self.backend.documents().documents:
            self._downlink_beat.beat()  # each document may wait on the engine for a while
            current = self.store.accepted(document.kind)
            if current is not None and document.version <= current.version:
                continue
            if self.store.rejected(document.kind, document.version):
                continue
            self._take(document, current)

    def _take(self, document: DownlinkDocument, current: AcceptedDocument | None) -> None:
        try:
            body = check_document(self.site, document)
            for engine_request in _engine_requests(document.kind, document.version, body):
                self._apply_in_engine(*engine_request)
        except _EngineUnavailable as exc:
            log.warning("下行文档暂未生效 / %s v%d not applied yet: %s", document.kind.value,
                        document.version, exc)
            return
        except DocumentRejected as exc:
            error = str(exc)
            log.warning("拒绝下行文档 / rejected %s v%d: %s", document.kind.value,
                        document.version, error)
            self.store.reject(document.kind, document.version, error)
            self.bus.publish_to(channels.BRIDGE_EVENT, BridgeEvent(
                type=BridgeEventType.DOWNLINK_REJECTED, kind=document.kind,
                version=document.version, kept_version=current.version if current else None,
                error=error,
            ))
            self._report(document, DownlinkReport(status="rejected", error=error))
            return
        accepted = self.store.accept(document.kind, document.version, body)
        self._publish_document(accepted)
        self.bus.publish_to(channels.BRIDGE_EVENT, BridgeEvent(
            type=BridgeEventType.DOWNLINK_ACCEPTED, kind=document.kind, version=document.version,
        ))
        self._report(document, DownlinkReport(status="accepted"))
        log.info("已采用下行文档 / accepted %s v%d", document.kind.value, document.version)

    def _report(self, document: DownlinkDocument, report: DownlinkReport) -> None:
        # The decision is already stored and in force either way; a receipt the WAN lost is
        # logged rather than retried so that one flaky link cannot stall the other documents.
        if self.backend is None:
            return
        try:
            self.backend.report(document.kind, document.version, report)
        except UplinkError as exc:
            log.warning("回执未送达 / report on %s v%d not delivered: %s", document.kind.value,
                        document.version, exc)

    def _apply_in_engine(self, action: str, request: Request) -> None:
        try:
            response = self.bus.request(
                topics.queue_endpoint(self.site.hall_id), action, request,
                timeout=ENGINE_TIMEOUT_S,
            )
        except BusError as exc:
            raise _EngineUnavailable(str(exc)) from exc
        if response.status != "ok":
            raise DocumentRejected(f"排队引擎拒绝 / queue engine refused: {response.error}")

    def _publish_document(self, document: AcceptedDocument) -> None:
        state = DownlinkState(
            kind=document.kind, version=document.version,
            accepted_at=datetime.fromtimestamp(document.accepted_at or time.time(), UTC),
            body=document.body,
        )
        if len(state.model_dump_json()) > MAX_PAYLOAD_BYTES:
            # A day's appointments can outgrow one MQTT packet; the engine has them (in parts),
            # and readers of this state learn the version and the size.
            sizes = {key: len(value) for key, value in document.body.items()
                     if isinstance(value, list)}
            state = state.model_copy(update={"body": {"omitted": "too large for the bus",
                                                      "items": sizes}})
        self.bus.publish_to(channels.DOWNLINK_DOCUMENT, state, kind=document.kind.value)


def _engine_requests(
    kind: DownlinkKind, version: int, body: dict[str, Any]
) -> list[tuple[str, Request]]:
    """The queue actions that put a checked document in force, if the engine takes that kind:
    one, or for appointments one per part that fits the bus's packet limit."""
    if kind is DownlinkKind.APPOINTMENTS:
        appointments = AppointmentsBody.model_validate(body).appointments
        step = APPOINTMENTS_PER_REQUEST
        parts = [appointments[i:i + step] for i in range(0, len(appointments), step)]
        return [("load_appointments", LoadAppointmentsRequest(appointments=part))
                for part in parts]
    if kind is DownlinkKind.CATALOGUE:
        services = CatalogueBody.model_validate(body).services
        return [("apply_catalogue", ApplyCatalogueRequest(version=version, services=services))]
    if kind is DownlinkKind.ROSTER:
        staff = RosterBody.model_validate(body).staff
        return [("apply_roster", ApplyRosterRequest(version=version, staff=staff))]
    if kind is DownlinkKind.FOLLOW_UPS:
        updates = [FollowUpUpdate(ticket_id=f.ticket_id, status=f.status, note=f.note)
                   for f in FollowUpsBody.model_validate(body).follow_ups]
        return [("apply_follow_ups", ApplyFollowUpsRequest(updates=updates))]
    return []  # notices go to the screens only


def add_bridge_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall bridge`."""
    add_site_argument(parser)
    parser.add_argument("--db", type=Path, default=None, help="outbox SQLite file")
    parser.add_argument(
        "--backend-url", default=None, help="for a site without `bridge:` (the demo): backend URL"
    )
    parser.add_argument("--key-file", type=Path, default=None, help="with --backend-url: hall key")
    parser.add_argument(
        "--open-session", action="store_true",
        help="install step: create the bridge's broker session (so events wait for it) and exit",
    )


def run_bridge_command(args: argparse.Namespace) -> int:
    from firmware_config.loader import load_site

    site = load_site_or_exit(args.site) if args.site else load_site()
    config = site.bridge
    if config is None and args.backend_url and args.key_file:
        # The default run links its hall to the local reference backend this way.
        config = BridgeConfig(https=HttpsUplinkConfig(base_url=args.backend_url,
                                                      key_file=args.key_file),
                              retry_max_s=10.0, poll_downlinks_s=10.0)
    if config is None:
        log.error("站点配置没有 bridge 段 / the site config has no `bridge:` section")
        return 1
    db_path = args.db or config.db or site.data_dir / "bridge.sqlite3"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        key = read_key(config.https.key_file) if config.https is not None else None
        daemon = BridgeDaemon(site, config, db_path, key)
    except (OSError, ValueError) as exc:
        log.error("无法读取密钥或密码 / cannot read the hall key or password: %s", exc)
        return 1
    if args.open_session:
        try:
            daemon.open_session()
        except BusError as exc:
            log.error("无法连接总线 / cannot reach the hall broker: %s", exc)
            return 1
        log.info("已建立持久会话 / the bridge's broker session exists; events now wait for it")
        return 0
    return run_until_signalled(daemon, "桥接正在停止 / bridge stopping")
