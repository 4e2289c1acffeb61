"""The ticket printer driver: connect, ask its status, print a job, reconnect after a failure.

A job is only sent to a printer that said it is ready; when the printer does not answer (and its
profile says it should), the job is refused, because "no reply" must never read as "paper OK".
After the job, the status is asked again so that paper running out mid-ticket is noticed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from drivers.printer import escpos_codec as codec
from drivers.printer import status as printer_status
from drivers.printer.status import PrinterStatus
from drivers.printer.transport import Transport, TransportError, open_transport
from firmware_config.printer_profile import PrinterProfile

log = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 10.0
# The status query after a job queues behind the job's bytes: the printer answers it only once it
# has taken the whole job in (a raster QR code alone is kilobytes, and a printer busy printing
# reads slowly). The first answer may take this long before silence means "not answering";
# with the short per-query wait a ticket that did print was reported as a printer failure.
AFTER_JOB_REPLY_S = 5.0


class PrintFailed(RuntimeError):
    def __init__(self, status: PrinterStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class PrintResult:
    bytes_written: int
    status_after: PrinterStatus


class TicketPrinter:
    """Thread-safe: one job or status query at a time."""

    def __init__(
        self,
        port: str,
        profile: PrinterProfile,
        opener: Callable[[str], Transport] = open_transport,
    ) -> None:
        self.port = port
        self.profile = profile
        self._opener = opener
        self._transport: Transport | None = None
        self._lock = threading.Lock()
        self.last_status: PrinterStatus = printer_status.UNKNOWN

    def connect(self) -> None:
        with self._lock:
            self._ensure_open()

    def stop(self) -> None:
        with self._lock:
            self._drop()

    def status(self) -> PrinterStatus:
        with self._lock:
            return self._query()

    def print_job(self, job: bytes) -> PrintResult:
        """Send a whole job; raises PrintFailed (with the status) when it cannot be printed."""
        with self._lock:
            before = self._query()
            if not before.ready and not (self._blind(before)):
                raise PrintFailed(before, before.describe())
            try:
                transport = self._ensure_open()
                transport.write(job, WRITE_TIMEOUT_S)
            except TransportError as exc:
                self._drop()
                self.last_status = printer_status.UNKNOWN
                raise PrintFailed(self.last_status, str(exc)) from exc
            after = self._query(first_reply_s=max(AFTER_JOB_REPLY_S,
                                                  self.profile.status_timeout_s))
            if self.profile.answers_status and not after.ready:
                # The bytes left us but the printer stopped (paper ran out mid-ticket).
                raise PrintFailed(after, after.describe())
            return PrintResult(len(job), after)

    def _blind(self, status: PrinterStatus) -> bool:
        return not self.profile.answers_status and status.online is None

    def _query(self, first_reply_s: float | None = None) -> PrinterStatus:
        if not self.profile.answers_status:
            self.last_status = printer_status.UNKNOWN
            return self.last_status
        timeout = self.profile.status_timeout_s
        try:
            transport = self._ensure_open()
            transport.discard_input()
            replies: list[int | None] = [self._ask(transport, 1, first_reply_s or timeout)]
            # A printer silent to the first query is off or unplugged: do not wait twice more.
            replies += [self._ask(transport, kind, timeout) if replies[0] is not None else None
                        for kind in (2, 4)]
        except TransportError as exc:
            log.warning("printer %s: %s", self.port, exc)
            self._drop()
            replies = [None, None, None]
        status = printer_status.decode(*replies)
        if status != self.last_status:
            log.info("printer %s: %s", self.port, status.describe())
        self.last_status = status
        return status

    @staticmethod
    def _ask(transport: Transport, kind: int, timeout: float) -> int | None:
        transport.write(codec.status_query(kind), timeout)
        reply = transport.read(1, timeout)
        return reply[0] if reply else None

    def _ensure_open(self) -> Transport:
        if self._transport is None:
            self._transport = self._opener(self.port)
        return self._transport

    def _drop(self) -> None:
        if self._transport is not None:
            with contextlib.suppress(OSError):
                self._transport.close()
            self._transport = None
