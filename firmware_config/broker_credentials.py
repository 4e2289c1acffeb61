"""Per-account broker passwords: one file per account, `<credentials_dir>/<account>.password`.

One file per account rather than one secrets file, so that a daemon's unit (or a device on the
LAN) can be given its own password and nothing else, e.g. with systemd's LoadCredential=. The
files are made by `hall config mosquitto` when missing (random, mode 0600, never printed) and are
never overwritten: re-rendering the broker config keeps every device's password.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from firmware_config.site import BrokerConfig

SUFFIX = ".password"
_PASSWORD_BYTES = 24  # 32 URL-safe characters


class CredentialsError(ValueError):
    """An account's password file is missing or unreadable."""


def password_path(credentials_dir: Path, account: str) -> Path:
    return credentials_dir / f"{account}{SUFFIX}"


def read_password(credentials_dir: Path, account: str) -> str:
    path = password_path(credentials_dir, account)
    try:
        password = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        raise CredentialsError(
            f"没有账号 {account!r} 的密码文件 / no password file for broker account {account!r} "
            f"({path}); `hall config mosquitto` makes one for every daemon and device of the site"
        ) from exc
    except OSError as exc:
        raise CredentialsError(
            f"无法读取密码文件 / cannot read {path}: {exc.strerror}"
        ) from exc
    if not password:
        raise CredentialsError(f"密码文件为空 / {path} is empty")
    return password


def ensure_passwords(credentials_dir: Path, accounts: Iterable[str]) -> dict[str, str]:
    """Every account's password, making a random one (0600) for each account without a file."""
    credentials_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    passwords = {}
    for account in accounts:
        path = password_path(credentials_dir, account)
        if not path.exists():
            # O_EXCL: two renders at once must not give one account two passwords.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(secrets.token_urlsafe(_PASSWORD_BYTES) + "\n")
        passwords[account] = read_password(credentials_dir, account)
    return passwords


def login_for(broker: BrokerConfig, account: str) -> tuple[str, str]:
    """The username and password `account` logs in with: its own, or the shared development one."""
    if broker.credentials_dir is None:
        return broker.username, broker.password
    return account, read_password(broker.credentials_dir, account)
