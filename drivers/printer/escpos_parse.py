"""Parsing the ESC/POS subset our tickets use into operations. Pure; used by the simulator.

Streaming: `EscposParser.feed` takes bytes as they arrive and returns every complete operation;
an incomplete command waits for more bytes. A byte that starts no known command is reported as
an `Unknown` operation, so the simulator can flag bytes a real printer would misprint.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    raw: bytes  # one line, still encoded; the printer's mode decides how it is read


@dataclass(frozen=True)
class Command:
    name: str  # init, chinese_on, chinese_off, align, bold, size, feed, cut, codepage, ...
    value: int = 0


@dataclass(frozen=True)
class StatusQuery:
    kind: int


@dataclass(frozen=True)
class QrStore:
    data: bytes


@dataclass(frozen=True)
class QrSetting:
    function: str  # "A" model, "C" module size, "E" error correction
    value: int


@dataclass(frozen=True)
class QrPrint:
    pass


@dataclass(frozen=True)
class Raster:
    width_bytes: int
    height: int
    data: bytes


@dataclass(frozen=True)
class Unknown:
    byte: int


Operation = Text | Command | StatusQuery | QrStore | QrSetting | QrPrint | Raster | Unknown


class _Incomplete(Exception):
    pass


# Two-byte-prefix commands with one parameter byte: prefix -> operation name.
_ONE_PARAM = {
    b"\x1ba": "align",
    b"\x1bE": "bold",
    b"\x1d!": "size",
    b"\x1bd": "feed",
    b"\x1bt": "codepage",
    b"\x1b!": "print_mode",
    b"\x1b{": "upside_down",
    b"\x1db": "smoothing",
    b"\x1b-": "underline",
    b"\x1bM": "font",
    b"\x1dB": "reverse",
    b"\x1bJ": "feed_dots",
    b"\x1b3": "line_spacing",
}
_NO_PARAM = {b"\x1b@": "init", b"\x1c&": "chinese_on", b"\x1c.": "chinese_off", b"\x1b2": "spacing"}


class EscposParser:
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._line = bytearray()

    def feed(self, data: bytes) -> list[Operation]:
        self._buffer += data
        ops: list[Operation] = []
        pos = 0
        while pos < len(self._buffer):
            try:
                op, pos = self._one(pos)
            except _Incomplete:
                break
            if op is not None:
                ops.append(op)
        del self._buffer[:pos]
        return ops

    def _take(self, pos: int, count: int) -> bytes:
        if pos + count > len(self._buffer):
            raise _Incomplete
        return bytes(self._buffer[pos : pos + count])

    def _flush_line(self) -> Text | None:
        if not self._line:
            return None
        text = Text(bytes(self._line))
        self._line.clear()
        return text

    def _one(self, pos: int) -> tuple[Operation | None, int]:
        byte = self._buffer[pos]
        if byte == 0x0A:
            line = Text(bytes(self._line))
            self._line.clear()
            return line, pos + 1
        if byte not in (0x1B, 0x1C, 0x1D, 0x10):
            if byte == 0x0D:
                return None, pos + 1
            if byte < 0x20:
                return Unknown(byte), pos + 1
            self._line.append(byte)
            return None, pos + 1
        # A command ends the text gathered so far only when it prints (LF, cut, images).
        prefix = self._take(pos, 2)
        if prefix in _NO_PARAM:
            return Command(_NO_PARAM[prefix]), pos + 2
        if prefix in _ONE_PARAM:
            return Command(_ONE_PARAM[prefix], self._take(pos + 2, 1)[0]), pos + 3
        if prefix == b"\x10\x04":
            return StatusQuery(self._take(pos + 2, 1)[0]), pos + 3
        if prefix == b"\x1dV":
            mode = self._take(pos + 2, 1)[0]
            if mode in (65, 66):  # feed n lines then cut
                self._take(pos + 3, 1)
                return Command("cut", mode - 65), pos + 4
            return Command("cut", mode % 2), pos + 3
        if prefix == b"\x1d(":
            return self._function_k(pos)
        if prefix == b"\x1dv":
            header = self._take(pos + 2, 6)  # '0' m xL xH yL yH
            width_bytes = header[2] | header[3] << 8
            height = header[4] | header[5] << 8
            data = self._take(pos + 8, width_bytes * height)
            return Raster(width_bytes, height, data), pos + 8 + width_bytes * height
        return Unknown(byte), pos + 1

    def _function_k(self, pos: int) -> tuple[Operation | None, int]:
        header = self._take(pos + 2, 3)  # 'k' pL pH
        if header[0:1] != b"k":
            return Unknown(self._buffer[pos]), pos + 1
        length = header[1] | header[2] << 8
        body = self._take(pos + 5, length)
        end = pos + 5 + length
        if length < 2 or body[0:1] != b"1":
            return Unknown(self._buffer[pos]), pos + 1  # only the QR symbol (cn 49) is ours
        function = chr(body[1])
        if function == "P":
            return QrStore(body[3:]), end
        if function == "Q":
            return QrPrint(), end
        value = body[-1] if len(body) >= 3 else 0
        return QrSetting(function, value), end
