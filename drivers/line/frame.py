"""Our reference RS-485 framing (HL1), shared by every device kind that speaks it.

    A5 5A | addr | cmd | seq | len | payload (len bytes) | crc16 lo | crc16 hi

- `addr` 1..247 is the device on the line; the controller is the only master.
- `cmd` is the command; a device answers with `cmd | 0x80` and the same `seq`.
- CRC-16/MODBUS over addr..payload, low byte first.

There is no end byte: the reader knows the frame's length from its header, so a frame can be
checked as soon as its last byte arrives. The two-byte sync word is not escaped: a reader that
finds a sync word inside noise checks length and CRC and, when they fail, moves one byte on and
searches again, so noise never costs the next good frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.crc import crc16_modbus

SYNC = b"\xa5\x5a"
HEADER_LEN = 6  # sync (2) + addr + cmd + seq + len
OVERHEAD = HEADER_LEN + 2  # header + CRC
MAX_PAYLOAD = 255
REPLY_FLAG = 0x80


class FrameError(ValueError):
    """A frame cannot be built from these values."""


@dataclass(frozen=True)
class Frame:
    addr: int
    cmd: int
    seq: int
    payload: bytes = b""

    @property
    def is_reply(self) -> bool:
        return bool(self.cmd & REPLY_FLAG)

    def reply(self, payload: bytes = b"") -> Frame:
        return Frame(self.addr, self.cmd | REPLY_FLAG, self.seq, payload)


def encode(frame: Frame) -> bytes:
    if not 1 <= frame.addr <= 247:
        raise FrameError(f"address {frame.addr} outside 1..247")
    if not 0 <= frame.cmd <= 0xFF or not 0 <= frame.seq <= 0xFF:
        raise FrameError("cmd and seq are single bytes")
    if len(frame.payload) > MAX_PAYLOAD:
        raise FrameError(f"payload of {len(frame.payload)} bytes exceeds {MAX_PAYLOAD}")
    body = bytes((frame.addr, frame.cmd, frame.seq, len(frame.payload))) + frame.payload
    crc = crc16_modbus(body)
    return SYNC + body + bytes((crc & 0xFF, crc >> 8))


def frame_len(payload_len: int) -> int:
    return OVERHEAD + payload_len


@dataclass
class FrameReader:
    """Turns a byte stream into frames; skips noise, truncated and corrupted frames.

    `dropped` counts bytes thrown away while resynchronising, `bad_crc` frames whose CRC failed.
    """

    buffer: bytearray = field(default_factory=bytearray)
    dropped: int = 0
    bad_crc: int = 0

    def feed(self, data: bytes) -> list[Frame]:
        self.buffer += data
        frames: list[Frame] = []
        while True:
            start = self.buffer.find(SYNC)
            if start < 0:
                # Keep a trailing A5: it may be the first half of the next sync word.
                keep = 1 if self.buffer[-1:] == SYNC[:1] else 0
                self._drop(len(self.buffer) - keep)
                return frames
            self._drop(start)
            if len(self.buffer) < HEADER_LEN:
                return frames
            total = frame_len(self.buffer[5])
            if len(self.buffer) < total:
                # A false header inside noise may announce a long payload; a complete, valid
                # frame later in the buffer proves it false, so that frame is not held back.
                later = self._later_valid_frame()
                if later is None:
                    return frames
                self.bad_crc += 1
                self._drop(later)
                continue
            if not self._valid_at(0):
                # A false sync word inside noise, or a damaged frame: step past this sync byte
                # only, because a real frame may start inside what looked like its body.
                self.bad_crc += 1
                self._drop(1)
                continue
            body = bytes(self.buffer[2 : total - 2])
            frames.append(Frame(body[0], body[1], body[2], body[4:]))
            del self.buffer[:total]

    def _valid_at(self, start: int) -> bool:
        if len(self.buffer) < start + HEADER_LEN:
            return False
        total = frame_len(self.buffer[start + 5])
        if len(self.buffer) < start + total:
            return False
        body = bytes(self.buffer[start + 2 : start + total - 2])
        crc = self.buffer[start + total - 2] | self.buffer[start + total - 1] << 8
        return crc16_modbus(body) == crc and 1 <= body[0] <= 247

    def _later_valid_frame(self) -> int | None:
        start = self.buffer.find(SYNC, 1)
        while start >= 0:
            if self._valid_at(start):
                return start
            start = self.buffer.find(SYNC, start + 1)
        return None

    def reset(self) -> None:
        """Forget a partial frame, e.g. after a reply timed out or the port was reopened."""
        self.dropped += len(self.buffer)
        self.buffer.clear()

    def _drop(self, count: int) -> None:
        if count > 0:
            self.dropped += count
            del self.buffer[:count]
