"""Per-account broker passwords: one file per account, `<credentials_dir>/<account>.password`.

One file per account rather than one secrets file, so that a daemon's unit (or a device on the
LAN) can be given its own password and nothing else. The files are made by `hall config mosquitto`
(firmware_config/broker_credentials.py) when missing (random, mode 0600, never printed) and are
never overwritten: re-rendering the broker config keeps every device's password. This module is
the reading side, which every bus client needs at login.

On an installed hall the folder belongs to root (0700) and no daemon can read it: each daemon's
unit hands it its own password with systemd's `LoadCredential=broker-password:<folder>/<account>
.password`, which the daemon finds in `$CREDENTIALS_DIRECTORY` (operations/deploy/units.py writes
those lines). A daemon taken over can therefore read no other account's password. Tools an
operator runs as root (`hall doctor`, `hall bus request`) and development runs read the folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

SUFFIX = ".password"
# The systemd credential holding a daemon's own password, and the prefix under which the embedded
# broker's unit gets the whole folder (LoadCredential= of a folder names each `<prefix>_<file>`).
CREDENTIAL = "broker-password"
ALL_CREDENTIALS = "broker-passwords"


class Login(Protocol):
    """What the login needs of the site's broker settings (firmware_config BrokerConfig)."""

    @property
    def username(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def credentials_dir(self) -> Path | None: ...


class CredentialsError(ValueError):
    """An account's password file is missing or unreadable."""


def password_path(credentials_dir: Path, account: str) -> Path:
    return credentials_dir / f"{account}{SUFFIX}"


def _read_secret(path: Path, missing: str) -> str:
    """The password in `path`; `missing` tells the operator how to provide an absent one."""
    try:
        password = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        raise CredentialsError(missing) from exc
    except OSError as exc:
        raise CredentialsError(
            f"无法读取密码文件 / cannot read {path}: {exc.strerror}"
        ) from exc
    if not password:
        raise CredentialsError(f"密码文件为空 / {path} is empty")
    return password


def read_password(credentials_dir: Path, account: str) -> str:
    path = password_path(credentials_dir, account)
    return _read_secret(path, (
        f"没有账号 {account!r} 的密码文件 / no password file for broker account {account!r} "
        f"({path}); `hall config mosquitto` makes one for every daemon and device of the site"))


def systemd_credentials() -> Path | None:
    """The folder systemd put this unit's credentials in, when run by a unit that loads any."""
    folder = os.environ.get("CREDENTIALS_DIRECTORY")
    return Path(folder) if folder else None


def _read_credential(folder: Path, account: str, credentials_dir: Path) -> str:
    path = folder / CREDENTIAL
    return _read_secret(path, (
        f"没有账号 {account!r} 的密码凭据 / no systemd credential {CREDENTIAL!r} with the "
        f"password of broker account {account!r} ({path}); the unit needs "
        f"LoadCredential={CREDENTIAL}:{password_path(credentials_dir, account)}, "
        "which `hall install` writes"))


def login_for(broker: Login, account: str) -> tuple[str, str]:
    """The username and password `account` logs in with: its own, or the shared development one.

    Under systemd the password is the unit's own credential; elsewhere the folder's file."""
    if broker.credentials_dir is None:
        return broker.username, broker.password
    credentials = systemd_credentials()
    if credentials is not None:
        return account, _read_credential(credentials, account, broker.credentials_dir)
    return account, read_password(broker.credentials_dir, account)
