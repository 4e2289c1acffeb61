"""Commands of our reference protocol (HL1) shared by displays, caller keypads and pads.

| cmd  | to device                                   | reply (cmd | 0x80)                    |
|------|---------------------------------------------|--------------------------------------|
| 0x01 | POLL, no payload                            | empty, or a press: seq, key, arg     |
| 0x02 | ACK a press: seq, result, beep, text (GBK)  | empty                                |
| 0x10 | SHOW: area, effect, n, n x (len, GBK line)  | status: 0 ok, else a ShowStatus      |
| 0x30 | IDLE (pad): staff no, photo id, name        | empty                                |

A press keeps its `seq` (1..255, wrapping, never 0) until the controller acknowledges it with
ACK; the device repeats the same press on every POLL until then. The controller remembers the
last seq it executed per device and answers a repeat with the stored ACK instead of executing it
again, so a lost ACK never turns one key press into two calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from drivers.led.text import EFFECT_CODES, Effect, encode_gbk
from drivers.line.frame import Frame

POLL = 0x01
ACK = 0x02
SHOW = 0x10
IDLE = 0x30


class ShowStatus(IntEnum):
    OK = 0
    TOO_LONG = 1
    BAD_AREA = 2
    BAD_EFFECT = 3


class Beep(IntEnum):
    NONE = 0
    OK = 1  # one short beep
    ERROR = 2  # three short beeps


class DecodeError(ValueError):
    """A reply is well framed but its payload makes no sense."""


@dataclass(frozen=True)
class Press:
    seq: int
    key: int
    arg: str = ""


def poll(addr: int, seq: int) -> Frame:
    return Frame(addr, POLL, seq)


def decode_poll_reply(frame: Frame) -> Press | None:
    if frame.cmd != POLL | 0x80:
        raise DecodeError(f"expected a POLL reply, got cmd 0x{frame.cmd:02x}")
    if not frame.payload:
        return None
    if len(frame.payload) < 2 or frame.payload[0] == 0:
        raise DecodeError(f"bad press payload {frame.payload.hex()}")
    try:
        arg = frame.payload[2:].decode("ascii")
    except UnicodeDecodeError as exc:
        raise DecodeError("press argument is not ASCII") from exc
    return Press(frame.payload[0], frame.payload[1], arg)


def encode_press(press: Press) -> bytes:
    return bytes((press.seq, press.key)) + press.arg.encode("ascii")


def ack(addr: int, seq: int, press_seq: int, result: int, beep: Beep, text: str) -> Frame:
    data, _ = encode_gbk(text)
    return Frame(addr, ACK, seq, bytes((press_seq, result, beep)) + data[:200])


@dataclass(frozen=True)
class Ack:
    press_seq: int
    result: int
    beep: Beep
    text: str


def decode_ack(frame: Frame) -> Ack:
    if frame.cmd != ACK or len(frame.payload) < 3:
        raise DecodeError("not an ACK")
    return Ack(frame.payload[0], frame.payload[1], Beep(frame.payload[2]),
               frame.payload[3:].decode("gbk", errors="replace"))


def show(addr: int, seq: int, lines: tuple[str, ...], effect: Effect, area: int = 0) -> Frame:
    payload = bytearray((area, EFFECT_CODES[effect], len(lines)))
    for line in lines:
        data, _ = encode_gbk(line)
        payload += bytes((len(data),)) + data
    return Frame(addr, SHOW, seq, bytes(payload))


@dataclass(frozen=True)
class Show:
    area: int
    effect: Effect
    lines: tuple[str, ...]


def decode_show(frame: Frame) -> Show:
    data = frame.payload
    if frame.cmd != SHOW or len(data) < 3:
        raise DecodeError("not a SHOW")
    effects = {code: effect for effect, code in EFFECT_CODES.items()}
    if data[1] not in effects:
        raise DecodeError(f"unknown effect {data[1]}")
    lines: list[str] = []
    at = 3
    for _ in range(data[2]):
        if at >= len(data) or at + 1 + data[at] > len(data):
            raise DecodeError("SHOW line runs past the payload")
        lines.append(data[at + 1 : at + 1 + data[at]].decode("gbk", errors="replace"))
        at += 1 + data[at]
    return Show(data[0], effects[data[1]], tuple(lines))


def decode_show_reply(frame: Frame) -> ShowStatus:
    if frame.cmd != SHOW | 0x80 or len(frame.payload) != 1:
        raise DecodeError("not a SHOW reply")
    try:
        return ShowStatus(frame.payload[0])
    except ValueError as exc:
        raise DecodeError(f"unknown SHOW status {frame.payload[0]}") from exc
