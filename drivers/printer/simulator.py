"""A simulated ESC/POS ticket printer on a pty or a TCP port, with fault injection.

It parses what it receives, answers DLE EOT status queries like a real printer, and renders each
cut ticket to a picture (saved as PNG when given a folder). Faults: `paper_out`, `near_end`,
`cover_open` (answers, prints nothing), and `offline` (says nothing at all, like a printer that is
switched off). `hall kiosk` uses it by default; the tests use it to see what a citizen would hold.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import termios
import threading
import tty
from dataclasses import dataclass
from pathlib import Path

from drivers.printer.escpos_parse import EscposParser, StatusQuery
from drivers.printer.receipt_render import Receipt, ReceiptRenderer

log = logging.getLogger(__name__)

KEEP_RECEIPTS = 20


@dataclass
class Faults:
    paper_out: bool = False
    near_end: bool = False
    cover_open: bool = False
    offline: bool = False


class PrinterSimulator:
    """The printer itself, independent of the link: bytes in, replies and receipts out."""

    def __init__(self, width_dots: int = 576, encoding: str = "gb18030",
                 out_dir: Path | None = None) -> None:
        self.faults = Faults()
        self.out_dir = out_dir
        self.receipts: list[Receipt] = []  # the most recent KEEP_RECEIPTS, oldest first
        self.printed = 0
        self.bytes_received = 0
        self.bytes_discarded = 0
        self._parser = EscposParser()
        self._renderer = ReceiptRenderer(width_dots, encoding)
        self._lock = threading.Lock()
        self.received = threading.Condition(self._lock)

    def receive(self, data: bytes) -> bytes:
        """Take bytes from the host; return what the printer sends back."""
        with self._lock:
            if self.faults.offline:
                self.bytes_discarded += len(data)
                return b""
            self.bytes_received += len(data)
            reply = bytearray()
            for op in self._parser.feed(data):
                if isinstance(op, StatusQuery):
                    reply += self._status_byte(op.kind)
                    continue
                if not self._can_print():
                    continue  # a stopped printer drops the job; the host must notice
                receipt = self._renderer.apply(op)
                if receipt is not None:
                    self._keep(receipt)
            self.received.notify_all()
            return bytes(reply)

    def wait_receipts(self, count: int, timeout: float) -> list[Receipt]:
        """Wait until `count` receipts have been printed in all; return the ones kept."""
        with self._lock:
            self.received.wait_for(lambda: self.printed >= count, timeout)
            return list(self.receipts)

    def _can_print(self) -> bool:
        return not (self.faults.paper_out or self.faults.cover_open)

    def _status_byte(self, kind: int) -> bytes:
        fixed = 0x12
        stopped = self.faults.paper_out or self.faults.cover_open
        if kind == 1:
            return bytes([fixed | (0x08 if stopped else 0)])
        if kind == 2:
            return bytes([fixed | (0x04 if self.faults.cover_open else 0)
                          | (0x20 if self.faults.paper_out else 0)])
        if kind == 3:
            return bytes([fixed])
        paper = 0x60 if self.faults.paper_out else 0x0C if self.faults.near_end else 0
        return bytes([fixed | paper])

    def _keep(self, receipt: Receipt) -> None:
        self.printed += 1
        self.receipts.append(receipt)
        # A long demo day prints thousands of tickets; their pictures need not stay in memory.
        del self.receipts[:-KEEP_RECEIPTS]
        if self.out_dir is not None and receipt.image is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            path = self.out_dir / f"ticket-{self.printed:04d}.png"
            receipt.image.save(path)
            log.info("simulated printer: ticket %d saved to %s", self.printed, path)


class PtyPrinter:
    """The simulator behind a pseudo-terminal: open `path` as if it were /dev/ttyUSB0."""

    def __init__(self, printer: PrinterSimulator) -> None:
        self.printer = printer
        self._master, self._slave = os.openpty()
        # Raw mode: the line discipline must not turn LF into CR LF or echo our bytes back.
        tty.setraw(self._slave, termios.TCSANOW)
        self.path = os.ttyname(self._slave)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="printer-sim-pty", daemon=True)

    def start(self) -> PtyPrinter:
        self._thread.start()
        return self

    def stop(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave, self._stop_r, self._stop_w):
            os.close(fd)

    def _run(self) -> None:
        while True:
            ready, _, _ = select.select([self._master, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                data = os.read(self._master, 65536)
            except OSError:
                continue
            reply = self.printer.receive(data)
            if reply:
                os.write(self._master, reply)


class TcpPrinter:
    """The simulator as a network printer (raw port 9100 style), one connection at a time."""

    def __init__(self, printer: PrinterSimulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.printer = printer
        self._server = socket.create_server((host, port))
        self.address = self._server.getsockname()[:2]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="printer-sim-tcp", daemon=True)

    @property
    def port_url(self) -> str:
        return f"tcp://{self.address[0]}:{self.address[1]}"

    def start(self) -> TcpPrinter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.close()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        while not self._stopping.is_set():
            ready, _, _ = select.select([conn], [], [], 0.2)
            if not ready:
                continue
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            reply = self.printer.receive(data)
            if reply:
                conn.sendall(reply)
