"""Render the production Mosquitto configuration of a hall from its site config.

The templates in firmware_config/mosquitto/ carry the tuning and its reasons; this module fills in
the hall id, the listener, absolute paths, and writes a password file. Passwords are hashed here
(PBKDF2-SHA512, Mosquitto 2's `$7$` format, the one `mosquitto_passwd` writes) rather than by
calling `mosquitto_passwd -b`, which would show every password in the process list and would need
the Mosquitto tools on the machine that renders the configuration.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

from firmware_config.site import SiteConfig

TEMPLATE_DIR = Path(__file__).resolve().parent / "mosquitto"
CONF_NAME = "hall.conf"
ACL_NAME = "hall.acl"
PASSWD_NAME = "hall.passwd"

# What mosquitto_passwd 2.0 uses. Mosquitto reads the count from each hash, but it pays it on
# every CONNECT, and after a broker restart every daemon of the hall connects at once.
PBKDF2_ITERATIONS = 101
_SALT_BYTES = 12

# Accounts with ACL blocks of their own in hall.acl; the site's shared account must not be one.
ROLE_ACCOUNTS = frozenset({"queue", "voice", "bridge", "console"})
# Usernames are node names (the ACL's %u pattern puts them into topics), so the bus's name rules.
_USERNAME = re.compile(r"^[a-z0-9_-]{1,64}$")


def hash_password(
    password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS
) -> str:
    """A Mosquitto 2 password-file hash: `$7$<iterations>$<salt b64>$<PBKDF2-SHA512 b64>`."""
    if salt is None:
        salt = secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    encode = base64.b64encode
    return f"$7${iterations}${encode(salt).decode()}${encode(digest).decode()}"


def _check_username(name: str, what: str) -> str:
    if not _USERNAME.match(name):
        raise ValueError(f"{what} {name!r}: MQTT usernames here are node names, [a-z0-9_-]+")
    return name


def _write_atomically(path: Path, text: str, mode: int) -> None:
    # A broker reloading on SIGHUP must never read half a file.
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(mode)
    os.replace(temporary, path)


def _render(template_name: str, values: Mapping[str, str]) -> str:
    template = (TEMPLATE_DIR / template_name).read_text(encoding="utf-8")
    return template.format_map(dict(values))


def render_mosquitto_config(
    site: SiteConfig,
    conf_dir: Path,
    *,
    listener_host: str | None = None,
    port: int | None = None,
    accounts: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
    run_user: str = "mosquitto",
) -> Path:
    """Write hall.conf, hall.acl and hall.passwd into conf_dir and return the path of hall.conf.

    The listener defaults to the site's broker host and port. `accounts` adds per-daemon logins
    (node name -> password) beside the site's shared account; see hall.acl for what each may do.
    Persistence goes to `data_dir`, by default `<site.data_dir>/mosquitto`; both folders are
    created, and must belong to `run_user` when Mosquitto is started as root.
    """
    site_user = _check_username(site.broker.username, "broker.username")
    if site_user in ROLE_ACCOUNTS:
        raise ValueError(
            f"broker.username {site_user!r} is a daemon's account in hall.acl; "
            "the shared site account needs a name of its own"
        )
    logins = {site_user: site.broker.password}
    for name, password in (accounts or {}).items():
        _check_username(name, "account")
        if name in logins:
            raise ValueError(f"account {name!r} is defined twice")
        logins[name] = password

    conf_dir = conf_dir.resolve()
    persistence_dir = (data_dir or site.data_dir / "mosquitto").resolve()
    conf_dir.mkdir(parents=True, exist_ok=True)
    persistence_dir.mkdir(parents=True, exist_ok=True)

    conf_path = conf_dir / CONF_NAME
    acl_path = conf_dir / ACL_NAME
    passwd_path = conf_dir / PASSWD_NAME
    values = {
        "hall_id": site.hall_id,
        "root": f"hall/{site.hall_id}",
        "site_user": site_user,
        "run_user": run_user,
        "listener_host": listener_host or site.broker.host,
        "port": str(port if port is not None else site.broker.port),
        "persistence_dir": str(persistence_dir),
        "password_file": str(passwd_path),
        "acl_file": str(acl_path),
    }
    passwd = "".join(f"{name}:{hash_password(password)}\n" for name, password in logins.items())
    # Group-readable so a root-owned folder can still be read by the mosquitto group.
    _write_atomically(passwd_path, passwd, 0o640)
    _write_atomically(acl_path, _render(ACL_NAME, values), 0o644)
    conf_text, conf_mode = _render(CONF_NAME, values), 0o644
    if site.bridge is not None and site.bridge.central_broker is not None:
        from firmware_config.central_bridge import render_central_bridge

        # The bridge section carries the hall's central password: owner and group only.
        conf_text += render_central_bridge(site.hall_id, site.bridge.central_broker)
        conf_mode = 0o640
    _write_atomically(conf_path, conf_text, conf_mode)
    return conf_path


def run_render_command(args: argparse.Namespace) -> int:
    """`hall config mosquitto --out DIR`: write the hall's production broker configuration."""
    from firmware_config.loader import ConfigError, load_site

    try:
        site = load_site(args.site)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    conf = render_mosquitto_config(
        site, args.out, listener_host=args.listen, port=args.port, run_user=args.run_user
    )
    print(f"已生成 / written: {conf}\n  mosquitto -c {conf}")
    return 0
