"""Simulated devices on a pty: window strips, hall screens, caller keypads and evaluation pads.

A `SimulatedLine` owns the master side of a pty and publishes the slave under a stable symlink
(the "port name" the line daemon is given), so unplugging (closing the pty) and replugging (a new
pty behind the same link) look to the daemon like a USB adapter pulled and pushed back. Devices
answer at the line's baud rate and each can be told to misbehave: stay silent, answer late,
answer with a bad CRC, or put garbage on the line before its answer.

Displays keep what a citizen would see (`shown`), keypads and pads take scripted presses.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drivers.led import aa_strip as led_aa_strip
from drivers.led import onbon as led_onbon
from drivers.led.text import Effect
from drivers.line import commands as rc
from drivers.line.evaluation_pad import decode_idle_payload
from drivers.line.frame import Frame, FrameReader, encode
from firmware_config.line import LineConfig, load_profile, resolve_port

log = logging.getLogger("hall.line.sim")

TURNAROUND_S = 0.002  # a device's pause between the end of a request and its answer


@dataclass
class Faults:
    silent: bool = False
    delay_s: float = 0.0
    bad_crc: bool = False
    garbage: bytes = b""


@dataclass
class SimDevice:
    address: int
    faults: Faults = field(default_factory=Faults)
    frames_seen: int = 0

    def handle(self, frame: Frame) -> bytes | None:
        """The reply payload to a reference frame for this device, or None for no reply."""
        raise NotImplementedError


@dataclass
class SimDisplay(SimDevice):
    """A strip or screen: `shown` is the current text, `history` every text in order."""

    columns: int = 32
    rows: int = 1
    shown: tuple[str, ...] = ()
    effect: Effect = Effect.STATIC
    history: list[tuple[str, ...]] = field(default_factory=list)

    def handle(self, frame: Frame) -> bytes | None:
        if frame.cmd == rc.POLL:
            return b""
        if frame.cmd != rc.SHOW:
            return None
        try:
            shown = rc.decode_show(frame)
        except rc.DecodeError:
            return bytes((rc.ShowStatus.BAD_EFFECT,))
        if len(shown.lines) > self.rows and shown.effect is not Effect.SCROLL:
            return bytes((rc.ShowStatus.TOO_LONG,))
        self.show(shown.lines, shown.effect)
        return bytes((rc.ShowStatus.OK,))

    def show(self, lines: tuple[str, ...], effect: Effect) -> None:
        self.shown, self.effect = lines, effect
        self.history.append(lines)


@dataclass
class SimKeypad(SimDevice):
    """A caller keypad (or a pad's keys): presses wait until the controller acknowledges them."""

    pending: deque[rc.Press] = field(default_factory=deque)
    acks: list[rc.Ack] = field(default_factory=list)
    next_seq: int = 1
    shown: tuple[str, ...] = ()
    idle: tuple[str, str, str] | None = None  # pads: staff number, name, photo id
    drop_acks: int = 0  # fault: this many ACK frames are lost on the wire
    # Notified when an ACK, a text or the idle screen arrives, for whoever scripts the presses
    # from another thread (the press channel) and waits for what the device shows.
    changed: threading.Condition = field(default_factory=threading.Condition, repr=False,
                                         compare=False)

    def press(self, key: int, arg: str = "") -> rc.Press:
        with self.changed:
            press = rc.Press(self.next_seq, key, arg)
            self.next_seq = self.next_seq % 255 + 1
            self.pending.append(press)
            return press

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until `predicate()` holds (checked after every ACK, SHOW and IDLE)."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def handle(self, frame: Frame) -> bytes | None:
        with self.changed:
            reply = self._handle(frame)
            self.changed.notify_all()
            return reply

    def _handle(self, frame: Frame) -> bytes | None:
        if frame.cmd == rc.POLL:
            return rc.encode_press(self.pending[0]) if self.pending else b""
        if frame.cmd == rc.ACK:
            if self.drop_acks > 0:
                self.drop_acks -= 1
                return None
            ack = rc.decode_ack(frame)
            if self.pending and self.pending[0].seq == ack.press_seq:
                self.pending.popleft()
                self.acks.append(ack)
            return b""
        if frame.cmd == rc.SHOW:
            self.shown = rc.decode_show(frame).lines
            return bytes((rc.ShowStatus.OK,))
        if frame.cmd == rc.IDLE:
            self.idle = decode_idle_payload(frame.payload)
            self.shown = ()
            return b""
        return None


class SimulatedLine:
    """A pty with devices behind it, served by a thread until `stop`."""

    def __init__(self, link: Path, devices: list[SimDevice], baud: int = 9600) -> None:
        self.link = link
        self.baud = baud
        self.devices = {d.address: d for d in devices}
        self.vendor_displays: dict[int, SimDisplay] = {}
        self.line_garbage = b""  # sent once, unprompted, on the next turn
        self._master: int | None = None
        self._slave: int | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add_vendor_display(self, display: SimDisplay) -> None:
        """A write-only Onbon or AA..FF display at `display.address`."""
        self.vendor_displays[display.address] = display

    def start(self) -> SimulatedLine:
        self.plug()
        self._thread = threading.Thread(target=self._serve, name=f"sim-{self.link.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self.unplug()

    def plug(self) -> None:
        if self.link.exists() and not self.link.is_symlink():
            # Never put a simulator in place of a real serial device.
            raise FileExistsError(f"{self.link} exists and is not a simulator link")
        self.link.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            master, slave = os.openpty()
            os.set_blocking(master, False)
            tmp = self.link.with_name(self.link.name + ".tmp")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(os.ttyname(slave))
            tmp.replace(self.link)
            self._master, self._slave = master, slave

    def unplug(self) -> None:
        """As a USB adapter pulled out: the device node goes away with the device, so the port
        cannot be reopened (nor a stranger's pty taken for it) until `plug()`."""
        with self._lock:
            if self.link.is_symlink():
                self.link.unlink()
            for fd in (self._master, self._slave):
                if fd is not None:
                    os.close(fd)
            self._master = self._slave = None

    def _serve(self) -> None:
        reader = FrameReader()
        onbon, aa = bytearray(), bytearray()
        while not self._stop.is_set():
            master = self._master
            if master is None:
                time.sleep(0.01)
                reader.reset()
                continue
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                data = os.read(master, 4096) if ready else b""
            except OSError:
                time.sleep(0.01)  # unplugged under us, or the daemon side is closed
                continue
            if not data:
                continue
            onbon += data
            aa += data
            self._vendor_frames(onbon, aa)
            for frame in reader.feed(data):
                self._answer(master, frame)

    def _answer(self, master: int, frame: Frame) -> None:
        device = self.devices.get(frame.addr)
        if device is None or frame.is_reply:
            return
        device.frames_seen += 1
        reply = device.handle(frame)
        faults = device.faults
        if reply is None or faults.silent:
            return
        wire = bytearray(encode(frame.reply(reply)))
        if faults.bad_crc:
            wire[-1] ^= 0x55
        out = faults.garbage + bytes(wire)
        if self.line_garbage:
            out, self.line_garbage = self.line_garbage + out, b""
        # The pty hands us the request at once; on a real line its last byte arrives only after
        # its wire time. Then the device's turnaround, then the answer's own wire time.
        wire_in = len(encode(frame)) * 10 / self.baud
        time.sleep(wire_in + faults.delay_s + TURNAROUND_S + len(out) * 10 / self.baud)
        with contextlib.suppress(OSError):  # unplugged while answering: the answer is lost
            os.write(master, out)

    def _vendor_frames(self, onbon: bytearray, aa: bytearray) -> None:
        # Both splitters keep only a possible partial frame; a bound keeps noise from piling up.
        for buffer in (onbon, aa):
            if len(buffer) > 8192:
                del buffer[:-4096]
        for raw in led_onbon.split_frames(onbon):
            try:
                text = led_onbon.decode_dynamic_text(raw)
            except led_onbon.OnbonError:
                continue
            display = self.vendor_displays.get(text.address)
            if display is not None:
                display.show((text.text,), text.effect)
        for raw in led_aa_strip.split_frames(aa):
            try:
                text_aa = led_aa_strip.decode_text(raw)
            except led_aa_strip.AaStripError:
                continue
            display = self.vendor_displays.get(text_aa.address)
            if display is not None:
                display.show((text_aa.text,), Effect.STATIC)


def simulate_line(
    line: LineConfig, data_dir: Path | None = None
) -> tuple[SimulatedLine, dict[str, SimDevice]]:
    """Simulated devices for every device of a configured line, behind its port name."""
    port = resolve_port(line.port, data_dir) if data_dir is not None else line.port
    sim = SimulatedLine(Path(port), [], line.baud)
    by_id: dict[str, SimDevice] = {}
    for config in line.devices:
        profile = load_profile(config.profile)
        device: SimDevice
        if profile.kind in ("caller", "pad"):
            device = SimKeypad(config.address)
            sim.devices[config.address] = device
        else:
            display = SimDisplay(config.address, columns=profile.columns, rows=profile.rows)
            if profile.framing == "reference":
                sim.devices[config.address] = display
            else:
                sim.add_vendor_display(display)
            device = display
        by_id[config.id] = device
    return sim, by_id
