"""The byte pipe of one RS-485 line: a serial port, a pty (simulators) or a TCP serial server.

pyserial opens all three from the port name: `/dev/ttyUSB0` or a pty path, `socket://host:port`
for the serial servers many halls use to reach a floor's line over the LAN. Only `open` raises;
the line daemon's paced reconnect loop decides when to try again.

A pty and a TCP socket take bytes as fast as we write them, unlike a UART at 9600 baud. So that
the line scheduler sees the same timing everywhere (and the bench measures something real), the
transport waits out each frame's wire time after writing it when `pace` is on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import serial
import serial.rs485

log = logging.getLogger("hall.line.transport")

PARITIES = {"none": serial.PARITY_NONE, "even": serial.PARITY_EVEN, "odd": serial.PARITY_ODD}


class LineError(OSError):
    """The port could not be opened, or failed while in use."""


@dataclass(frozen=True)
class LineSettings:
    port: str
    baud: int = 9600
    parity: str = "none"
    stop_bits: int = 1
    rs485: bool = False  # ask the kernel driver to switch the transceiver (RTS) for us
    pace: bool = True

    @property
    def bits_per_byte(self) -> int:
        return 1 + 8 + (0 if self.parity == "none" else 1) + self.stop_bits

    def wire_time_s(self, n_bytes: int) -> float:
        return n_bytes * self.bits_per_byte / self.baud


class LineTransport:
    def __init__(self, settings: LineSettings) -> None:
        self.settings = settings
        self._port: serial.SerialBase | None = None
        self.closes = 0  # times an open port was closed (lost or stopped): only ever grows

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def open(self) -> None:
        s = self.settings
        try:
            port = serial.serial_for_url(
                s.port,
                baudrate=s.baud,
                parity=PARITIES[s.parity],
                stopbits=serial.STOPBITS_TWO if s.stop_bits == 2 else serial.STOPBITS_ONE,
                timeout=0,
                do_not_open=True,
            )
            if s.rs485:
                port.rs485_mode = serial.rs485.RS485Settings()
            port.open()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LineError(f"cannot open {s.port}: {exc}") from exc
        self._port = port

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            self.closes += 1
            try:
                port.close()
            except (serial.SerialException, OSError) as exc:
                log.debug("closing %s: %s", self.settings.port, exc)

    def write(self, data: bytes) -> None:
        port = self._require()
        try:
            port.reset_input_buffer()  # a late reply to an earlier frame must not be taken as ours
            port.write(data)
            port.flush()
        except (serial.SerialException, OSError) as exc:
            raise LineError(f"write to {self.settings.port} failed: {exc}") from exc
        if self.settings.pace:
            time.sleep(self.settings.wire_time_s(len(data)))

    def read(self, timeout: float) -> bytes:
        """Whatever arrives within `timeout` (returns as soon as anything came)."""
        port = self._require()
        try:
            port.timeout = timeout  # reconfigures the fd: fails once the device is gone
            first = port.read(1)
            if not first:
                return b""
            port.timeout = 0
            return bytes(first) + bytes(port.read(4096))
        except (serial.SerialException, OSError, TypeError) as exc:
            # pyserial raises TypeError from a read on a port whose fd went away under it
            raise LineError(f"read from {self.settings.port} failed: {exc}") from exc

    def _require(self) -> serial.SerialBase:
        if self._port is None:
            raise LineError(f"{self.settings.port} is not open")
        return self._port
