"""The console in headless Chromium against a running hall (real Mosquitto, the queue engine):
log in, a call on the bus appears on the floor map within a second, a supervision alert is
acknowledged in the feed, a window is paused by a click and the engine says so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from bus_helpers import Collector
from console_fixtures import MANAGER, ConsoleHall, browser, console_hall, log_in
from mosquitto import Mosquitto
from playwright.sync_api import expect

from hall_bus.contract import (
    CameraEvent,
    CameraEventType,
    QueueEvent,
    QueueEventType,
    QueueSummaryState,
)
from hall_bus.ids import utc_now
from hall_bus.topics import Endpoint, camera_endpoint, queue_endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

__all__ = ["browser", "console_hall"]  # fixtures


def _window_mode(states: Collector[QueueSummaryState], window_id: str, mode: str) -> None:
    states.wait_for(lambda s: any(w.window_id == window_id and w.mode.value == mode
                                  for w in s.windows), timeout=5)


def test_call_appears_on_the_floor_map_alert_acknowledged_window_paused(
    console_hall: ConsoleHall, browser: Any
) -> None:
    hall = console_hall
    endpoint = queue_endpoint(hall.site.hall_id)
    states: Collector[QueueSummaryState] = Collector()
    events: Collector[QueueEvent] = Collector()
    hall.bus.subscribe_model(endpoint.state, QueueSummaryState, states.add)
    hall.bus.subscribe_model(endpoint.event, QueueEvent, events.add)
    hall.ask("login", window_id="w1", staff_id="s001")
    hall.ask("take_ticket", service_id="household")

    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    try:
        log_in(page, hall)
        card = page.locator('[data-window="w1"]')
        expect(card).to_have_attribute("data-mode", "idle", timeout=5000)
        expect(card.locator(".staff")).to_have_text("张敏")

        # The call shows on the floor map, pushed by the server (how fast: bench/console_bench.py).
        hall.ask("call_next", window_id="w1")
        expect(card.locator(".ticket")).to_have_text("A001", timeout=10_000)
        expect(card).to_have_attribute("data-mode", "calling")

        # A camera sees the seat empty: the engine raises staff_absent; the manager acknowledges.
        absence = CameraEvent(
            type=CameraEventType.ABSENCE_STARTED, camera="cam1", window_id="w1",
            absent_since=utc_now() - timedelta(minutes=6), absent_s=360, grace_s=300,
            message="1号窗口座位无人 / seat of window 1 empty",
        )
        hall.bus.publish(camera_endpoint(hall.site.hall_id, "cam1").event, absence)
        alert_item = page.locator("#alerts li[data-alert]")
        expect(alert_item).to_have_count(1, timeout=5000)
        expect(alert_item).to_contain_text("离岗")
        alert_id = alert_item.get_attribute("data-alert")
        alert_item.locator("button.ack").click()
        expect(page.locator("#alerts li[data-alert]")).to_have_count(0, timeout=3000)
        expect(page.locator("#feed")).to_contain_text(f"已确认 / acknowledged: {MANAGER}")
        [record] = hall.ask("list_alerts")["alerts"]
        assert record["alert"]["alert_id"] == alert_id
        assert record["acknowledged_by"] == MANAGER

        # Pause by a click: only an idle window offers it (the engine refuses a busy one).
        hall.ask("finish", window_id="w1")
        pause = card.locator("button.pause")
        expect(pause).to_be_visible(timeout=3000)
        pause.click()
        _window_mode(states, "w1", "paused")
        paused = events.wait_for(lambda e: e.type is QueueEventType.WINDOW_PAUSED)
        assert paused.actor == MANAGER
        expect(card).to_have_attribute("data-mode", "paused", timeout=2000)
        expect(page.locator("#feed")).to_contain_text(f"({MANAGER})")
        card.locator("button.resume").click()
        _window_mode(states, "w1", "idle")
        # Every view renders under the content policy without a script error.
        for view in ("ratings", "devices", "charts", "screens", "report", "actions", "floor"):
            page.click(f'button[data-view="{view}"]')
        page.goto(hall.console.url + "report/print")
        expect(page.locator("#print")).to_be_visible()
        assert errors == []
    finally:
        page.close()


def test_wrong_password_is_refused_and_repeated_failures_lock_the_login(
    console_hall: ConsoleHall, browser: Any, caplog: pytest.LogCaptureFixture
) -> None:
    page = browser.new_page()
    try:
        # An ID number typed as the login is refused like any unknown login, and logged masked.
        page.goto(console_hall.console.url)
        page.fill("#login", "110101199003074578")
        page.fill("#password", "whatever")
        page.click("#login-button")
        expect(page.locator(".error")).to_contain_text("用户名或密码错误")
        assert "110101199003074578" not in caplog.text and "1101**********4578" in caplog.text
        for _ in range(2):  # with the one above, three failures from this address
            log_in(page, console_hall, password="wrong")
            expect(page.locator(".error")).to_contain_text("用户名或密码错误")
        # Locked now: even the right password is refused until the lock runs out.
        log_in(page, console_hall)
        expect(page.locator(".error")).to_contain_text("登录尝试过多")
        assert page.url.endswith("/login")
    finally:
        page.close()


def test_console_survives_a_broker_restart_and_garbage_and_logs_out(
    console_hall: ConsoleHall, browser: Any, mosquitto: Mosquitto
) -> None:
    hall = console_hall
    root = queue_endpoint(hall.site.hall_id)
    hall.ask("login", window_id="w2", staff_id="s002")
    page = browser.new_page()
    try:
        log_in(page, hall)
        card = page.locator('[data-window="w2"]')
        expect(card).to_have_attribute("data-mode", "idle", timeout=5000)
        # Malformed payloads on the topics the console reads are logged and dropped.
        hall.bus.publish(root.state, b"{not json", retain=False)
        hall.bus.publish(root.event, b'{"type": "ticket_called", "ticket": 5}')
        hall.bus.publish(Endpoint(hall.site.hall_id, "line1", "w2-strip").state, b"[]")
        hall.bus.publish(Endpoint(hall.site.hall_id, "line1").status, b"maybe")
        mosquitto.restart()
        hall.bus.wait_connected(10)
        hall.console.bus.wait_connected(10)
        hall.engine.bus.wait_connected(10)
        hall.ask("take_ticket", service_id="business")
        hall.ask("call_next", window_id="w2")
        expect(card.locator(".ticket")).to_have_text("B001", timeout=10000)

        page.click("#logout")
        expect(page.locator("#login-button")).to_be_visible()
        answer = page.request.get(hall.console.url + "api/section/queue")
        assert answer.status == 401
        refused = page.request.post(hall.console.url + "api/action/pause",
                                    data='{"window_id": "w2"}',
                                    headers={"Content-Type": "application/json"})
        assert refused.status == 401
    finally:
        page.close()


def test_actions_need_the_pages_csrf_token_and_origin(
    console_hall: ConsoleHall, browser: Any
) -> None:
    hall = console_hall
    hall.ask("login", window_id="w2", staff_id="s002")
    page = browser.new_page()
    try:
        log_in(page, hall)
        expect(page.locator('[data-window="w2"]')).to_be_visible(timeout=5000)
        url = hall.console.url + "api/action/pause"
        body = '{"window_id": "w2"}'
        no_token = page.request.post(url, data=body,
                                     headers={"Content-Type": "application/json"})
        assert no_token.status == 403
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        foreign = page.request.post(url, data=body, headers={
            "Content-Type": "application/json", "X-CSRF-Token": token,
            "Origin": "http://evil.example"})
        assert foreign.status == 403
        ok = page.request.post(url, data=body, headers={
            "Content-Type": "application/json", "X-CSRF-Token": token})
        assert ok.status == 200, ok.text()
        assert hall.ask("resume", window_id="w2")["window"]["mode"] == "idle"
    finally:
        page.close()
