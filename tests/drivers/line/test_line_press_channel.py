"""The simulator's press channel on a real Unix socket: malformed requests are refused with a clear
answer and a log line, the channel keeps serving, and a press waits for the device's ACK."""

from __future__ import annotations

import json
import logging
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemons.line.command import _simulate
from drivers.line import commands as rc
from drivers.line.frame import Frame
from drivers.line.press_channel import (
    MAX_LINE_BYTES,
    PressChannel,
    PressChannelServer,
    press_channel_path,
)
from drivers.line.simulator import SimDisplay, SimKeypad
from firmware_config.line import LineConfig, LineDeviceConfig

pytestmark = pytest.mark.integration  # starts real components (conftest.py)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[PressChannelServer, SimKeypad, SimDisplay]]:
    keypad, strip = SimKeypad(2), SimDisplay(1)
    server = PressChannelServer(tmp_path / "line1.press.sock",
                                {"w1-caller": keypad, "w1-strip": strip}).start()
    try:
        yield server, keypad, strip
    finally:
        server.stop()


def _exchange(path: Path, *lines: bytes) -> list[dict[str, Any]]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(5)
        conn.connect(str(path))
        conn.sendall(b"".join(lines))
        conn.shutdown(socket.SHUT_WR)
        with conn.makefile("rb") as replies:
            return [json.loads(raw) for raw in replies]


def test_socket_is_the_owners_only(
    served: tuple[PressChannelServer, SimKeypad, SimDisplay],
) -> None:
    mode = served[0].path.stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600


@pytest.mark.parametrize(
    ("line", "error", "detail"),
    [
        (b"not json\n", "invalid_request", "request"),
        (b'["a list"]\n', "invalid_request", "request"),
        (b'{"id": "a1", "op": "explode", "device": "w1-caller"}\n', "invalid_request", "op"),
        (b'{"id": "a1", "op": "press", "device": "w1-caller", "key": 0}\n',
         "invalid_request", "key"),
        (b'{"id": "a1", "op": "press", "device": "w1-caller", "key": 1, "arg": "\\u5f20"}\n',
         "invalid_request", "arg"),
        (b'{"id": "a b", "op": "screen", "device": "w1-caller"}\n', "invalid_request", "id"),
        (b'{"id": "a1", "op": "screen", "device": "w1-caller", "colour": 1}\n',
         "invalid_request", "colour"),
        (b'{"id": "a1", "op": "screen", "device": "w1-caller", "wait_s": 3600}\n',
         "invalid_request", "wait_s"),
        (b'{"id": "a1", "op": "press", "device": "w9-caller", "key": 1}\n',
         "unknown_device", "w9-caller"),
        (b'{"id": "a1", "op": "press", "device": "w1-strip", "key": 1}\n',
         "not_pressable", "keypad"),
        (b'{"id": "a1", "op": "press", "device": "w1-caller"}\n', "not_pressable", "key"),
    ],
)
def test_malformed_requests_are_refused_and_the_channel_keeps_serving(
    served: tuple[PressChannelServer, SimKeypad, SimDisplay], caplog: pytest.LogCaptureFixture,
    line: bytes, error: str, detail: str,
) -> None:
    server, keypad, _ = served
    good = b'{"id": "ok1", "op": "screen", "device": "w1-caller"}\n'
    with caplog.at_level(logging.WARNING, logger="hall.line.sim.press"):
        refused, answered = _exchange(server.path, line, good)
    assert (refused["ok"], refused["error"]) == (False, error)
    assert detail in refused["detail"]
    assert error in caplog.text
    assert answered == {"id": "ok1", "ok": True, "matched": True, "shown": [], "idle": None}
    assert not keypad.pending and keypad.next_seq == 1  # nothing was pressed
    assert server.rejected == 1


def test_over_long_line_is_refused_and_the_connection_closed(
    served: tuple[PressChannelServer, SimKeypad, SimDisplay],
) -> None:
    server, keypad, _ = served
    answers = _exchange(server.path, b"{" + b" " * MAX_LINE_BYTES + b"}\n",
                        b'{"id": "ok1", "op": "screen", "device": "w1-caller"}\n')
    assert [a["error"] for a in answers] == ["line_too_long"]
    # A new connection is served as usual.
    assert _exchange(server.path, b'{"id": "ok2", "op": "screen", "device": "w1-strip"}\n')[0][
        "ok"]
    assert not keypad.pending


def test_an_id_used_again_for_another_request_is_refused(
    served: tuple[PressChannelServer, SimKeypad, SimDisplay],
) -> None:
    server, keypad, _ = served
    first, second = _exchange(
        server.path,
        b'{"id": "p1", "op": "press", "device": "w1-caller", "key": 1, "wait_s": 0.1}\n',
        b'{"id": "p1", "op": "press", "device": "w1-caller", "key": 3, "wait_s": 0.1}\n')
    assert first["error"] == "no_ack" and second["error"] == "id_reused"
    assert [p.key for p in keypad.pending] == [1]


def test_press_waits_for_its_ack_and_a_second_press_waits_for_the_first(
    served: tuple[PressChannelServer, SimKeypad, SimDisplay],
) -> None:
    server, keypad, _ = served
    channel = PressChannel(server.path)
    unanswered = channel.press("w1-caller", 1, wait_s=0.1)
    assert (unanswered.ok, unanswered.error) == (False, "no_ack")
    # Like a real keypad, the press stays offered on every poll until the line answers it...
    assert keypad.handle(Frame(2, rc.POLL, 9)) == rc.encode_press(rc.Press(1, 1))
    # ...and the same finger does not press again before that.
    busy = channel.press("w1-caller", 3, wait_s=0.1)
    assert (busy.ok, busy.error) == (False, "busy")
    assert [p.seq for p in keypad.pending] == [1]
    keypad.handle(rc.ack(2, 10, 1, 0, rc.Beep.OK, "A001"))
    third = channel.press("w1-caller", 3, wait_s=0.3)
    assert (third.ok, third.error) == (False, "no_ack")  # no line daemon here to answer it
    assert [p.seq for p in keypad.pending] == [2] and keypad.acks[0].text == "A001"


def test_unreachable_channel_is_reported_not_raised(tmp_path: Path) -> None:
    outcome = PressChannel(tmp_path / "absent.sock", resends=1).press("w1-caller", 1, wait_s=0.1)
    assert (outcome.ok, outcome.error) == (False, "channel_unreachable")


def test_simulated_line_command_serves_its_press_channel(tmp_path: Path) -> None:
    line = LineConfig(id="line1", port="sim:line1", devices=[
        LineDeviceConfig(id="w1-caller", profile="caller-hl1", address=2, window="w1")])
    stopping = threading.Event()
    runner = threading.Thread(target=_simulate, args=(line, tmp_path, stopping))
    runner.start()
    path = press_channel_path(line, tmp_path)
    assert path == tmp_path / "line1.press.sock"
    try:
        deadline = time.monotonic() + 5
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        # Pressed on the simulator's keypad; nobody polls it here, so it is not acknowledged.
        outcome = PressChannel(path).press("w1-caller", 1, "", wait_s=0.2)
        assert (outcome.ok, outcome.error) == (False, "no_ack")
        assert (tmp_path / "line1.tty").is_symlink()
    finally:
        stopping.set()
        runner.join(5)
    assert not path.exists()  # removed on a clean stop
