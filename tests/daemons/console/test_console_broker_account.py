"""The manager console on its own broker account, under the ACL `hall config mosquitto` renders:
a real Mosquitto started from the rendered per-account files, the engine as `queue`, the
console as `console`, a window's keypad as `line1`. The page issues a ticket, sees the call and a
device fault on the floor map, pauses a window and posts a notice through the engine; the
console's account may not write the notice itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import repo_paths
from bus_helpers import Collector
from console_fixtures import MANAGER, PASSWORD, ConsoleHall, browser, log_in
from mqtt_peer import Peer
from mqtt_peer import peers as peers  # a fixture, used by name
from playwright.sync_api import expect
from test_broker_security import SecuredHall, _assert_subscriptions_granted, hall

from daemons.console.auth import hash_password
from daemons.console.daemon import ConsoleDaemon
from daemons.queue.service import QueueEngine
from firmware_config.broker_accounts import Access, site_accounts
from firmware_config.console import ConsoleConfig, ManagerAccount
from firmware_config.loader import load_site
from hall_bus.client import BusClient
from hall_bus.contract import LineDeviceKind, LineDeviceState, QueueEvent, QueueEventType
from hall_bus.contract.notice import HallNotice
from hall_bus.topics import Endpoint, notice_endpoint, queue_endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

__all__ = ["browser", "hall"]  # fixtures

REPO = repo_paths.REPO


def test_console_works_on_its_own_account(
    hall: SecuredHall, browser: Any, peers: Callable[..., Peer], tmp_path: Path
) -> None:
    managers = [ManagerAccount(login=MANAGER, name="王值班", password_hash=hash_password(PASSWORD))]
    site = hall.site.model_copy(update={"console": ConsoleConfig(managers=managers)})
    engine = QueueEngine(site, tmp_path / "queue.sqlite3")
    engine.start(wait=10)
    console = ConsoleDaemon(site, port=0)
    # The window's keypad, played by a client on line1's account.
    desk = BusClient(site.hall_id, "line1", site.broker)
    events: Collector[QueueEvent] = Collector()
    desk.subscribe_model(queue_endpoint(site.hall_id).event, QueueEvent, events.add)
    page = browser.new_page()
    try:
        console.start(wait=10)
        desk.start(wait=10)
        _assert_subscriptions_granted(site, console.bus, "console")
        driver = ConsoleHall(site, engine, console, desk)
        driver.ask("login", window_id="w1", staff_id="s001")
        log_in(page, driver)
        card = page.locator('[data-window="w1"]')
        expect(card).to_have_attribute("data-mode", "idle", timeout=5000)

        # A line daemon's account may not take tickets; the console's may (the page's "issue").
        page.click('button[data-view="actions"]')
        form = page.locator('form[data-action="issue"]')
        form.locator('[name="service_id"]').select_option("household")
        form.locator("button[type=submit]").click()
        expect(page.locator("#message")).to_have_text("已完成 / done")
        issued = events.wait_for(lambda e: e.type is QueueEventType.TICKET_ISSUED)
        assert issued.actor == MANAGER

        # The call reaches the console's floor map under its ACL.
        page.click('button[data-view="floor"]')
        driver.ask("call_next", window_id="w1")
        expect(card.locator(".ticket")).to_have_text("A001", timeout=2000)
        driver.ask("finish", window_id="w1")

        # Pause from the page: the engine takes the console's request and names the manager.
        pause = card.locator("button.pause")
        expect(pause).to_be_visible(timeout=3000)
        pause.click()
        paused = events.wait_for(lambda e: e.type is QueueEventType.WINDOW_PAUSED)
        assert paused.actor == MANAGER
        expect(card).to_have_attribute("data-mode", "paused", timeout=2000)

        # A line device's retained state reaches the console: the strip of w1 stops answering.
        strip = LineDeviceState(line_id="line1", device_id="w1-strip", address=1,
                                kind=LineDeviceKind.WINDOW_STRIP, window_id="w1", online=False,
                                supervised=True, shown=["请A001号到1号窗口"])
        desk.publish_state(Endpoint(site.hall_id, "line1", "w1-strip").state, strip)
        expect(card.locator(".mode")).to_have_text("设备离线 / offline", timeout=3000)

        # A notice goes through the engine, which publishes it on the queue account.
        page.click('button[data-view="actions"]')
        form = page.locator('form[data-action="notice"]')
        form.locator('[name="text_zh"]').fill("午间错时服务")
        form.locator("button[type=submit]").click()
        expect(page.locator("#notice-now")).to_contain_text("午间错时服务", timeout=3000)

        # The console's own account cannot put up a notice behind the engine's back.
        topic = notice_endpoint(site.hall_id).state
        watcher = peers(hall.port, "t-watch", "metrics", hall.password("metrics"))
        assert not watcher.connect().is_failure
        watcher.subscribe(topic)
        rogue = peers(hall.port, "t-rogue", "console", hall.password("console"))
        assert not rogue.connect().is_failure
        forged = HallNotice(text_zh="伪造公告", actor="nobody").to_json()
        rogue.publish(topic, forged, retain=True)
        time.sleep(0.5)
        assert forged not in watcher.payloads(topic)
        [retained] = watcher.payloads(topic)
        assert HallNotice.model_validate_json(retained).text_zh == "午间错时服务"
        expect(page.locator("#notice-now")).to_contain_text("午间错时服务")
    finally:
        page.close()
        desk.stop()
        console.stop()
        engine.stop()


def test_only_the_engine_may_write_the_notice() -> None:
    """Whatever the site lists, the notice topic is writable by the queue account alone, and
    every daemon that shows or says the notice may read it."""
    site = load_site(REPO / "firmware_config" / "sites" / "demo.yaml")
    topic = notice_endpoint(site.hall_id).state
    writers, readers = set(), set()
    for account in site_accounts(site):
        for grant in account.grants:
            if mqtt.topic_matches_sub(grant.topic, topic):
                (readers if grant.access is Access.READ else writers).add(account.name)
    assert writers == {"queue"}
    lines = {line.id for line in site.lines}
    assert lines and readers >= {"voice", "console", "metrics", *lines}
