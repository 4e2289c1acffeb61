"""The floor map shows a window absent while the engine's staff_absent alert for it stands, also
where no camera publishes that window's seat: until a manager acknowledges the alert or the staff
are evidently back (the window called someone since)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from console_fixtures import ConsoleHall, browser, console_hall, log_in
from playwright.sync_api import expect

from hall_bus.contract import CameraEvent, CameraEventType
from hall_bus.ids import utc_now
from hall_bus.topics import camera_endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

__all__ = ["browser", "console_hall"]  # fixtures

ABSENT = "离岗 / absent"


def _report_absence(hall: ConsoleHall, window_id: str) -> None:
    """What a camera on the waiting area would send; no seat state for the window is published,
    so the console knows of the absence only through the engine's alert."""
    event = CameraEvent(
        type=CameraEventType.ABSENCE_STARTED, camera="cam1", window_id=window_id,
        absent_since=utc_now() - timedelta(minutes=6), absent_s=360, grace_s=300,
        message=f"{window_id}座位无人 / seat empty",
    )
    hall.bus.publish(camera_endpoint(hall.site.hall_id, "cam1").event, event)


def test_open_absence_alert_marks_the_window_absent_until_resolved(
    console_hall: ConsoleHall, browser: Any
) -> None:
    hall = console_hall
    hall.ask("login", window_id="w1", staff_id="s001")
    hall.ask("login", window_id="w2", staff_id="s002")
    hall.ask("take_ticket", service_id="household")
    page = browser.new_page()
    try:
        log_in(page, hall)
        w1, w2 = page.locator('[data-window="w1"]'), page.locator('[data-window="w2"]')
        expect(w1).to_have_attribute("data-mode", "idle", timeout=5000)
        expect(w1.locator(".mode")).to_have_text("空闲 / idle")

        _report_absence(hall, "w1")
        expect(w1.locator(".mode")).to_have_text(ABSENT, timeout=5000)
        expect(w1).to_have_class("window mode-absent")
        expect(w2.locator(".mode")).to_have_text("空闲 / idle")
        assert hall.ask("list_alerts")["alerts"][0]["alert"]["window_id"] == "w1"

        # The staff member is back and calls the next citizen: the alert no longer says absent.
        hall.ask("call_next", window_id="w1")
        expect(w1.locator(".mode")).to_have_text("呼叫中 / calling", timeout=3000)
        expect(w1).to_have_class("window mode-calling")

        _report_absence(hall, "w2")
        expect(w2.locator(".mode")).to_have_text(ABSENT, timeout=5000)
        page.reload()  # a page opened later learns it from the engine's list of alerts
        expect(w2.locator(".mode")).to_have_text(ABSENT, timeout=5000)
        expect(w1.locator(".mode")).to_have_text("呼叫中 / calling")

        # A manager acknowledges it (they dealt with it): the map stops saying absent.
        page.locator("#alerts li[data-alert]", has_text="2号窗口").locator("button.ack").click()
        expect(w2.locator(".mode")).to_have_text("空闲 / idle", timeout=3000)
    finally:
        page.close()
