"""A stand-in for systemd's end of the notification socket: a real datagram socket that records
what a daemon sends and when."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable


class NotifyListener:
    """Binds `address` (a path, or '@name' for the abstract namespace) and records messages."""

    def __init__(self, address: str) -> None:
        self.address = address
        bind_to: str | bytes = b"\0" + address[1:].encode() if address.startswith("@") else address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(bind_to)
        self.sock.settimeout(0.1)
        self.received: list[tuple[float, str]] = []  # (monotonic time, datagram text)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    @classmethod
    def abstract(cls) -> NotifyListener:
        return cls(f"@hall-notify-test-{os.getpid()}-{time.monotonic_ns()}")

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.received.append((time.monotonic(), data.decode()))

    def messages(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self.received)

    def times_of(self, text: str) -> list[float]:
        return [at for at, message in self.messages() if text in message.split("\n")]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"not seen in {timeout} s; received {self.messages()}")
            time.sleep(0.02)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(2)
        self.sock.close()
