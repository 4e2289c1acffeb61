"""The service manager's notification protocol (sd_notify), spoken directly.

systemd passes a datagram socket in `$NOTIFY_SOCKET` to a `Type=notify` service; the service sends
newline-separated `KEY=VALUE` assignments to it: READY=1 once it serves, STOPPING=1 when it begins
to shut down, WATCHDOG=1 to prove it is alive. Implemented here (a few lines over a Unix socket)
instead of pulling in a binding library. Outside systemd the variable is unset and every call is a
no-op, so daemons need no special case for a laptop or `hall demo`.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("hall.systemd")


def socket_address(value: str) -> str | bytes | None:
    """The address `$NOTIFY_SOCKET` names: a filesystem path, or an abstract socket for '@name'."""
    if value.startswith("@"):
        # Linux abstract namespace: the name begins with a NUL byte instead of '@'.
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    # Other schemes (vsock:) are for virtual machines talking to their host, not a hall box.
    return None


def watchdog_interval(env: Mapping[str, str], pid: int) -> float | None:
    """Seconds between watchdog pings: half of `$WATCHDOG_USEC`, as systemd recommends, so one
    late ping does not get the service killed. None when no watchdog is asked of this process."""
    raw = env.get("WATCHDOG_USEC")
    if not raw:
        return None
    owner = env.get("WATCHDOG_PID")
    # The variables are inherited by children; only the process systemd started is watched.
    if owner and owner != str(pid):
        return None
    try:
        usec = int(raw)
    except ValueError:
        log.warning("WATCHDOG_USEC=%r 不是整数 / is not an integer; watchdog off", raw)
        return None
    return usec / 2_000_000 if usec > 0 else None


class Notifier:
    """Sends notifications to the service manager, or nothing when there is none."""

    def __init__(self, address: str | bytes | None, watchdog_interval_s: float | None) -> None:
        self.address = address
        self.watchdog_interval_s = watchdog_interval_s if address is not None else None

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if env is None else env
        raw = env.get("NOTIFY_SOCKET", "")
        address = socket_address(raw) if raw else None
        if raw and address is None:
            log.warning("不支持的 NOTIFY_SOCKET / unsupported NOTIFY_SOCKET %r; not notifying", raw)
        return cls(address, watchdog_interval(env, os.getpid()))

    @property
    def active(self) -> bool:
        return self.address is not None

    def send(self, *assignments: str) -> bool:
        """Send one datagram; True if the manager got it. Failures are logged, never raised: a
        daemon must keep serving the hall even when its supervisor cannot be told."""
        if self.address is None:
            return False
        message = "\n".join(assignments).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message, self.address)
        except OSError as exc:
            log.warning("无法通知 systemd / cannot notify systemd (%s): %s", assignments, exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")
