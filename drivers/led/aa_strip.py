"""The `AA addr BB ... FF` strip and hall-screen framing of a bank queue system (write only).

    AA | addr | BB 51 54 | sum8 | mode (2) | 99 00 63 | GBK text | FF

`mode` is `01 00` for a window strip and `08 02` for a hall screen. The public description does not
say what `sum8` covers; we take the 8-bit sum of the GBK text bytes, which must be checked against
a real screen before a site relies on it. A text byte of FF would end the frame early, and GBK
never uses FF, so text cannot collide with the end byte.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.crc import sum8
from drivers.led.text import encode_gbk

START = 0xAA
END = 0xFF
STRIP_MODE = b"\x01\x00"
HALL_MODE = b"\x08\x02"


class AaStripError(ValueError):
    pass


def encode_text(address: int, text: str, *, hall_screen: bool = False) -> bytes:
    if not 0 <= address <= 0xFE:
        raise AaStripError(f"address {address} outside 0..254")
    gbk, _ = encode_gbk(text)
    mode = HALL_MODE if hall_screen else STRIP_MODE
    return (
        bytes((START, address, 0xBB, 0x51, 0x54, sum8(gbk)))
        + mode
        + b"\x99\x00\x63"
        + gbk
        + bytes((END,))
    )


@dataclass(frozen=True)
class AaText:
    address: int
    hall_screen: bool
    text: str


def decode_text(frame: bytes) -> AaText:
    if len(frame) < 12 or frame[0] != START or frame[-1] != END or frame[2:5] != b"\xbb\x51\x54":
        raise AaStripError("not an AA..FF text frame")
    mode = frame[6:8]
    if mode not in (STRIP_MODE, HALL_MODE) or frame[8:11] != b"\x99\x00\x63":
        raise AaStripError("unknown mode bytes")
    gbk = frame[11:-1]
    if sum8(gbk) != frame[5]:
        raise AaStripError("bad checksum")
    return AaText(frame[1], mode == HALL_MODE, gbk.decode("gbk", errors="replace"))


def split_frames(buffer: bytearray) -> list[bytes]:
    """Cut whole AA .. FF frames off the front of `buffer`, dropping noise before them."""
    frames: list[bytes] = []
    while True:
        start = buffer.find(bytes((START,)))
        if start < 0:
            buffer.clear()
            return frames
        del buffer[:start]
        if len(buffer) >= 5 and buffer[2:5] != b"\xbb\x51\x54":
            del buffer[:1]  # an AA inside other traffic, not a frame start
            continue
        # The checksum byte may be FF; the end byte is searched for after the fixed header only.
        end = buffer.find(bytes((END,)), 11)
        if end < 0:
            return frames
        frames.append(bytes(buffer[: end + 1]))
        del buffer[: end + 1]
