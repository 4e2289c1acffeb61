"""Request signatures between a hall and the backend: HMAC-SHA256 with a per-hall key.

The signed text is the method, the path (with query), a Unix timestamp, a random nonce and the
SHA-256 of the body, one per line. The timestamp bounds how long a captured request stays usable
(the replay window); within the window the receiver refuses a nonce it has seen, so a recorded
request cannot be played again at all.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Mapping

HEADER_HALL = "X-Hall-Id"
HEADER_TIMESTAMP = "X-Hall-Timestamp"
HEADER_NONCE = "X-Hall-Nonce"
HEADER_SIGNATURE = "X-Hall-Signature"
REPLAY_WINDOW_S = 300


class SignatureError(ValueError):
    """A request whose signature, timestamp or nonce is not acceptable."""


def signed_text(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((method.upper(), path, timestamp, nonce, digest)).encode()


def signature(key: bytes, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(key, signed_text(method, path, timestamp, nonce, body), "sha256").hexdigest()


def sign_headers(
    hall_id: str, key: bytes, method: str, path: str, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    nonce = os.urandom(16).hex()
    return {
        HEADER_HALL: hall_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature(key, method, path, timestamp, nonce, body),
    }


class NonceGuard:
    """Remembers the nonces seen inside the replay window (receiver side)."""

    def __init__(self, window_s: float = REPLAY_WINDOW_S) -> None:
        self.window_s = window_s
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, nonce: str, now: float) -> None:
        with self._lock:
            for old in [n for n, at in self._seen.items() if now - at > 2 * self.window_s]:
                del self._seen[old]
            if nonce in self._seen:
                raise SignatureError("nonce already used (replayed request)")
            self._seen[nonce] = now


def verify(
    headers: Mapping[str, str],
    key: bytes,
    method: str,
    path: str,
    body: bytes,
    guard: NonceGuard,
    *,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless the request is signed with `key`, fresh and not replayed."""
    # HTTP header names are case-insensitive; proxies on the way may well change their case.
    named = {name.lower(): value for name, value in headers.items()}
    timestamp = named.get(HEADER_TIMESTAMP.lower(), "")
    nonce = named.get(HEADER_NONCE.lower(), "")
    given = named.get(HEADER_SIGNATURE.lower(), "")
    if not (timestamp.isdigit() and 16 <= len(nonce) <= 64 and given):
        raise SignatureError("missing or malformed signature headers")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > guard.window_s:
        raise SignatureError("timestamp outside the replay window")
    expected = signature(key, method, path, timestamp, nonce, body)
    if not hmac.compare_digest(expected, given):
        raise SignatureError("bad signature")
    guard.check(nonce, current)
