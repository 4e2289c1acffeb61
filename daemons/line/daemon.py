"""The line daemon: one process per serial port, owning every device on that RS-485 line.

One thread owns the port and every device's state; bus callbacks and engine answers reach it
through an inbox, so nothing on the line is touched from two threads. Engine requests run on a
small pool, because an answer can take a while and the line must keep polling meanwhile.

The devices (devices/) do no I/O: each call into one returns effects (devices/effects.py), and
`_apply` carries them out here: queue a frame, ask the engine, publish an event or a state,
remember a press on disk.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from daemons.line.devices import EvaluationPad, LineDevice, build_devices
from daemons.line.devices.effects import (
    AskEngine,
    Effect,
    PublishEvent,
    RememberPress,
    StateChanged,
    Write,
    WriteJob,
)
from daemons.line.devices.press import PressDevice
from daemons.line.press_memory import PressMemory, resend_attempt
from daemons.line.scheduler import Lane, LineScheduler
from drivers.line import commands as rc
from drivers.line.frame import Frame, FrameReader, encode, frame_len
from drivers.line.transport import LineError, LineSettings, LineTransport
from firmware_config.line import LineConfig, resolve_port
from firmware_config.site import SiteConfig
from hall_bus import topics
from hall_bus.client import BusClient, BusTimeout
from hall_bus.contract import (
    QUEUE_ACTIONS,
    QueueEvent,
    QueueSummaryState,
    Response,
    TicketView,
    channels,
)
from hall_bus.contract.line import LineDeviceEvent, LineDeviceEventType, LineState
from hall_bus.contract.notice import HallNotice
from hall_bus.ids import utc_now
from hall_bus.liveness import Heartbeat
from hall_bus.logs import bind, ticket_of
from hall_bus.reconnect import Backoff

log = logging.getLogger("hall.line")

MAX_REPLY_BYTES = frame_len(64)
CALL_ACTIONS = ("call_next", "recall")
PRESS_ANSWER_WAIT_S = 0.03
REFRESH_S = 30.0  # displays get their text again this often: heartbeat and power-cycle repair
STATE_EVERY_S = 5.0


class LineDaemon:
    def __init__(self, site: SiteConfig, line: LineConfig, *, pace: bool = True) -> None:
        self.site = site
        self.line = line
        self.settings = LineSettings(resolve_port(line.port, site.data_dir), line.baud,
                                     line.parity, line.stop_bits, line.rs485, pace)
        self.transport = LineTransport(self.settings)
        self.devices = build_devices(site, line)
        self.by_address = {d.config.address: d for d in self.devices}
        self.press_memory = PressMemory(site.data_dir / f"line-{line.id}-presses.json")
        self.press_memory.load()
        for device in self.devices:
            record = self.press_memory.records.get(device.config.id)
            if record is not None and isinstance(device, PressDevice):
                device.record = record  # a keypad's or pad's last press survives a restart
        # Window strips first: the citizen at the window looks there, the hall screen can wait
        # one strip frame.
        self._event_order = sorted(self.devices, key=lambda d: d.kind != "window_strip")
        self.scheduler: LineScheduler[WriteJob] = LineScheduler(
            [d.config.address for d in self.devices if d.polled],
            line.offline_after, line.offline_poll_every,
            idle_poll_every={d.config.address: line.idle_pad_poll_every
                             for d in self.devices if isinstance(d, EvaluationPad)},
            routine_share=line.routine_share)
        self.bus = BusClient(site.hall_id, line.id, site.broker)
        self.queue_endpoint = topics.queue_endpoint(site.hall_id)
        self.inbox: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"line-{line.id}-req")
        self.reader = FrameReader()
        self.cycle_ms: float | None = None
        self.written: list[tuple[float, bytes]] = []  # (monotonic end of write, bytes); bench
        self.record_writes = False
        self.presses_seen: list[tuple[float, int]] = []  # (monotonic, address); bench
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._dirty: set[str] = set()
        self._asking = 0  # engine requests sent and not yet answered (line thread only)
        self._refreshed = time.monotonic()
        self._state_sent = 0.0
        self._cycle_started: tuple[int, float] = (0, time.monotonic())
        # Beaten every turn of the line thread; a write that never returns stops it.
        self.heartbeats = [Heartbeat(f"line-{line.id}")]

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self, wait: float | None = 10.0) -> None:
        self.bus.subscribe_to(channels.QUEUE_EVENT,
                              lambda _t, ev: self.inbox.put(lambda: self._on_event(ev)))
        self.bus.subscribe_to(channels.QUEUE_STATE,
                              lambda _t, st: self.inbox.put(lambda: self._on_summary(st)))
        self.bus.subscribe_to(channels.HALL_NOTICE,
                              lambda _t, n: self.inbox.put(lambda: self._on_notice(n)))
        self.bus.start(wait=wait)
        self._thread = threading.Thread(target=self._run, name=f"line-{self.line.id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.transport.close()
        self.bus.stop()

    # --- carrying out what devices ask --------------------------------------------------------

    def _apply(self, device: LineDevice, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case Write(job, lane):
                    self._queue_write(job, lane)
                case AskEngine():
                    self._ask_engine(device, effect)
                case PublishEvent(type_, fields):
                    self._publish_event(device, type_, fields)
                case StateChanged():
                    self._dirty.add(device.config.id)
                case RememberPress(record):
                    self.press_memory.save(device.config.id, record)

    def _queue_write(self, job: WriteJob, lane: Lane) -> None:
        job.lane = lane
        if job.replaces:
            job.device.text_waiting = True
            # Only the newest text of a display is worth wire time; it keeps the place (and the
            # lane, if that goes sooner) of the text it replaces, so a burst of changes costs one
            # frame.
            for queued_lane, pending in self.scheduler.lanes.items():
                for index, queued in enumerate(pending):
                    if queued.device is job.device and queued.replaces:
                        if queued_lane <= lane:
                            job.lane = queued_lane
                            pending[index] = job
                        else:
                            del pending[index]
                            self.scheduler.lanes[lane].append(job)
                        return
        self.scheduler.lanes[lane].append(job)

    def _ask_engine(self, device: LineDevice, ask: AskEngine) -> None:
        action, fields, request_id = ask.action, ask.fields, ask.request_id
        model = QUEUE_ACTIONS[action].request.model_validate({**fields, "id": request_id})

        def run() -> None:
            response: Response | None = None
            number = 0
            for _ in range(ask.attempts):
                if self._stop.is_set():
                    return
                # Same id every time: the engine answers a repeat from its log, never twice;
                # a higher attempt number tells it the earlier answer was lost.
                number = max(number + 1, resend_attempt(request_id))
                attempt = model.model_copy(update={
                    "deadline": utc_now() + timedelta(seconds=3), "attempt": number})
                try:
                    response = self.bus.request(self.queue_endpoint, action, attempt, timeout=3)
                    break
                except BusTimeout:
                    log.warning("queue %s %s unanswered, retrying", action, request_id)
            _log_press(action, fields, request_id, response)
            self.inbox.put(lambda: self._answered(device, ask, response))

        self._asking += 1
        self.pool.submit(run)

    def _answered(self, device: LineDevice, ask: AskEngine, response: Response | None) -> None:
        # A call from our own keypad goes to the strip from the engine's answer, without
        # waiting for its event; the strip is written before the keypad's acknowledgement.
        self._asking -= 1
        ticket = (response.data or {}).get("ticket") if response is not None else None
        if ask.action in CALL_ACTIONS and isinstance(ticket, dict):
            try:
                called = TicketView.model_validate(ticket)
            except ValidationError:
                log.warning("engine answered %s with an unreadable ticket", ask.action)
            else:
                for other in self._event_order:
                    self._apply(other, other.on_called(called))
        self._apply(device, ask.answered(response))

    def _publish_event(self, device: LineDevice, type_: LineDeviceEventType,
                       fields: dict[str, Any]) -> None:
        event = LineDeviceEvent(type=type_, device_id=device.config.id,
                                window_id=device.config.window, **fields)
        self.bus.publish_to(channels.LINE_DEVICE_EVENT, event, line=self.line.id,
                            device=device.config.id)

    # --- the line thread ------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = Backoff(0.2, 5.0)
        self._publish_all()
        while not self._stop.is_set():
            self.heartbeats[0].beat()
            if not self.transport.is_open:
                try:
                    self.transport.open()
                except LineError as exc:
                    delay = backoff.next_delay()
                    log.warning("串口打开失败 / %s; retry in %.1f s", exc, delay)
                    self._drain_inbox(delay)
                    continue
                log.info("串口已打开 / line %s open on %s", self.line.id, self.line.port)
                backoff.reset()
                self.reader.reset()
                self._port_changed()
            try:
                self._step()
            except LineError as exc:
                log.warning("串口故障 / %s", exc)
                self.transport.close()
                self._port_changed()
            except Exception:  # a bug on one frame must not take the whole line down
                log.exception("line %s: unexpected error; continuing", self.line.id)
                time.sleep(0.1)

    def _step(self) -> None:
        self._drain_inbox(0)
        now = time.monotonic()
        for device in self.devices:
            self._apply(device, device.tick(now))
        if now - self._refreshed > REFRESH_S:
            self._refreshed = now
            for device in self.devices:
                if not device.polled:
                    self._apply(device, device.refresh())
        for device in self.devices:
            if device.polled:
                self.scheduler.set_active(device.config.address, device.expecting_press)
        job = self.scheduler.next_job()
        started = time.monotonic()
        if job is None:
            self._drain_inbox(0.02)
        elif isinstance(job, int):
            self._poll(self.by_address[job])
            self.scheduler.spent(time.monotonic() - started, None)
        else:
            self._execute(job)
            self.scheduler.spent(time.monotonic() - started, job.lane)
        self._note_cycle()
        self._flush_states()

    def _drain_inbox(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            try:
                item = self.inbox.get(timeout=max(0.0, deadline - time.monotonic())) \
                    if wait > 0 else self.inbox.get_nowait()
            except queue.Empty:
                return
            try:
                item()
            except Exception:  # a bad message must not stop the line
                log.exception("line %s: handler failed", self.line.id)
            wait = 0

    def _next_seq(self) -> int:
        self._seq = self._seq % 255 + 1
        return self._seq

    def _send(self, data: bytes) -> None:
        self.transport.write(data)
        if self.record_writes:
            self.written.append((time.monotonic(), data))

    def _poll(self, device: LineDevice) -> None:
        seq = self._next_seq()
        device.polls += 1
        self._send(encode(rc.poll(device.config.address, seq)))
        reply = self._await_reply(device.config.address, rc.POLL, seq)
        self._account(device, reply is not None)
        if reply is not None:
            if self.record_writes and reply.payload:
                self.presses_seen.append((time.monotonic(), device.config.address))
            self._apply(device, device.on_poll_reply(reply))
            if reply.payload:
                # A press usually went to the engine, which answers in a few ms: waiting that
                # long here puts the strip frame on the line before the next frame, not after.
                deadline = time.monotonic() + PRESS_ANSWER_WAIT_S
                while self._asking and time.monotonic() < deadline:
                    self._drain_inbox(deadline - time.monotonic())

    def _execute(self, job: WriteJob) -> None:
        seq = self._next_seq()
        data = job.build(seq)
        if job.replaces:
            job.device.text_waiting = False
        self._send(data)
        if not job.expects_reply:
            return
        reply = self._await_reply(job.device.config.address, data[3], seq)
        if job.device.polled:
            if reply is not None:
                self._account(job.device, True)
        else:
            self._account(job.device, reply is not None)
        if reply is not None and job.on_reply is not None:
            self._apply(job.device, job.on_reply(reply))

    def _await_reply(self, address: int, cmd: int, seq: int) -> Frame | None:
        budget = (self.settings.wire_time_s(MAX_REPLY_BYTES) + self.line.turnaround_ms / 1000
                  + self.line.reply_timeout_ms / 1000)
        deadline = time.monotonic() + budget
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.reader.reset()
                return None
            for frame in self.reader.feed(self.transport.read(remaining)):
                if frame.addr == address and frame.cmd == cmd | 0x80 and frame.seq == seq:
                    return frame

    def _account(self, device: LineDevice, answered: bool) -> None:
        was_online = device.online
        if answered:
            device.misses_in_row = 0
            device.online = True
            device.last_seen = utc_now()
            if device.polled:
                self.scheduler.answered(device.config.address)
        else:
            device.misses += 1
            device.misses_in_row += 1
            if device.polled:
                self.scheduler.missed(device.config.address)
                device.online = self.scheduler.is_online(device.config.address)
            elif device.misses_in_row >= self.line.offline_after:
                device.online = False
        if device.online != was_online:
            log.info("%s %s", device.config.id, "上线 / online" if device.online else
                     "离线 / offline")
            self._publish_event(device, LineDeviceEventType.CAME_ONLINE if device.online
                                else LineDeviceEventType.WENT_OFFLINE, {})
            self._dirty.add(device.config.id)

    def _port_changed(self) -> None:
        """Write-only displays follow the port; supervised devices are re-judged by answers."""
        for device in self.devices:
            if not device.supervised or not self.transport.is_open:
                device.online = self.transport.is_open
            self._dirty.add(device.config.id)
            if self.transport.is_open and not device.polled:
                self._apply(device, device.refresh())
        self._publish_line_state()

    def _note_cycle(self) -> None:
        cycles, started = self._cycle_started
        if self.scheduler.cycles != cycles:
            now = time.monotonic()
            if self.scheduler.cycles == cycles + 1:
                self.cycle_ms = (now - started) * 1000
            self._cycle_started = (self.scheduler.cycles, now)

    # --- bus side -------------------------------------------------------------------------------

    def _on_event(self, event: QueueEvent) -> None:
        for device in self._event_order:
            self._apply(device, device.on_queue_event(event))

    def _on_summary(self, state: QueueSummaryState) -> None:
        for device in self.devices:
            self._apply(device, device.on_summary(state))

    def _on_notice(self, notice: HallNotice) -> None:
        for device in self.devices:
            self._apply(device, device.on_notice(notice))

    def _flush_states(self) -> None:
        now = time.monotonic()
        if not self._dirty and now - self._state_sent < STATE_EVERY_S:
            return
        for device in self.devices:
            if device.config.id in self._dirty:
                line, device_id = self.line.id, device.config.id
                self.bus.publish_to(channels.LINE_DEVICE_STATUS,
                                    topics.ONLINE if device.online else topics.OFFLINE,
                                    line=line, device=device_id)
                self.bus.publish_to(channels.LINE_DEVICE_STATE, device.snapshot(), line=line,
                                    device=device_id)
        self._dirty.clear()
        if now - self._state_sent >= STATE_EVERY_S:
            self._publish_line_state()

    def _publish_all(self) -> None:
        self._dirty.update(d.config.id for d in self.devices)
        self._flush_states()

    def _publish_line_state(self) -> None:
        self._state_sent = time.monotonic()
        self.bus.publish_to(channels.LINE_STATE, LineState(
            line_id=self.line.id, port=self.line.port, port_open=self.transport.is_open,
            devices_online=sum(d.online for d in self.devices), devices=len(self.devices),
            poll_cycle_ms=self.cycle_ms), line=self.line.id)



def _log_press(action: str, fields: dict[str, object], request_id: str,
               response: Response | None) -> None:
    """A keypad's or pad's press, as the engine answered it, with its request and ticket ids."""
    fallback = fields.get("ticket_id")
    ticket_id, number = ticket_of(None if response is None else response.data,
                                  fallback if isinstance(fallback, str) else None)
    with bind(request_id=request_id, ticket_id=ticket_id):
        if response is None:
            log.warning("press %s: no answer from the queue engine", action)
        else:
            detail = number or response.code
            log.info("press %s: %s%s", action, response.status, f" {detail}" if detail else "")
