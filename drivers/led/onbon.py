"""Onbon BX-5/6 controller framing, "dynamic area" text (write only).

    A5 x8 | dst LE16 | src 0x8000 LE16 | 00 x6 | FE | 02 | len LE16 | data | crc LE16 | 5A

`data` is command group A3, command 06, then our dynamic-area body: process mode 00, reserved 00,
area count 01, area id, effect (00 static, 01 scroll left, 02 flash), text length LE16, GBK text.
The CRC is CRC-16/ARC over dst..data. Between the preamble and the end byte, A5 is sent as A6 02
and 5A as 5B 02 (and the escape bytes A6, 5B themselves as A6 01, 5B 01).

The header and the escaping follow public descriptions reconstructed from third-party code; the
area body is our own minimal reading and needs checking on a real controller before a site relies
on it. The controller's answers are not decoded: the line treats these screens as write-only.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.crc import crc16_arc
from drivers.led.text import EFFECT_CODES, Effect, encode_gbk

PREAMBLE = b"\xa5" * 8
END = 0x5A
SOURCE = 0x8000
_ESCAPES = {0xA5: b"\xa6\x02", 0xA6: b"\xa6\x01", 0x5A: b"\x5b\x02", 0x5B: b"\x5b\x01"}
_UNESCAPES = {(0xA6, 0x02): 0xA5, (0xA6, 0x01): 0xA6, (0x5B, 0x02): 0x5A, (0x5B, 0x01): 0x5B}


class OnbonError(ValueError):
    pass


def _stuff(data: bytes) -> bytes:
    out = bytearray()
    for byte in data:
        out += _ESCAPES.get(byte, bytes((byte,)))
    return bytes(out)


def _unstuff(data: bytes) -> bytes:
    out = bytearray()
    index = 0
    while index < len(data):
        byte = data[index]
        if byte in (0xA6, 0x5B):
            if index + 1 >= len(data) or (byte, data[index + 1]) not in _UNESCAPES:
                raise OnbonError(f"bad escape at byte {index}")
            out.append(_UNESCAPES[(byte, data[index + 1])])
            index += 2
        else:
            out.append(byte)
            index += 1
    return bytes(out)


def encode_dynamic_text(address: int, area: int, text: str, effect: Effect) -> bytes:
    gbk, _ = encode_gbk(text)
    body = bytes((0x00, 0x00, 0x01, area, EFFECT_CODES[effect])) + len(gbk).to_bytes(2, "little")
    data = b"\xa3\x06" + body + gbk
    packet = (
        address.to_bytes(2, "little")
        + SOURCE.to_bytes(2, "little")
        + bytes(6)
        + b"\xfe\x02"
        + len(data).to_bytes(2, "little")
        + data
    )
    packet += crc16_arc(packet).to_bytes(2, "little")
    return PREAMBLE + _stuff(packet) + bytes((END,))


@dataclass(frozen=True)
class OnbonText:
    address: int
    area: int
    effect: Effect
    text: str


def decode_dynamic_text(frame: bytes) -> OnbonText:
    """Parse one whole frame (preamble to end byte), as the simulated controller does."""
    if not frame.startswith(PREAMBLE) or frame[-1] != END:
        raise OnbonError("missing preamble or end byte")
    packet = _unstuff(frame[len(PREAMBLE) : -1].lstrip(b"\xa5"))
    if len(packet) < 16 or crc16_arc(packet[:-2]) != int.from_bytes(packet[-2:], "little"):
        raise OnbonError("bad CRC")
    length = int.from_bytes(packet[12:14], "little")
    data = packet[14:-2]
    if len(data) != length or data[:2] != b"\xa3\x06" or len(data) < 9:
        raise OnbonError("not a dynamic-area text command")
    effects = {code: effect for effect, code in EFFECT_CODES.items()}
    if data[6] not in effects:
        raise OnbonError(f"unknown effect {data[6]}")
    text_len = int.from_bytes(data[7:9], "little")
    text = data[9 : 9 + text_len].decode("gbk", errors="replace")
    return OnbonText(int.from_bytes(packet[0:2], "little"), data[5], effects[data[6]], text)


def split_frames(buffer: bytearray) -> list[bytes]:
    """Cut whole frames (preamble .. 5A) off the front of `buffer`; noise before them is dropped.

    Escaping guarantees 5A appears only as the end byte, so the stream resynchronises at the next
    preamble after any damage.
    """
    frames: list[bytes] = []
    while True:
        start = buffer.find(PREAMBLE)
        if start < 0:
            keep = len(buffer) - len(buffer.rstrip(b"\xa5"))
            del buffer[: len(buffer) - keep]
            return frames
        del buffer[:start]
        end = buffer.find(bytes((END,)), len(PREAMBLE))
        if end < 0:
            return frames
        frames.append(bytes(buffer[: end + 1]))
        del buffer[: end + 1]
