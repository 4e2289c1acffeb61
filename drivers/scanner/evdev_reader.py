"""The scanner driver: reads Linux input events from a scanner's event device, grabbed.

Exclusive grab (EVIOCGRAB) keeps the scanner's "typing" away from the kiosk's own keyboard
focus. The device is found by a glob over /dev/input/by-id (a scanner's name is stable, its
eventN number is not), re-found after it is unplugged, and every read goes through the pure
`KeyDecoder`. Tests feed recorded events through a pipe: there is no /dev/uinput here.
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
import select
import struct
import threading
from collections.abc import Callable, Iterator

from drivers.scanner.keys import KeyDecoder, KeyEvent, Scan
from drivers.scanner.reading_thread import ScannerThread

log = logging.getLogger(__name__)

# struct input_event on 64-bit Linux: struct timeval (two longs), u16 type, u16 code, s32 value.
EVENT_FORMAT = "llHHi"
EVENT_SIZE = struct.calcsize(EVENT_FORMAT)
EVIOCGRAB = 0x40044590  # _IOW('E', 0x90, int)


def pack_event(event: KeyEvent) -> bytes:
    seconds = int(event.time_s)
    micros = round((event.time_s - seconds) * 1_000_000)
    return struct.pack(EVENT_FORMAT, seconds, micros, event.type, event.code, event.value)


def unpack_events(data: bytes) -> Iterator[KeyEvent]:
    for offset in range(0, len(data) - EVENT_SIZE + 1, EVENT_SIZE):
        seconds, micros, kind, code, value = struct.unpack_from(EVENT_FORMAT, data, offset)
        yield KeyEvent(seconds + micros / 1_000_000, kind, code, value)


class ScannerReader(ScannerThread):
    """Reads one scanner in a thread and calls `on_scan` for each decoded code."""

    def __init__(
        self,
        device_glob: str,
        decoder: KeyDecoder,
        on_scan: Callable[[Scan], None],
        *,
        grab: bool = True,
        rescan_s: float = 1.0,
    ) -> None:
        self.device_glob = device_glob
        self.decoder = decoder
        self.on_scan = on_scan
        self.grab = grab
        self.rescan_s = rescan_s
        self.connected = threading.Event()
        self.disconnects = 0  # times a device went away (unplugged): only ever grows
        super().__init__("scanner")

    def _run(self) -> None:
        while True:
            paths = sorted(glob.glob(self.device_glob))
            if paths:
                self._read_device(paths[0])
            ready, _, _ = select.select([self._stop_r], [], [], self.rescan_s)
            if ready:
                return

    def _read_device(self, path: str) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            log.warning("scanner %s cannot be opened: %s", path, exc)
            return
        try:
            if self.grab:
                try:
                    fcntl.ioctl(fd, EVIOCGRAB, 1)
                except OSError as exc:
                    log.warning("scanner %s: exclusive grab failed: %s", path, exc)
            log.info("scanner %s connected", path)
            self.connected.set()
            self._pump(fd)
        finally:
            self.connected.clear()
            self.disconnects += 1
            os.close(fd)
            log.info("scanner %s disconnected", path)

    def _pump(self, fd: int) -> None:
        pending = b""
        while True:
            ready, _, _ = select.select([fd, self._stop_r], [], [])
            if self._stop_r in ready:
                os.write(self._stop_w, b"x")  # leave the stop signal for _run to see
                return
            try:
                data = os.read(fd, EVENT_SIZE * 64)
            except BlockingIOError:
                continue
            except OSError as exc:  # ENODEV when unplugged
                log.warning("scanner read failed: %s", exc)
                return
            if not data:
                return
            pending += data
            whole = len(pending) - len(pending) % EVENT_SIZE
            for event in unpack_events(pending[:whole]):
                scan = self.decoder.feed(event)
                if scan is not None:
                    try:
                        self.on_scan(scan)
                    except Exception:
                        log.exception("scan handler failed")
            pending = pending[whole:]
