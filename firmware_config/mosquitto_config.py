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

from firmware_config.broker_accounts import Access, Account, Grant, Role, render_acl, site_accounts
from firmware_config.broker_credentials import ensure_passwords
from firmware_config.broker_tls import TlsListenerConfig
from firmware_config.loader import add_site_argument, load_site_or_exit
from firmware_config.site import SiteConfig
from hall_bus import topics
from hall_bus.contract.base import MAX_PACKET_BYTES

TEMPLATE_DIR = Path(__file__).resolve().parent / "mosquitto"
CONF_NAME = "hall.conf"
ACL_NAME = "hall.acl"
PASSWD_NAME = "hall.passwd"

# What mosquitto_passwd 2.0 uses. Mosquitto reads the count from each hash, but it pays it on
# every CONNECT, and after a broker restart every daemon of the hall connects at once.
PBKDF2_ITERATIONS = 101
_SALT_BYTES = 12

# Usernames are node names (they appear in topics), so the bus's name rules.
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


def _logins(site: SiteConfig) -> tuple[dict[str, str], str]:
    """Usernames -> passwords for the password file, and the ACL body that goes with them."""
    accounts = site_accounts(site)
    if site.broker.credentials_dir is None:
        # Development: every daemon shares the site's login, which may do anything in the hall.
        shared = _check_username(site.broker.username, "broker.username")
        if shared in {account.name for account in accounts}:
            raise ValueError(
                f"broker.username {shared!r} is a daemon's account name; "
                "the shared development account needs a name of its own"
            )
        acl = render_acl([Account(shared, Role.DEVELOPMENT, (
            Grant(Access.READWRITE, topics.hall_subtree(site.hall_id)),))])
        return {shared: site.broker.password}, acl
    for account in accounts:
        _check_username(account.name, "account")
    passwords = ensure_passwords(site.broker.credentials_dir, [a.name for a in accounts])
    return passwords, render_acl(accounts)


def _tls_listener(listener: TlsListenerConfig, password_file: Path, acl_file: Path) -> str:
    lines = [
        "",
        "# Devices on the hall's LAN, over TLS only (site broker.tls_listener).",
        f"listener {listener.port} {listener.host}",
        "allow_anonymous false",
        "allow_zero_length_clientid false",
        f"password_file {password_file}",
        f"acl_file {acl_file}",
        f"certfile {listener.cert_file.resolve()}",
        f"keyfile {listener.key_file.resolve()}",
        f"cafile {listener.ca_file.resolve()}",
        "tls_version tlsv1.2",
        f"require_certificate {'true' if listener.require_certificate else 'false'}",
    ]
    return "\n".join(lines) + "\n"


def render_mosquitto_config(
    site: SiteConfig,
    conf_dir: Path,
    *,
    listener_host: str | None = None,
    port: int | None = None,
    data_dir: Path | None = None,
    run_user: str = "mosquitto",
) -> Path:
    """Write hall.conf, hall.acl and hall.passwd into conf_dir and return the path of hall.conf.

    With `broker.credentials_dir` every daemon and device of the site gets its own account
    (firmware_config/broker_accounts.py), its password made there when missing; without it the
    site's shared login is the only account (development). The listener defaults to the site's
    broker host and port; `broker.tls_listener` adds a TLS listener for LAN devices. Persistence
    goes to `data_dir`, by default `<site.data_dir>/mosquitto`; both folders are created, and
    must belong to `run_user` when Mosquitto is started as root.
    """
    logins, acl_body = _logins(site)
    conf_dir = conf_dir.resolve()
    persistence_dir = (data_dir or site.data_dir / "mosquitto").resolve()
    conf_dir.mkdir(parents=True, exist_ok=True)
    persistence_dir.mkdir(parents=True, exist_ok=True)

    conf_path = conf_dir / CONF_NAME
    acl_path = conf_dir / ACL_NAME
    passwd_path = conf_dir / PASSWD_NAME
    values = {
        "hall_id": site.hall_id,
        "root": topics.hall_root(site.hall_id),
        "run_user": run_user,
        "listener_host": listener_host or site.broker.host,
        "port": str(port if port is not None else site.broker.port),
        "persistence_dir": str(persistence_dir),
        "password_file": str(passwd_path),
        "acl_file": str(acl_path),
        # The bus contract's limit: every answer is built to fit it (hall_bus/contract/base.py).
        "max_packet_size": str(MAX_PACKET_BYTES),
    }
    passwd = "".join(f"{name}:{hash_password(password)}\n" for name, password in logins.items())
    # Group-readable so a root-owned folder can still be read by the mosquitto group.
    _write_atomically(passwd_path, passwd, 0o640)
    _write_atomically(acl_path, _render(ACL_NAME, values) + acl_body, 0o644)
    conf_text, conf_mode = _render(CONF_NAME, values), 0o644
    if site.broker.tls_listener is not None:
        conf_text += _tls_listener(site.broker.tls_listener, passwd_path, acl_path)
    if site.bridge is not None and site.bridge.central_broker is not None:
        from firmware_config.central_bridge import render_central_bridge

        # The bridge section carries the hall's central password: owner and group only.
        conf_text += render_central_bridge(site.hall_id, site.bridge.central_broker)
        conf_mode = 0o640
    _write_atomically(conf_path, conf_text, conf_mode)
    return conf_path


def add_render_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall config mosquitto`."""
    add_site_argument(parser)
    parser.add_argument("--out", type=Path, required=True, help="folder for the files")
    parser.add_argument("--listen", default=None, help="listener address (default loopback)")
    parser.add_argument("--port", type=int, default=None, help="port (default from the site)")
    parser.add_argument("--run-user", default="mosquitto", help="user the broker runs as")


def run_render_command(args: argparse.Namespace) -> int:
    """`hall config mosquitto --out DIR`: write the hall's production broker configuration."""

    site = load_site_or_exit(args.site)
    try:
        conf = render_mosquitto_config(
            site, args.out, listener_host=args.listen, port=args.port, run_user=args.run_user
        )
    except (ValueError, OSError) as exc:
        print(f"无法生成 / cannot render: {exc}", file=sys.stderr)
        return 1
    print(f"已生成 / written: {conf}\n  mosquitto -c {conf}")
    if site.broker.credentials_dir is None:
        print("注意：未设置 broker.credentials_dir，所有守护进程共用一个账号（仅供开发） / "
              "note: no broker.credentials_dir, every daemon shares one account "
              "(development only)", file=sys.stderr)
    else:
        print(f"账号密码 / account passwords: {site.broker.credentials_dir}/<account>.password")
    return 0
