"""The demo's manager account: a new password each run, a free port, no browser when headless."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from queue_fixtures import make_site

from daemons.console.auth import check_password
from demo.console_login import open_in_browser, save_login, with_demo_manager
from firmware_config.console import ConsoleConfig

pytestmark = pytest.mark.integration  # starts real components (conftest.py)


def test_demo_manager_gets_a_fresh_password_and_a_free_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        site = make_site().model_copy(update={"console": ConsoleConfig(port=port)})
        first, login = with_demo_manager(site)
        _second, other = with_demo_manager(site)
    assert first.console.port != port and login.url == f"http://127.0.0.1:{first.console.port}/"
    [account] = first.console.managers
    assert account.login == login.login == "duty"
    assert check_password(login.password, account.password_hash)
    assert login.password != other.password
    saved = save_login(login, tmp_path)
    assert login.password in saved.read_text(encoding="utf-8")
    assert saved.stat().st_mode & 0o077 == 0


def test_no_browser_is_opened_headless_or_without_a_display(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    _site, login = with_demo_manager(make_site())
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert open_in_browser(login, headless=False, timeout=0.1) is False
    monkeypatch.setenv("DISPLAY", ":0")
    assert open_in_browser(login, headless=True, timeout=0.1) is False
