"""Byte links to a ticket printer: serial (or a pty), TCP port 9100, and the USB printer class file.

All three offer the same small interface: write everything or raise, read a few bytes with a
deadline, drop stale input. Which one is used follows from the port string:
`tcp://host:9100`, `usb:/dev/usb/lp0`, `/dev/ttyUSB0` or `serial:/dev/ttyS0?baud=19200`.
"""

from __future__ import annotations

import os
import select
import socket
import time
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

import serial


class TransportError(OSError):
    """The link to the printer failed; the driver reconnects."""


class Transport(Protocol):
    def write(self, data: bytes, timeout: float) -> None: ...
    def read(self, size: int, timeout: float) -> bytes: ...
    def discard_input(self) -> None: ...
    def close(self) -> None: ...


class SerialTransport:
    def __init__(self, path: str, baud: int = 9600) -> None:
        try:
            # rtscts off: many printers leave RTS unwired; a pty has no lines at all.
            self._port = serial.Serial(path, baudrate=baud, timeout=0, write_timeout=5)
        except serial.SerialException as exc:
            raise TransportError(f"cannot open {path}: {exc}") from exc
        self.path = path

    def write(self, data: bytes, timeout: float) -> None:
        self._port.write_timeout = timeout
        try:
            self._port.write(data)
            self._port.flush()
        except serial.SerialException as exc:
            raise TransportError(f"write to {self.path} failed: {exc}") from exc

    def read(self, size: int, timeout: float) -> bytes:
        return _read_fd(self._port.fileno(), size, timeout, self.path)

    def discard_input(self) -> None:
        self._port.reset_input_buffer()

    def close(self) -> None:
        self._port.close()


class TcpTransport:
    def __init__(self, host: str, port: int, connect_timeout: float = 3.0) -> None:
        try:
            self._sock = socket.create_connection((host, port), timeout=connect_timeout)
        except OSError as exc:
            raise TransportError(f"cannot connect to {host}:{port}: {exc}") from exc
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.path = f"{host}:{port}"

    def write(self, data: bytes, timeout: float) -> None:
        self._sock.settimeout(timeout)
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise TransportError(f"write to {self.path} failed: {exc}") from exc

    def read(self, size: int, timeout: float) -> bytes:
        return _read_fd(self._sock.fileno(), size, timeout, self.path, sock=self._sock)

    def discard_input(self) -> None:
        while _read_fd(self._sock.fileno(), 256, 0, self.path, sock=self._sock):
            pass

    def close(self) -> None:
        self._sock.close()


class DeviceFileTransport:
    """The kernel's usblp driver: /dev/usb/lpN, readable on bidirectional printers."""

    def __init__(self, path: str) -> None:
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        except OSError as exc:
            raise TransportError(f"cannot open {path}: {exc} (see drivers/printer/udev/)") from exc
        self.path = path

    def write(self, data: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportError(f"write to {self.path} timed out")
            select.select([], [self._fd], [], remaining)
            try:
                view = view[os.write(self._fd, view):]
            except BlockingIOError:
                continue
            except OSError as exc:
                raise TransportError(f"write to {self.path} failed: {exc}") from exc

    def read(self, size: int, timeout: float) -> bytes:
        return _read_fd(self._fd, size, timeout, self.path)

    def discard_input(self) -> None:
        while _read_fd(self._fd, 256, 0, self.path):
            pass

    def close(self) -> None:
        os.close(self._fd)


def _read_fd(
    fd: int, size: int, timeout: float, what: str, sock: socket.socket | None = None
) -> bytes:
    ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
    if not ready:
        return b""
    try:
        data = sock.recv(size) if sock is not None else os.read(fd, size)
    except BlockingIOError:
        return b""
    except OSError as exc:
        raise TransportError(f"read from {what} failed: {exc}") from exc
    if not data and timeout > 0:
        raise TransportError(f"{what} closed the connection")
    return data


def open_transport(port: str) -> Transport:
    if port.startswith("tcp://"):
        parts = urlsplit(port)
        return TcpTransport(parts.hostname or "127.0.0.1", parts.port or 9100)
    if port.startswith("usb:"):
        return DeviceFileTransport(port.removeprefix("usb:"))
    parts = urlsplit(port.removeprefix("serial:"))
    baud = int(parse_qs(parts.query).get("baud", ["9600"])[0])
    return SerialTransport(parts.path, baud)
