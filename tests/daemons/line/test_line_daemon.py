"""The line daemon over a pty of simulated devices, a real Mosquitto and the queue engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from line_fixtures import SimHall, make_line, wait_until
from mosquitto import Mosquitto
from queue_fixtures import FakeClock
from test_queue_engine import Hall, _site

from daemons.line.daemon import LineDaemon
from daemons.queue.service import QueueEngine
from drivers.line import commands as rc
from drivers.line.caller_keypad import Key, Result
from drivers.line.evaluation_pad import PROMPT, THANKS, PadKey
from firmware_config.site import BrokerConfig
from hall_bus.contract.line import LineDeviceEvent, LineDeviceEventType, LineDeviceState
from hall_bus.topics import Endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)


@pytest.fixture
def rig(broker_config: BrokerConfig, tmp_path: Path) -> Iterator[tuple[Hall, SimHall, LineDaemon]]:
    site = _site(broker_config, tmp_path)
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    config, sim = make_line(tmp_path / "ttyLINE1")
    sim.line.start()
    daemon = LineDaemon(site, config)
    daemon.start(wait=10)
    hall = Hall(site)
    try:
        yield hall, sim, daemon
    finally:
        hall.bus.stop()
        daemon.stop()
        sim.line.stop()
        engine.stop()


def test_call_shows_on_strip_and_hall_screen_then_pad_rating_reaches_engine(
    rig: tuple[Hall, SimHall, LineDaemon],
) -> None:
    hall, sim, _ = rig
    hall.ok("take_ticket", service_id="household")

    sim.caller.press(Key.LOGIN, "s001")
    wait_until(lambda: len(sim.caller.acks) == 1, what="login acknowledged")
    assert sim.caller.acks[0].result == Result.OK
    # Idle pad shows the staff member who logged in (亮证上岗).
    wait_until(lambda: sim.pad.idle == ("s001", "张敏", "s001"), what="pad idle screen")

    sim.caller.press(Key.NEXT)
    wait_until(lambda: sim.strip.shown == ("请A001号到1号窗口",), what="strip shows the call")
    wait_until(lambda: len(sim.caller.acks) == 2, what="next acknowledged")
    assert (sim.caller.acks[1].result, sim.caller.acks[1].text) == (0, "A001")
    wait_until(lambda: "A001→1号窗口" in sim.screen.shown, what="hall screen shows the call")
    assert sim.screen.shown[-1] == "请保管好随身物品"

    sim.caller.press(Key.FINISH)
    wait_until(lambda: sim.pad.shown[:1] == (PROMPT,), what="pad asks for a rating")
    sim.pad.press(PadKey.LEVEL_4)
    wait_until(lambda: sim.pad.shown[:1] == ("请选择不满意的原因",), what="pad asks a reason")
    sim.pad.press(PadKey.REASON_BASE + 2)
    wait_until(lambda: any(a.text == THANKS for a in sim.pad.acks), what="rating acknowledged")
    rated = next(t for t in hall.tickets() if t["number"] == "A001")
    assert rated["rating"] == "dissatisfied"
    rating_event = hall.events.wait_for(lambda e: e.rating is not None)
    assert rating_event.rating is not None and rating_event.rating.reason == "服务态度差"
    wait_until(lambda: sim.pad.idle is not None and sim.pad.shown == (), what="pad back to idle")


def test_vendor_strips_show_calls(rig: tuple[Hall, SimHall, LineDaemon]) -> None:
    hall, sim, _ = rig
    hall.ok("login", window_id="w2", staff_id="s002")
    hall.ok("login", window_id="w3", staff_id="s003")
    hall.ok("take_ticket", service_id="business")
    hall.ok("take_ticket", service_id="tax")
    hall.ok("call_next", window_id="w2")
    hall.ok("call_next", window_id="w3")
    wait_until(lambda: sim.onbon.shown == ("请B001号到2号窗口",), what="Onbon strip")
    wait_until(lambda: sim.aa.shown == ("请C001号到3号窗口",), what="AA strip")


def test_lost_ack_never_calls_twice(rig: tuple[Hall, SimHall, LineDaemon]) -> None:
    hall, sim, _ = rig
    hall.ok("login", window_id="w1", staff_id="s001")
    hall.ok("take_ticket", service_id="household")
    hall.ok("take_ticket", service_id="household")
    sim.caller.drop_acks = 2  # the keypad misses our first two acknowledgements
    sim.caller.press(Key.NEXT)
    wait_until(lambda: len(sim.caller.acks) == 1, what="next acknowledged")
    assert sim.caller.acks[0].text == "A001"
    states = {t["number"]: t["state"] for t in hall.tickets()}
    assert states == {"A001": "called", "A002": "waiting"}


def test_noise_bad_crc_silence_and_unplug(rig: tuple[Hall, SimHall, LineDaemon]) -> None:
    hall, sim, daemon = rig
    seen: list[LineDeviceState] = []
    caller = Endpoint("test-hall", "line1", "w1-caller")
    hall.bus.subscribe_model(caller.state, LineDeviceState, lambda _t, s: seen.append(s))

    sim.caller.faults.silent = True
    wait_until(lambda: any(not s.online for s in seen), what="caller reported offline")
    sim.caller.faults.silent = False
    sim.caller.faults.garbage = b"\xa5\x5a\x02\x81\x00\xff\x13"
    sim.caller.press(Key.LOGIN, "s001")
    wait_until(lambda: len(sim.caller.acks) == 1, what="login through noise")
    # The daemon publishes device states from its loop, after the ACK: wait for it to arrive.
    wait_until(lambda: bool(seen) and seen[-1].online, what="caller reported online again")

    sim.caller.faults.bad_crc = True
    sim.caller.press(Key.PAUSE)
    wait_until(lambda: daemon.reader.bad_crc > 0, what="bad CRC seen")
    assert len(sim.caller.acks) == 1  # a corrupted press is never acted on
    sim.caller.faults.bad_crc = False
    wait_until(lambda: len(sim.caller.acks) == 2, what="pause after the CRC fault cleared")

    closes = daemon.transport.closes
    sim.line.unplug()
    # The count, not `is_open`: a port closed for an instant may be open again by the next look.
    wait_until(lambda: daemon.transport.closes > closes, what="port closed after unplug")
    sim.line.plug()
    wait_until(lambda: daemon.transport.is_open, what="port reopened")
    sim.caller.press(Key.RESUME)
    wait_until(lambda: len(sim.caller.acks) == 3, what="resume after replug")
    hall.states.wait_for(lambda s: any(w.window_id == "w1" and w.mode.value == "idle"
                                       for w in s.windows))


def test_broker_restart_keeps_the_line_working(
    rig: tuple[Hall, SimHall, LineDaemon], mosquitto: Mosquitto,
) -> None:
    hall, sim, daemon = rig
    hall.ok("take_ticket", service_id="household")
    sim.caller.press(Key.LOGIN, "s001")
    wait_until(lambda: len(sim.caller.acks) == 1, what="login")
    mosquitto.restart(forget_state=True)  # retained state gone: the daemon must republish it
    wait_until(lambda: daemon.bus.connected and hall.bus.connected, timeout=15,
               what="both reconnected")
    sim.caller.press(Key.NEXT)
    wait_until(lambda: sim.strip.shown == ("请A001号到1号窗口",), timeout=15,
               what="strip shows a call made after the restart")
    seen: list[LineDeviceState] = []
    hall.bus.subscribe_model(Endpoint("test-hall", "line1", "w1-strip").state, LineDeviceState,
                             lambda _t, s: seen.append(s))
    wait_until(lambda: bool(seen) and seen[-1].shown == ["请A001号到1号窗口"],
               what="retained strip state after the restart")


def test_unanswered_pad_times_out_unrated_and_one_rating_per_ticket(
    rig: tuple[Hall, SimHall, LineDaemon],
) -> None:
    hall, sim, _ = rig
    events: list[LineDeviceEvent] = []
    pad = Endpoint("test-hall", "line1", "w1-pad")
    hall.bus.subscribe_model(pad.event, LineDeviceEvent, lambda _t, e: events.append(e))
    hall.ok("login", window_id="w1", staff_id="s001")
    hall.ok("take_ticket", service_id="household")
    hall.ok("take_ticket", service_id="household")
    first = hall.ok("call_next", window_id="w1")["ticket"]
    hall.ok("finish", window_id="w1")
    wait_until(lambda: sim.pad.shown[:1] == (PROMPT,), what="prompt")
    # Nobody rates: after the 2 s timeout the pad goes idle and the ticket is recorded unrated.
    wait_until(lambda: any(e.type is LineDeviceEventType.RATING_UNRATED for e in events),
               what="unrated event")
    unrated = next(e for e in events if e.type is LineDeviceEventType.RATING_UNRATED)
    assert unrated.ticket_id == first["ticket_id"]
    wait_until(lambda: sim.pad.shown == () and sim.pad.idle is not None, what="idle again")
    sim.pad.press(PadKey.LEVEL_1)  # too late for that ticket: nothing is rated
    wait_until(lambda: not sim.pad.pending, what="press acknowledged")
    assert all(t["rating"] is None for t in hall.tickets())

    second = hall.ok("call_next", window_id="w1")["ticket"]
    hall.ok("finish", window_id="w1")
    wait_until(lambda: sim.pad.shown[:1] == (PROMPT,), what="prompt for the second ticket")
    sim.pad.press(PadKey.LEVEL_1)
    wait_until(lambda: any(a.text == THANKS for a in sim.pad.acks), what="rated")
    rated = {t["ticket_id"]: t["rating"] for t in hall.tickets()}
    assert rated == {first["ticket_id"]: None, second["ticket_id"]: "very_satisfied"}


def test_what_a_display_cannot_show_is_reported(
    broker_config: BrokerConfig, tmp_path: Path,
) -> None:
    site = _site(broker_config, tmp_path)
    config, sim = make_line(tmp_path / "ttyLINE1")
    config = config.model_copy(update={"notice": "请𠮷先生到服务台"})  # 𠮷 is not in GBK
    sim.line.start()
    daemon = LineDaemon(site, config)
    hall = Hall(site)
    states: list[LineDeviceState] = []
    screen = Endpoint("test-hall", "line1", "hall-screen")
    hall.bus.subscribe_model(screen.state, LineDeviceState, lambda _t, s: states.append(s))
    daemon.start(wait=10)
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    try:
        wait_until(lambda: any(s.problems for s in states), what="problem reported")
        problem = next(s for s in states if s.problems).problems[0]
        assert "not in GBK" in problem and "𠮷" in problem
        wait_until(lambda: sim.screen.shown[-1:] == ("请?先生到服务台",), what="shown with ?")
    finally:
        hall.bus.stop()
        daemon.stop()
        sim.line.stop()
        engine.stop()


def test_a_press_is_executed_once_across_a_daemon_restart(
    rig: tuple[Hall, SimHall, LineDaemon], tmp_path: Path,
) -> None:
    hall, sim, daemon = rig
    hall.ok("login", window_id="w1", staff_id="s001")
    for _ in range(2):
        hall.ok("take_ticket", service_id="household")
    sim.caller.drop_acks = 1000  # every ACK is lost: the keypad keeps repeating its press
    sim.caller.press(Key.NEXT)
    wait_until(lambda: any(t["state"] == "called" for t in hall.tickets()), what="called once")
    daemon.stop()  # dies before the keypad ever heard back
    restarted = LineDaemon(daemon.site, daemon.line)
    restarted.start(wait=10)
    try:
        sim.caller.drop_acks = 0
        wait_until(lambda: len(sim.caller.acks) == 1, what="stored ACK sent after the restart")
        assert sim.caller.acks[0].text == "A001"
        states = {t["number"]: t["state"] for t in hall.tickets()}
        assert states == {"A001": "called", "A002": "waiting"}
        assert (tmp_path / "line-line1-presses.json").is_file()
    finally:
        restarted.stop()


def test_a_calls_strip_goes_first_and_only_a_prompting_pad_is_polled_every_cycle(
    rig: tuple[Hall, SimHall, LineDaemon],
) -> None:
    hall, sim, daemon = rig
    hall.ok("take_ticket", service_id="household")
    hall.ok("take_ticket", service_id="household")
    sim.caller.press(Key.LOGIN, "s001")
    sim.caller.press(Key.NEXT)
    wait_until(lambda: sim.strip.shown == ("请A001号到1号窗口",), what="first call shown")
    wait_until(lambda: len(sim.caller.acks) == 2, what="login and next acknowledged")
    caller, pad = daemon.by_address[2], daemon.by_address[3]
    callers_before, pads_before = caller.polls, pad.polls
    wait_until(lambda: caller.polls >= callers_before + 12, what="a dozen keypad polls")
    # Idle: the pad is asked once every idle_pad_poll_every (4) cycles.
    assert pad.polls - pads_before <= (caller.polls - callers_before) // 4 + 1

    daemon.written.clear()
    daemon.record_writes = True
    sim.caller.press(Key.NEXT)  # finishes A001 (its pad prompts) and calls A002
    wait_until(lambda: sim.strip.shown == ("请A002号到1号窗口",), what="second call shown")
    wait_until(lambda: sim.pad.shown[:1] == (PROMPT,), what="pad prompts")

    def shows() -> list[int]:  # addresses of the display frames written since the press
        return [data[2] for _, data in list(daemon.written) if data[3] == rc.SHOW]

    wait_until(lambda: {sim.pad.address, sim.screen.address} <= set(shows()),
               what="pad prompt and hall screen written")
    assert shows()[0] == sim.strip.address  # before the pad's prompt and the hall screen
    # Written is not yet read: the simulated screen takes the frame on its own thread.
    wait_until(lambda: "A002→1号窗口" in sim.screen.shown, what="hall screen shows the call")

    callers_before, pads_before = caller.polls, pad.polls
    wait_until(lambda: caller.polls >= callers_before + 5, what="keypad polls while prompting")
    assert pad.polls - pads_before >= caller.polls - callers_before - 1
