"""Network (MQTT) LED screens over a real Mosquitto and the queue engine: a call shows on them."""

from __future__ import annotations

from pathlib import Path

import pytest
from line_fixtures import wait_until
from PIL import Image
from queue_fixtures import FakeClock
from test_queue_engine import Hall, _site

from daemons.queue.service import QueueEngine
from drivers.led import window_strip as led_strip
from drivers.led.render import LIT
from drivers.led.text import Effect
from drivers.network.screen import NetworkScreen
from firmware_config.site import BrokerConfig
from hall_bus.contract.line import (
    LineDeviceEvent,
    LineDeviceEventType,
    LineDeviceKind,
    LineDeviceState,
)
from hall_bus.topics import Endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)


def _lit(path: Path) -> int:
    """Pixels of lit LEDs in a rendered picture."""
    colours = Image.open(path).convert("RGB").getcolors(1 << 24) or []
    return sum(count for count, colour in colours if colour == LIT)


def test_a_call_shows_on_network_screens_and_their_state(
    broker_config: BrokerConfig, tmp_path: Path,
) -> None:
    site = _site(broker_config, tmp_path)
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    hall = Hall(site)
    screen = NetworkScreen(site, "screen-hall", notice="请保管好随身物品")
    strip = NetworkScreen(site, "screen-w1", window_id="w1", can_flash=True)
    states: list[LineDeviceState] = []
    hall.bus.subscribe_model(Endpoint("test-hall", "screen-w1", "screen").state, LineDeviceState,
                             lambda _t, s: states.append(s))
    screen.start(wait=10)
    strip.start(wait=10)
    try:
        hall.ok("login", window_id="w1", staff_id="s001")
        idle = led_strip.idle_text(1, site.windows[0].name_zh, paused=False, closed=False)
        wait_until(lambda: strip.shown == (idle,), what="strip shows its idle window")
        blank = strip.render_png(tmp_path / "idle.png")
        hall.ok("take_ticket", service_id="household")
        hall.ok("take_ticket", service_id="household")
        first = hall.ok("call_next", window_id="w1")["ticket"]
        assert first["number"] == "A001"
        wait_until(lambda: strip.shown == ("请A001号到1号窗口",), what="strip shows the call")
        wait_until(lambda: "A001→1号窗口" in screen.shown, what="hall screen lists the call")
        wait_until(lambda: "等候: A1" in screen.shown, what="hall screen shows who waits")
        assert screen.shown[-1] == "请保管好随身物品"
        wait_until(lambda: any(s.shown == ["请A001号到1号窗口"] for s in states),
                   what="retained state carries what the strip shows")
        assert states[-1].kind is LineDeviceKind.WINDOW_STRIP and states[-1].window_id == "w1"

        picture = strip.render_png(tmp_path / "call.png")
        assert _lit(picture) > 0 and _lit(picture) != _lit(blank)
        view = strip.terminal_view()
        assert "请A001号到1号窗口" in view and view.count("+") == 4

        hall.ok("recall", window_id="w1")
        wait_until(lambda: strip.effect is Effect.FLASH, what="a recall flashes")
        hall.ok("finish", window_id="w1")
        hall.ok("call_next", window_id="w1")
        wait_until(lambda: screen.shown[:2] == ("A002→1号窗口", "A001→1号窗口"),
                   what="newest call on top")
    finally:
        hall.bus.stop()
        strip.stop()
        screen.stop()
        engine.stop()


def test_text_a_screen_cannot_show_is_reported_and_a_late_screen_catches_up(
    broker_config: BrokerConfig, tmp_path: Path,
) -> None:
    site = _site(broker_config, tmp_path)
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    hall = Hall(site)
    events: list[LineDeviceEvent] = []
    hall.bus.subscribe_model(Endpoint("test-hall", "tiny", "screen").event, LineDeviceEvent,
                             lambda _t, e: events.append(e))
    try:
        hall.ok("login", window_id="w1", staff_id="s001")
        hall.ok("take_ticket", service_id="household")
        hall.ok("call_next", window_id="w1")
        # The engine publishes its summary after answering, at most every 0.2 s: start the
        # screen once the retained state holds the call, which the screen must then show.
        hall.states.wait_for(lambda s: any(w.window_id == "w1" and w.current_ticket == "A001"
                                           for w in s.windows), timeout=15)
        # Started after the call: the retained queue state shows it the call being served.
        tiny = NetworkScreen(site, "tiny", window_id="w1", columns=8, can_scroll=False)
        tiny.start(wait=10)
        try:
            wait_until(lambda: tiny.shown != (), what="late strip caught up")
            assert "请A001号到1号窗口".startswith(tiny.shown[0])
            wait_until(lambda: any(e.type is LineDeviceEventType.DISPLAY_PROBLEM for e in events),
                       what="overflow reported")
            assert tiny.problems
        finally:
            tiny.stop()
    finally:
        hall.bus.stop()
        engine.stop()
