"""The demo's duty manager: an account made up for each `hall demo` run, its address and how the
demo opens the console in the desktop's browser."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
import webbrowser
from dataclasses import dataclass
from pathlib import Path

from daemons.console.auth import hash_password
from firmware_config.console import ManagerAccount
from firmware_config.site import SiteConfig
from hall_bus.netutil import free_port, port_is_free

log = logging.getLogger("hall.demo")

DEMO_LOGIN = "duty"


@dataclass(frozen=True)
class DemoLogin:
    url: str
    login: str
    password: str

    def describe(self) -> str:
        return (f"控制台 console {self.url}  账号 login {self.login}  "
                f"密码 password {self.password}")


def with_demo_manager(site: SiteConfig) -> tuple[SiteConfig, DemoLogin]:
    """The site with a fresh demo manager account (a new random password each run) and a free
    console port; the password exists only in this run's output and data folder."""
    console = site.console
    port = console.port if port_is_free(console.listen, console.port) else free_port(console.listen)
    password = secrets.token_urlsafe(9)
    account = ManagerAccount(login=DEMO_LOGIN, name="值班长", password_hash=hash_password(password))
    managers = [m for m in console.managers if m.login != DEMO_LOGIN] + [account]
    site = site.model_copy(update={
        "console": console.model_copy(update={"port": port, "managers": managers})})
    host = "127.0.0.1" if console.listen in ("0.0.0.0", "::") else console.listen
    return site, DemoLogin(f"http://{host}:{port}/", DEMO_LOGIN, password)


def save_login(login: DemoLogin, data_dir: Path) -> Path:
    path = data_dir / "console-login.txt"
    path.write_text(login.describe() + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def open_in_browser(login: DemoLogin, headless: bool, timeout: float = 15.0) -> bool:
    """Open the console in the desktop's browser once it answers; never without a display (a
    terminal browser would take over the demo's screen)."""
    if headless or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    host, port = login.url.split("//")[1].rstrip("/").rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                break
        except OSError:
            time.sleep(0.3)
    else:
        log.warning("控制台未启动 / the console did not start within %g s", timeout)
        return False
    return webbrowser.open(login.url)
