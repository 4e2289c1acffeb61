"""A running hall for console tests: a real Mosquitto, the queue engine, the console on a free
port, a bus client to play the hall's devices, and headless Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from queue_fixtures import make_site

from daemons.console.auth import hash_password
from daemons.console.daemon import ConsoleDaemon
from daemons.queue.service import QueueEngine
from firmware_config.console import ConsoleConfig, ManagerAccount
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus.client import BusClient
from hall_bus.contract import QUEUE_ACTIONS, Response, ResponseStatus
from hall_bus.topics import queue_endpoint

MANAGER, PASSWORD = "duty1", "correct horse 7"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@dataclass
class ConsoleHall:
    site: SiteConfig
    engine: QueueEngine
    console: ConsoleDaemon
    bus: BusClient

    def ask(self, action: str, **fields: Any) -> dict[str, Any]:
        response: Response = self.bus.request(
            queue_endpoint(self.site.hall_id), action, QUEUE_ACTIONS[action].request(**fields))
        assert response.status is ResponseStatus.OK, response.error
        return response.data or {}


def console_site(broker: BrokerConfig, data_dir: Path, **changes: Any) -> SiteConfig:
    account = ManagerAccount(login=MANAGER, name="王值班", password_hash=hash_password(PASSWORD))
    site = make_site()
    return site.model_copy(update={
        "broker": broker, "data_dir": data_dir,
        "console": ConsoleConfig(managers=[account], max_failed_logins=3),
        **changes,
    })


@pytest.fixture
def console_hall(broker_config: BrokerConfig, tmp_path: Path) -> Iterator[ConsoleHall]:
    site = console_site(broker_config, tmp_path)
    yield from run_console_hall(site, tmp_path)


def run_console_hall(site: SiteConfig, tmp_path: Path) -> Iterator[ConsoleHall]:
    engine = QueueEngine(site, tmp_path / "queue.sqlite3")
    engine.start(wait=10)
    console = ConsoleDaemon(site, port=0)
    bus = BusClient(site.hall_id, "test-devices", site.broker)
    try:
        console.start(wait=10)
        bus.start(wait=10)
        yield ConsoleHall(site, engine, console, bus)
    finally:
        bus.stop()
        console.stop()
        engine.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed; `.ci/bootstrap test` installs it", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def log_in(page: Any, hall: ConsoleHall, password: str = PASSWORD) -> None:
    page.goto(hall.console.url)
    page.fill("#login", MANAGER)
    page.fill("#password", password)
    page.click("#login-button")
