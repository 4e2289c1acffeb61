"""Making the per-account broker password files, and reading all of them for a broker.

The file layout and the reading a daemon does at login are the bus's (hall_bus/credentials.py);
this is the configuration side: `hall config mosquitto` and `hall install` make a random password
for every account that has none, and the embedded broker checks every login against the folder.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from firmware_config.site import BrokerConfig
from hall_bus.credentials import (
    ALL_CREDENTIALS,
    SUFFIX,
    CredentialsError,
    password_path,
    read_password,
    systemd_credentials,
)

_PASSWORD_BYTES = 24  # 32 URL-safe characters


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
