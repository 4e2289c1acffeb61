"""How every daemon logs: readable lines on a terminal, one JSON object per line under systemd.

`HALL_LOG_FORMAT=json|text` chooses; without it, JSON when `JOURNAL_STREAM` is set (systemd
connected stderr to the journal), text otherwise. A JSON line carries `ts` (UTC, RFC 3339 with
milliseconds), `level`, `daemon`, `logger`, `message` and, while a request is being handled, its
correlation fields: `request_id` (set by hall_bus/request_server.py around each request) and
`ticket_id` (bound by whoever knows the ticket: the queue engine's actions, a line's presses), so
`journalctl -o cat | jq 'select(.ticket_id == "...")'` follows one citizen through the hall.

Whatever the format, an 18-character ID-card number that slipped into a message is masked before
the line is written: logs are kept for months and read by many.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from hall_bus.id_numbers import mask_id_numbers

FORMAT_ENV = "HALL_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_CONTEXT: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar(
    "hall_log_context", default={}  # noqa: B039 - never mutated: bind() sets a new dict
)


@contextmanager
def bind(**fields: str | None) -> Iterator[None]:
    """Add correlation fields to every log record made in this context (thread or task)."""
    merged = {**_CONTEXT.get(), **{k: v for k, v in fields.items() if v}}
    token = _CONTEXT.set(merged)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def context() -> dict[str, str]:
    """The correlation fields in force here."""
    return dict(_CONTEXT.get())


def ticket_of(data: Mapping[str, Any] | None, fallback: str | None = None
              ) -> tuple[str | None, str | None]:
    """(ticket id, ticket number) of a queue answer's `ticket`, else (`fallback`, None)."""
    ticket = (data or {}).get("ticket")
    if isinstance(ticket, dict):
        ticket_id, number = ticket.get("ticket_id"), ticket.get("number")
        return (ticket_id if isinstance(ticket_id, str) else fallback,
                number if isinstance(number, str) else None)
    return fallback, None


class JsonFormatter(logging.Formatter):
    def __init__(self, daemon: str) -> None:
        super().__init__()
        self.daemon = daemon

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "daemon": self.daemon,
            "logger": record.name,
            "message": mask_id_numbers(record.getMessage()),
        }
        entry.update(getattr(record, "hall_context", None) or {})
        if record.exc_info:
            entry["exception"] = mask_id_numbers(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = mask_id_numbers(super().format(record))
        fields = getattr(record, "hall_context", None)
        if fields:
            text += " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]"
        return text


class _ContextFilter(logging.Filter):
    # On the handler, so records of every logger (ours and the libraries') get the fields.
    def filter(self, record: logging.LogRecord) -> bool:
        record.hall_context = _CONTEXT.get()
        return True


def chosen_format() -> str:
    wanted = os.environ.get(FORMAT_ENV, "").strip().lower()
    if wanted in ("json", "text"):
        return wanted
    return "json" if os.environ.get("JOURNAL_STREAM") else "text"


def configure(daemon: str, *, verbose: bool = False, stream: TextIO | None = None) -> None:
    """Set up the root logger of a `hall` process (replaces any handler already there)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter: logging.Formatter = (JsonFormatter(daemon) if chosen_format() == "json"
                                    else TextFormatter())
    handler.setFormatter(formatter)
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
