"""Line devices on their own: what each asks its daemon to do, with no port, bus or thread."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from line_fixtures import make_line
from queue_fixtures import make_site

from daemons.line.devices import CallerKeypad, EvaluationPad, WindowStrip, build_devices
from daemons.line.devices.effects import (
    AskEngine,
    Effect,
    PublishEvent,
    RememberPress,
    StateChanged,
    Write,
)
from daemons.line.scheduler import Lane
from drivers.line import commands as rc
from drivers.line.caller_keypad import Key, Result
from drivers.line.evaluation_pad import PadKey
from drivers.line.frame import Frame, FrameReader
from hall_bus.contract import QueueEvent, QueueEventType, Response, TicketState, TicketView
from hall_bus.contract.line import LineDeviceEventType


def _devices(tmp_path: Path) -> dict[str, object]:
    config, _ = make_line(tmp_path / "ttyLINE")
    return {device.config.id: device for device in build_devices(make_site(), config)}


def _frame(effect: Effect, seq: int = 7) -> Frame:
    assert isinstance(effect, Write)
    frames = FrameReader().feed(effect.job.build(seq))
    assert len(frames) == 1
    return frames[0]


def _ticket(ticket_id: str, number: str, state: TicketState) -> TicketView:
    now = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    return TicketView(ticket_id=ticket_id, number=number, business_day="2026-12-07",
                      service_id="household", service_name="户籍", priority_class="normal",
                      state=state, issued_at=now, queued_at=now, window_id="w1")


def _press(address: int, seq: int, key: Key, arg: str = "") -> Frame:
    payload = rc.encode_press(rc.Press(seq, key, arg))
    return Frame(address | 0x80, rc.POLL | 0x80, 1, payload)


def test_one_module_per_device_type(tmp_path: Path) -> None:
    devices = _devices(tmp_path)
    assert isinstance(devices["w1-strip"], WindowStrip)
    assert isinstance(devices["w1-caller"], CallerKeypad)
    assert isinstance(devices["w1-pad"], EvaluationPad)
    assert {type(d).__name__ for d in devices.values()} == {
        "WindowStrip", "CallerKeypad", "EvaluationPad", "HallScreenDevice"}


def test_a_call_is_one_strip_frame_in_the_call_lane(tmp_path: Path) -> None:
    strip = _devices(tmp_path)["w1-strip"]
    assert isinstance(strip, WindowStrip)
    ticket = _ticket("t1", "A001", TicketState.CALLED)
    effects = strip.on_called(ticket)
    writes = [e for e in effects if isinstance(e, Write)]
    assert len(writes) == 1 and writes[0].lane is Lane.CALL
    frame = _frame(writes[0])
    assert (frame.addr, frame.cmd) == (1, rc.SHOW)
    assert "请A001号到1号窗口".encode("gbk") in frame.payload
    assert any(isinstance(e, StateChanged) for e in effects)
    # The same call again (its event after the keypad's answer) asks for nothing.
    assert strip.on_called(ticket) == []


def test_a_keypad_press_is_remembered_before_it_is_asked_and_acked_once(tmp_path: Path) -> None:
    caller = _devices(tmp_path)["w1-caller"]
    assert isinstance(caller, CallerKeypad)
    effects = caller.on_poll_reply(_press(2, 5, Key.NEXT))
    assert [type(e) for e in effects] == [RememberPress, AskEngine]
    ask = effects[1]
    assert isinstance(ask, AskEngine)
    assert (ask.action, ask.fields) == ("call_next", {"window_id": "w1"})
    assert caller.record is not None and caller.record.request_id == ask.request_id
    # The keypad repeats its press while the engine thinks: nothing is asked twice.
    assert caller.on_poll_reply(_press(2, 5, Key.NEXT)) == []
    # No answer at all: the keypad is told the engine is unreachable, beeping an error.
    answered = ask.answered(None)
    ack = next(e for e in answered if isinstance(e, Write))
    assert rc.decode_ack(_frame(ack)).result == Result.UNREACHABLE
    assert any(isinstance(e, PublishEvent) and e.type is LineDeviceEventType.KEY_PRESSED
               for e in answered)
    # The ACK got lost and the keypad repeats: the stored ACK again, never a second request.
    again = caller.on_poll_reply(_press(2, 5, Key.NEXT))
    assert [type(e) for e in again] == [Write]
    assert rc.decode_ack(_frame(again[0])).result == Result.UNREACHABLE


def test_a_pad_rating_is_acked_only_once_the_engine_has_it(tmp_path: Path) -> None:
    pad = _devices(tmp_path)["w1-pad"]
    assert isinstance(pad, EvaluationPad)
    ticket = _ticket("t9", "A009", TicketState.DONE)
    prompt = pad.on_queue_event(QueueEvent(type=QueueEventType.TICKET_FINISHED,
                                           business_day="2026-12-07", ticket=ticket))
    assert any(isinstance(e, Write) and e.lane is Lane.URGENT for e in prompt)
    effects = pad.on_poll_reply(_press(3, 1, PadKey.LEVEL_1))
    ask = next(e for e in effects if isinstance(e, AskEngine))
    assert ask.action == "rate" and ask.fields["ticket_id"] == "t9"
    assert not any(isinstance(e, Write) for e in effects)  # no ACK before the engine answers
    done = ask.answered(Response.ok(ask.request_id, {}))
    acks = [rc.decode_ack(_frame(e)) for e in done
            if isinstance(e, Write) and _frame(e).cmd == rc.ACK]
    assert [(a.press_seq, a.result) for a in acks] == [(1, 0)]
    given = next(e for e in done if isinstance(e, PublishEvent))
    assert given.type is LineDeviceEventType.RATING_GIVEN and given.fields["detail"] is None
    # And the frame that puts the pad back to its idle screen.
    assert any(isinstance(e, Write) and _frame(e).cmd == rc.IDLE for e in done)
