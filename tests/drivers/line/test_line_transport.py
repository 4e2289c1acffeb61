"""Line transports: a TCP serial server (socket://) and failures that must raise LineError."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.line import commands as rc
from drivers.line.caller_keypad import Key
from drivers.line.frame import FrameReader, encode
from drivers.line.simulator import SimKeypad
from drivers.line.transport import LineError, LineSettings, LineTransport

pytestmark = pytest.mark.integration  # starts real components (conftest.py)


@pytest.fixture
def serial_server() -> Iterator[tuple[int, SimKeypad]]:
    """A serial server on TCP with one keypad behind it, answering like the pty simulator."""
    keypad = SimKeypad(7)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            reader = FrameReader()
            with conn:
                while data := conn.recv(1024):
                    for frame in reader.feed(data):
                        reply = keypad.handle(frame)
                        if reply is not None:
                            conn.sendall(encode(frame.reply(reply)))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port, keypad


def test_poll_and_ack_over_a_tcp_serial_server(serial_server: tuple[int, SimKeypad]) -> None:
    port, keypad = serial_server
    keypad.press(Key.NEXT)
    transport = LineTransport(LineSettings(f"socket://127.0.0.1:{port}", pace=False))
    transport.open()
    try:
        transport.write(encode(rc.poll(7, 1)))
        reader = FrameReader()
        frames = []
        while not frames:
            data = transport.read(2.0)
            assert data, "no answer from the serial server"
            frames = reader.feed(data)
        assert rc.decode_poll_reply(frames[0]) == rc.Press(1, Key.NEXT)
        transport.write(encode(rc.ack(7, 2, 1, 0, rc.Beep.OK, "A001")))
        while not keypad.acks:
            transport.read(0.05)
        assert keypad.acks[0].text == "A001" and not keypad.pending
    finally:
        transport.close()


def test_open_failures_raise_line_error(tmp_path: Path) -> None:
    with pytest.raises(LineError):
        LineTransport(LineSettings(str(tmp_path / "no-such-tty"))).open()
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(LineError):
        LineTransport(LineSettings(f"socket://127.0.0.1:{port}")).open()
    transport = LineTransport(LineSettings(str(tmp_path / "x")))
    with pytest.raises(LineError):
        transport.write(b"\x00")  # never opened


def test_wire_time_follows_the_frame_format() -> None:
    assert LineSettings("x").wire_time_s(96) == pytest.approx(0.1)  # 8N1: 10 bits a byte
    assert LineSettings("x", parity="even").wire_time_s(96) == pytest.approx(0.11)
