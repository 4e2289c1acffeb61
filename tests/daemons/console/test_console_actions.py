"""Manager actions from the console's page, through the bus: a notice the engine keeps with who
posted and withdrew it, which the hall screen shows and the announcer says, cancelling, putting
back and issuing tickets, moving a service, and the day's report as CSV and as a printable
page."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bus_helpers import Collector
from console_fixtures import (
    MANAGER,
    ConsoleHall,
    browser,
    console_hall,
    console_site,
    log_in,
    run_console_hall,
)
from line_fixtures import SimHall, make_line, wait_until
from playwright.sync_api import expect

from daemons.line.daemon import LineDaemon
from daemons.voice.daemon import VoiceDaemon
from firmware_config.site import BrokerConfig
from hall_bus.contract import QueueEvent, QueueEventType
from hall_bus.topics import queue_endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

__all__ = ["browser", "console_hall"]


@pytest.fixture
def hall_with_line(broker_config: BrokerConfig, tmp_path: Path) -> Iterator[tuple[
        ConsoleHall, SimHall, VoiceDaemon]]:
    config, sim = make_line(tmp_path / "ttyLINE1")
    site = console_site(broker_config, tmp_path, lines=[config])
    sim.line.start()
    line = LineDaemon(site, config)
    voice = VoiceDaemon(site, data_dir=tmp_path)
    try:
        for hall in run_console_hall(site, tmp_path):
            line.start(wait=10)
            voice.start(wait=10)
            yield hall, sim, voice
    finally:
        voice.stop()
        line.stop()
        sim.line.stop()


def _submit(page: Any, action: str, **fields: str) -> None:
    form = page.locator(f'form[data-action="{action}"]')
    for name, value in fields.items():
        field = form.locator(f'[name="{name}"]')
        if field.evaluate("node => node.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    form.locator("button[type=submit]").click()


def test_notice_reaches_the_hall_screen_and_the_announcer_and_is_withdrawn(
    hall_with_line: tuple[ConsoleHall, SimHall, VoiceDaemon], browser: Any, tmp_path: Path
) -> None:
    hall, sim, _voice = hall_with_line
    wait_until(lambda: "请保管好随身物品" in sim.screen.shown, 10, "the line's own notice")
    page = browser.new_page()
    try:
        log_in(page, hall)
        page.click('button[data-view="actions"]')
        _submit(page, "notice", text_zh="系统维护，社保业务暂停受理",
                text_en="Social insurance paused", minutes="20")
        expect(page.locator("#message")).to_have_text("已完成 / done")
        expect(page.locator("#notice-now")).to_contain_text("系统维护，社保业务暂停受理")
        wait_until(lambda: "系统维护，社保业务暂停受理" in sim.screen.shown, 10,
                   "the hall screen shows the manager's notice")
        said = tmp_path / "voice" / "out" / "floor1"
        wait_until(lambda: any("console-" in p.name for p in said.glob("*.wav")), 30,
                   "the announcer said the notice")
        page.click('button[data-plain="clear_notice"]')
        expect(page.locator("#notice-now")).to_contain_text("当前无公告")
        wait_until(lambda: "请保管好随身物品" in sim.screen.shown, 10, "the line's notice is back")
    finally:
        page.close()
    # The engine, not the console, keeps the notice: who posted it and who took it down.
    conn = sqlite3.connect(tmp_path / "queue.sqlite3")
    try:
        rows = conn.execute("SELECT json_extract(body, '$.text_zh'), posted_by, withdrawn_by"
                            " FROM notices").fetchall()
        logged = conn.execute("SELECT action, actor FROM request_log WHERE action LIKE '%notice'"
                              " ORDER BY created_at").fetchall()
    finally:
        conn.close()
    assert rows == [("系统维护，社保业务暂停受理", MANAGER, MANAGER)]
    assert logged == [("post_notice", MANAGER), ("withdraw_notice", MANAGER)]


def test_ticket_actions_service_move_and_the_days_report(
    console_hall: ConsoleHall, browser: Any
) -> None:
    hall = console_hall
    events: Collector[QueueEvent] = Collector()
    hall.bus.subscribe_model(queue_endpoint(hall.site.hall_id).event, QueueEvent, events.add)
    hall.ask("login", window_id="w1", staff_id="s001")
    hall.ask("login", window_id="w2", staff_id="s002")
    for _ in range(3):
        hall.ask("take_ticket", service_id="household")
    hall.ask("call_next", window_id="w1")
    hall.ask("skip", window_id="w1")  # A001 is a no-show
    page = browser.new_page()
    try:
        log_in(page, hall)
        page.click('button[data-view="actions"]')
        _submit(page, "cancel", ticket_id="a003", reason="市民离开 / left")
        expect(page.locator("#message")).to_have_text("已完成 / done")
        cancelled = events.wait_for(lambda e: e.type is QueueEventType.TICKET_CANCELLED)
        assert cancelled.ticket is not None and cancelled.ticket.number == "A003"
        assert cancelled.actor == MANAGER and cancelled.detail == "市民离开 / left"

        _submit(page, "reactivate", ticket_id="A001")
        back = events.wait_for(lambda e: e.type is QueueEventType.TICKET_REACTIVATED)
        assert back.ticket is not None and back.ticket.number == "A001" and back.actor == MANAGER

        _submit(page, "cancel", ticket_id="A001")
        expect(page.locator("#message")).to_have_text("已完成 / done")
        _submit(page, "cancel", ticket_id="A001")  # the engine's refusal is shown, not hidden
        expect(page.locator("#message")).to_contain_text("不能取消")

        _submit(page, "issue", service_id="tax", priority_class="elderly_disabled")
        issued = events.wait_for(lambda e: e.type is QueueEventType.TICKET_ISSUED
                                 and e.ticket is not None and e.ticket.service_id == "tax")
        assert issued.ticket is not None and issued.ticket.number == "C001"
        assert issued.ticket.priority_class.value == "elderly_disabled"

        # w2 (business only) takes household from w1: it now calls A002.
        _submit(page, "assign_service", service_id="household", from_window_id="",
                to_window_id="w2")
        moved = events.wait_for(lambda e: e.type is QueueEventType.SERVICE_ASSIGNED)
        assert moved.actor == MANAGER
        assert hall.ask("call_next", window_id="w2")["ticket"]["number"] == "A002"
        card = page.locator('[data-window="w2"] .ticket')
        page.click('button[data-view="floor"]')
        expect(card).to_have_text("A002", timeout=2000)

        answer = page.request.get(hall.console.url + "report.csv")
        assert answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(answer.body().decode("utf-8-sig"))))
        assert rows[0][0].endswith("日报 / daily report") and rows[1][0] == "类别 / Kind"
        household = next(r for r in rows if r[1] == "household")
        # tickets, served, no-shows: A001 (no-show, back, cancelled), A002 called, A003 cancelled.
        assert household[3:6] == ["3", "0", "0"]
        w2 = next(r for r in rows if r[1] == "w2")
        assert w2[3] == "1"
        printable = page.request.get(hall.console.url + "report/print").text()
        assert 'id="print"' in printable and "户籍办理" in printable
        page.click('button[data-view="report"]')
        expect(page.locator('#report tr[data-key="household"]')).to_contain_text("户籍办理",
                                                                               timeout=12000)
    finally:
        page.close()
