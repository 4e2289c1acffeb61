"""The demo's window desks over a simulated line: staff and citizens act only by pressing the
simulated caller keypad and pad through the press channel; the line daemon reads the presses off
the pty and asks a real queue engine over a real Mosquitto."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from line_fixtures import wait_until
from queue_fixtures import FakeClock
from test_queue_engine import Hall, _site

from daemons.line.daemon import LineDaemon
from daemons.queue.service import QueueEngine
from demo.window_desk import KeypadDesk, PressLog, QueueView, build_desks
from drivers.line.caller_keypad import Key
from drivers.line.evaluation_pad import THANKS
from drivers.line.press_channel import PressChannel, PressChannelServer, press_channel_path
from drivers.line.simulator import SimDisplay, SimKeypad, SimulatedLine, simulate_line
from firmware_config.line import LineConfig, LineDeviceConfig, PadPolicy
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus.contract import RatingLevel, Response
from hall_bus.contract.line import LineDeviceEvent, LineDeviceEventType, LineDeviceState
from hall_bus.topics import Endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

# The demo site's reasons: too long for the pad's second line, so the reason screen scrolls.
REASONS = ["等候时间长", "服务态度差", "办事效率低", "一次性告知不到位"]


@dataclass
class Rig:
    hall: Hall
    site: SiteConfig
    sim: SimulatedLine
    devices: dict[str, Any]
    channel_path: Path
    direct_requests: list[str]
    presses: PressLog
    desk: KeypadDesk
    caller_events: list[LineDeviceEvent]
    pad_screens: list[list[str]]


def _line() -> LineConfig:
    # A line the demo would simulate: `sim:` port, so the desk finds its press channel by itself.
    return LineConfig(
        id="line1", port="sim:line1", baud=9600,
        pad=PadPolicy(reasons=REASONS, timeout_s=5, min_interval_s=0.3),
        devices=[
            LineDeviceConfig(id="w1-strip", profile="strip-hl1-32x1", address=1, window="w1"),
            LineDeviceConfig(id="w1-caller", profile="caller-hl1", address=2, window="w1"),
            LineDeviceConfig(id="w1-pad", profile="pad-hl1", address=3, window="w1"),
        ],
    )


@pytest.fixture
def rig(broker_config: BrokerConfig, tmp_path: Path) -> Iterator[Rig]:
    line = _line()
    site = _site(broker_config, tmp_path).model_copy(update={"lines": [line]})
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    sim, devices = simulate_line(line, tmp_path)
    sim.start()
    channel_path = press_channel_path(line, tmp_path)
    assert channel_path is not None
    channel = PressChannelServer(channel_path, devices).start()
    daemon = LineDaemon(site, line)
    daemon.start(wait=10)
    hall = Hall(site)
    caller_events: list[LineDeviceEvent] = []
    hall.bus.subscribe_model(Endpoint("test-hall", "line1", "w1-caller").event, LineDeviceEvent,
                             lambda _t, ev: caller_events.append(ev))
    pad_screens: list[list[str]] = []
    hall.bus.subscribe_model(Endpoint("test-hall", "line1", "w1-pad").state, LineDeviceState,
                             lambda _t, st: pad_screens.append(st.shown))
    direct_requests: list[str] = []

    def direct(action: str, **_fields: object) -> Response | None:
        direct_requests.append(action)  # the test fails if a keypad action ends up here
        return None

    presses = PressLog()
    desk = build_desks(site, direct, QueueView(hall.bus, site.hall_id), presses)["w1"]
    assert isinstance(desk, KeypadDesk)
    try:
        yield Rig(hall, site, sim, devices, channel_path, direct_requests, presses, desk,
                  caller_events, pad_screens)
    finally:
        hall.bus.stop()
        daemon.stop()
        channel.stop()
        sim.stop()
        engine.stop()


def test_login_next_finish_and_pad_rating_only_by_presses(rig: Rig) -> None:
    hall, caller, pad, strip = (rig.hall, rig.devices["w1-caller"], rig.devices["w1-pad"],
                                rig.devices["w1-strip"])
    assert isinstance(caller, SimKeypad) and isinstance(pad, SimKeypad)
    assert isinstance(strip, SimDisplay)
    hall.ok("take_ticket", service_id="household")  # at the kiosk: an engine request

    assert rig.desk.act("login", staff_id="s001").ok
    called = rig.desk.act("call_next")
    assert called.ok and called.ticket is not None
    ticket = next(t for t in hall.tickets() if t["number"] == "A001")
    # What the traffic knows about the call it read from the retained queue state.
    assert (called.ticket.number, called.ticket.ticket_id, called.ticket.service_id) == (
        "A001", ticket["ticket_id"], "household")
    wait_until(lambda: strip.shown == ("请A001号到1号窗口",), what="strip shows the call")
    assert rig.desk.act("finish").ok
    assert rig.desk.rate(called.ticket, RatingLevel.DISSATISFIED, reason=1)

    rated = next(t for t in hall.tickets() if t["number"] == "A001")
    assert (rated["state"], rated["rating"]) == ("done", "dissatisfied")
    rating_event = hall.events.wait_for(lambda e: e.rating is not None)
    assert rating_event.rating is not None and rating_event.rating.reason == "服务态度差"
    # The reason screen scrolled on one line (what the pad's state on the bus showed).
    assert any(shown[:1] and shown[0].startswith("请选择不满意的原因 1.等候时间长")
               for shown in rig.pad_screens)
    # Every step went over the wire: the keypad saw three acknowledgements (OK, the number
    # called, OK), the pad two (the level, then the reason with the thanks), the line daemon
    # reported the keys, and nothing went to the engine directly.
    assert [a.text for a in caller.acks] == ["OK", "A001", "OK"]
    assert [a.result for a in pad.acks] == [0, 0] and pad.acks[-1].text == THANKS
    wait_until(lambda: len(rig.caller_events) == 3, what="key events")
    assert [(e.type, e.action, e.result) for e in rig.caller_events] == [
        (LineDeviceEventType.KEY_PRESSED, "login", 0),
        (LineDeviceEventType.KEY_PRESSED, "call_next", 0),
        (LineDeviceEventType.KEY_PRESSED, "finish", 0),
    ]
    assert rig.direct_requests == []
    report = rig.presses.report()
    assert (report["sent"], report["failed"]) == (5, 0)
    assert report["by_action"] == {"login": 1, "call_next": 1, "finish": 1, "rate": 1,
                                   "rate_reason": 1}
    assert 0 < report["ack_ms_p50"] <= report["ack_ms_p99"]
    assert report["pad_ratings_missed"] == {}


def test_citizen_does_not_rate_when_the_pad_asks_about_the_next_ticket(rig: Rig) -> None:
    hall, pad = rig.hall, rig.devices["w1-pad"]
    assert isinstance(pad, SimKeypad)
    hall.ok("take_ticket", service_id="household")
    hall.ok("take_ticket", service_id="household")
    assert rig.desk.act("login", staff_id="s001").ok
    first = rig.desk.act("call_next").ticket
    assert first is not None and rig.desk.act("finish").ok
    second = rig.desk.act("call_next").ticket
    assert second is not None and rig.desk.act("finish").ok
    wait_until(lambda: pad.shown[1:] == ("A002 号",), what="pad asks about A002")

    assert not rig.desk.rate(first, RatingLevel.VERY_SATISFIED, reason=0)
    assert rig.presses.report()["pad_ratings_missed"] == {"prompt_for_another_ticket": 1}
    assert pad.acks == []  # the citizen pressed nothing
    assert rig.desk.rate(second, RatingLevel.SATISFIED, reason=0)
    ratings = {t["number"]: t["rating"] for t in hall.tickets()}
    assert ratings == {"A001": None, "A002": "satisfied"}


def test_keypad_errors_reach_the_traffic_and_nobody_waiting_is_no_call(rig: Rig) -> None:
    closed = rig.desk.act("call_next")  # nobody logged in: the keypad shows E2
    assert (closed.ok, closed.error) == (False, "window_closed")
    assert rig.desk.act("login", staff_id="s001").ok
    nobody = rig.desk.act("call_next")  # logged in, nobody waiting: E1, not a failure
    assert (nobody.ok, nobody.ticket) == (True, None)
    caller = rig.devices["w1-caller"]
    assert [a.text for a in caller.acks] == ["E2 未登录", "OK", "E1 无人等候"]
    assert rig.direct_requests == []


def test_resent_press_request_is_pressed_and_executed_once(rig: Rig) -> None:
    hall, caller = rig.hall, rig.devices["w1-caller"]
    assert isinstance(caller, SimKeypad)
    hall.ok("login", window_id="w1", staff_id="s001")
    hall.ok("take_ticket", service_id="household")
    hall.ok("take_ticket", service_id="household")
    caller.drop_acks = 1  # and the keypad misses the line's first acknowledgement
    channel = PressChannel(rig.channel_path)
    request = {"id": "staff-w1-7", "op": "press", "device": "w1-caller", "key": int(Key.NEXT),
               "arg": "", "wait_s": 8}
    answers: list[dict[str, Any]] = []
    # The same request twice at once (a client that gave up on a slow connection and resent).
    threads = [threading.Thread(target=lambda: answers.append(channel.call(request, 8)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    answers.append(channel.call(request, 8))  # and once more after it was answered
    assert len(answers) == 3
    assert all(a["ok"] and a["text"] == "A001" for a in answers)
    assert len({a["seq"] for a in answers}) == 1
    assert len(caller.acks) == 1 and not caller.pending
    states = {t["number"]: t["state"] for t in hall.tickets()}
    assert states == {"A001": "called", "A002": "waiting"}
