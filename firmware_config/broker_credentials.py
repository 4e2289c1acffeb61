"""Per-account broker passwords: one file per account, `<credentials_dir>/<account>.password`.

One file per account rather than one secrets file, so that a daemon's unit (or a device on the
LAN) can be given its own password and nothing else. The files are made by `hall config mosquitto`
when missing (random, mode 0600, never printed) and are never overwritten: re-rendering the broker
config keeps every device's password.

On an installed hall the folder belongs to root (0700) and no daemon can read it: each daemon's
unit hands it its own password with systemd's `LoadCredential=broker-password:<folder>/<account>
.password`, which the daemon finds in `$CREDENTIALS_DIRECTORY` (hall_bus/deploy/units.py writes
those lines). A daemon taken over can therefore read no other account's password. Tools an
operator runs as root (`hall doctor`, `hall bus request`) and development runs read the folder.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from firmware_config.site import BrokerConfig

SUFFIX = ".password"
# The systemd credential holding a daemon's own password, and the prefix under which the embedded
# broker's unit gets the whole folder (LoadCredential= of a folder names each `<prefix>_<file>`).
CREDENTIAL = "broker-password"
ALL_CREDENTIALS = "broker-passwords"
_PASSWORD_BYTES = 24  # 32 URL-safe characters


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


def login_for(broker: BrokerConfig, account: str) -> tuple[str, str]:
    """The username and password `account` logs in with: its own, or the shared development one.

    Under systemd the password is the unit's own credential; elsewhere the folder's file."""
    if broker.credentials_dir is None:
        return broker.username, broker.password
    credentials = systemd_credentials()
    if credentials is not None:
        return account, _read_credential(credentials, account, broker.credentials_dir)
    return account, read_password(broker.credentials_dir, account)


def all_passwords(broker: BrokerConfig) -> dict[str, str]:
    """Every account's password, for the embedded broker that checks every login.

    Its unit loads the whole folder as credentials `broker-passwords_<account>.password`; run by
    hand it reads the folder itself. An absent folder means no per-account logins yet."""
    credentials = systemd_credentials()
    if broker.credentials_dir is None:
        return {}
    if credentials is not None:
        folder, prefix = credentials, f"{ALL_CREDENTIALS}_"
    elif broker.credentials_dir.is_dir():
        folder, prefix = broker.credentials_dir, ""
    else:
        return {}
    passwords = {}
    for path in sorted(folder.glob(f"{prefix}*{SUFFIX}")):
        account = path.name.removeprefix(prefix).removesuffix(SUFFIX)
        passwords[account] = read_password(folder, f"{prefix}{account}")
    if credentials is not None and not passwords:
        # A broker that let in only the development login would lock every daemon out.
        raise CredentialsError(
            f"凭据中没有账号密码 / no {ALL_CREDENTIALS}_<account>{SUFFIX} credential in "
            f"{credentials}; the unit needs LoadCredential={ALL_CREDENTIALS}:"
            f"{broker.credentials_dir}, which `hall install` writes")
    return passwords
