"""Manager accounts: password hashes, sessions, CSRF tokens and lockout after wrong passwords.

Hashes are scrypt (hashlib, memory-hard) with a random salt, stored as `scrypt$N$r$p$salt$hash`.
Sessions live in memory: a restarted console asks managers to log in again, which is the safe
side. Each session carries its own CSRF token that every action must echo in a header; the
session cookie is HttpOnly and SameSite=Strict besides.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from firmware_config.console import ConsoleConfig, ManagerAccount

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
LOCK_BASE_S = 30.0
LOCK_MAX_S = 900.0


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            dklen=32)
    return "$".join(("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()))


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                                r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Compared against when the login is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password("unknown", salt=b"\0" * 16)


@dataclass
class Session:
    token: str
    login: str
    name: str
    csrf: str
    last_used: float


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0


class LoginRefused(Exception):
    def __init__(self, message: str, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class Accounts:
    config: ConsoleConfig
    clock: Callable[[], float] = time.monotonic
    _sessions: dict[str, Session] = field(default_factory=dict)
    _failures: dict[str, _Failures] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _account(self, login: str) -> ManagerAccount | None:
        return next((m for m in self.config.managers if m.login == login), None)

    def log_in(self, login: str, password: str, remote: str) -> Session:
        """A new session, or LoginRefused. Failures count per login and per address, so one
        guesser cannot lock every manager out and a locked login stays locked from anywhere."""
        keys = (f"login:{login}", f"addr:{remote}")
        now = self.clock()
        with self._lock:
            locked = max(self._failures.get(k, _Failures()).locked_until for k in keys)
        if locked > now:
            raise LoginRefused("登录尝试过多，请稍后再试 / too many attempts, try again later",
                               locked - now)
        account = self._account(login)
        ok = check_password(password, account.password_hash if account else _DUMMY_HASH)
        with self._lock:
            if not ok or account is None:
                for key in keys:
                    failures = self._failures.setdefault(key, _Failures())
                    failures.count += 1
                    over = failures.count - self.config.max_failed_logins
                    if over >= 0:
                        failures.locked_until = now + min(LOCK_MAX_S, LOCK_BASE_S * 2**over)
                raise LoginRefused("用户名或密码错误 / wrong login or password")
            for key in keys:
                self._failures.pop(key, None)
            session = Session(secrets.token_urlsafe(32), account.login, account.name,
                              secrets.token_urlsafe(24), now)
            self._sessions[session.token] = session
            return session

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if now - session.last_used > self.config.session_idle_min * 60:
                del self._sessions[token]
                return None
            session.last_used = now
            return session

    def log_out(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)
