"""A network (MQTT) evaluation pad over a real Mosquitto and the queue engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from line_fixtures import wait_until
from queue_fixtures import FakeClock
from test_queue_engine import Hall, _site

from daemons.queue.service import QueueEngine
from drivers.line.evaluation_pad import PROMPT, PadKey
from drivers.network.pad import NetworkPad
from firmware_config.line import PadPolicy
from firmware_config.site import BrokerConfig
from hall_bus.contract.line import LineDeviceEvent, LineDeviceEventType, LineDeviceState
from hall_bus.topics import Endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)


def test_network_pad_rates_through_the_engine_and_times_out_unrated(
    broker_config: BrokerConfig, tmp_path: Path,
) -> None:
    site = _site(broker_config, tmp_path)
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    pad = NetworkPad(site, "pad-w1", "w1",
                     PadPolicy(reasons=["等候时间长"], timeout_s=1.5, min_interval_s=0))
    hall = Hall(site)
    states: list[LineDeviceState] = []
    events: list[LineDeviceEvent] = []
    endpoint = Endpoint("test-hall", "pad-w1", "pad")
    hall.bus.subscribe_model(endpoint.state, LineDeviceState, lambda _t, s: states.append(s))
    hall.bus.subscribe_model(endpoint.event, LineDeviceEvent, lambda _t, e: events.append(e))
    pad.start(wait=10)
    try:
        hall.ok("login", window_id="w1", staff_id="s001")
        wait_until(lambda: pad.shown == ("张敏 s001", "亮证上岗"), what="idle shows the staff")
        for _ in range(2):
            hall.ok("take_ticket", service_id="household")
        first = hall.ok("call_next", window_id="w1")["ticket"]
        hall.ok("finish", window_id="w1")
        wait_until(lambda: pad.shown[:1] == (PROMPT,), what="prompt")
        wait_until(lambda: any(s.shown[:1] == [PROMPT] for s in states), what="state published")
        pad.press(PadKey.LEVEL_5)  # very dissatisfied: a reason is asked
        rating = pad.press(PadKey.REASON_BASE + 1)
        assert rating is not None and rating.reason == "等候时间长"
        rated = {t["ticket_id"]: t["rating"] for t in hall.tickets()}
        assert rated[first["ticket_id"]] == "very_dissatisfied"

        second = hall.ok("call_next", window_id="w1")["ticket"]
        hall.ok("finish", window_id="w1")
        wait_until(lambda: any(e.type is LineDeviceEventType.RATING_UNRATED for e in events),
                   what="unrated after the timeout")
        unrated = next(e for e in events if e.type is LineDeviceEventType.RATING_UNRATED)
        assert unrated.ticket_id == second["ticket_id"]
    finally:
        hall.bus.stop()
        pad.stop()
        engine.stop()
