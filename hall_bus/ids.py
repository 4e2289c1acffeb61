"""Unique, sortable message ids and UTC timestamps used by every bus payload.

Ids are 26-character ULID-style strings (48-bit millisecond time + 80 random bits in Crockford
base32), so sorting ids sorts by creation time and logs stay readable. Within one process ids are
strictly increasing even inside the same millisecond, which keeps per-sender order visible.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last_ms = 0
_last_random = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id() -> str:
    """Return a new id, greater than every id this process returned before."""
    global _last_ms, _last_random
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            now_ms = _last_ms
            _last_random += 1
        else:
            _last_random = int.from_bytes(os.urandom(10), "big") >> 1
        _last_ms = now_ms
        return _encode(now_ms, 10) + _encode(_last_random, 16)


def id_time_ms(value: str) -> int | None:
    """The creation time (milliseconds since the epoch) an id of `new_id` carries, or None."""
    head = value[:10].upper()
    if len(head) != 10 or any(ch not in _ALPHABET for ch in head):
        return None
    millis = 0
    for ch in head:
        millis = millis * 32 + _ALPHABET.index(ch)
    return millis


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 in UTC with millisecond precision."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
