"""Chinese text for LED modules: GBK encoding and layout by display width.

LED controllers draw a GBK character in a full cell (16x16 dots for a 16-dot font) and an ASCII
character in half a cell, so "请A023号到3号窗口" is 6 full + 5 half = 17 half cells wide. Layout
counts half cells, never characters. Characters GBK lacks (many rare name characters, emoji) are
reported to the caller instead of being dropped, so a screen never silently shows less than asked.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Effect(StrEnum):
    STATIC = "static"
    SCROLL = "scroll"
    FLASH = "flash"


EFFECT_CODES = {Effect.STATIC: 0, Effect.SCROLL: 1, Effect.FLASH: 2}


def char_width(char: str) -> int:
    """Half cells a character takes: 2 for CJK and full-width forms, 1 for ASCII."""
    if unicodedata.east_asian_width(char) in ("F", "W"):
        return 2
    return 1 if ord(char) < 0x80 else 2


def text_width(text: str) -> int:
    return sum(char_width(c) for c in text)


def encode_gbk(text: str) -> tuple[bytes, list[str]]:
    """GBK bytes of `text` and the characters GBK cannot hold (sent as '?', reported)."""
    out = bytearray()
    missing: list[str] = []
    for char in text:
        try:
            out += char.encode("gbk")
        except UnicodeEncodeError:
            missing.append(char)
            out += b"?"
    return bytes(out), missing


@dataclass(frozen=True)
class Layout:
    """Text placed on a display of `columns` half cells by `rows` lines."""

    lines: tuple[str, ...]
    effect: Effect
    problems: tuple[str, ...]

    @property
    def fits(self) -> bool:
        return not self.problems


def layout(
    text: str, columns: int, rows: int, *, effect: Effect = Effect.STATIC, can_scroll: bool = True
) -> Layout:
    """Wrap `text` (explicit '\\n' breaks kept) into at most `rows` lines of `columns` half cells.

    Text longer than the display scrolls when the device can scroll; otherwise the overflow is
    reported as a problem and the text is cut at the last whole character that fits.
    """
    problems: list[str] = []
    _, missing = encode_gbk(text)
    if missing:
        problems.append("字库缺字 / not in GBK: " + "".join(sorted(set(missing))))
    wrapped: list[str] = []
    for paragraph in text.split("\n"):
        wrapped.extend(_wrap(paragraph, columns))
    if len(wrapped) <= rows:
        return Layout(tuple(wrapped), effect, tuple(problems))
    if can_scroll:
        # A scrolling line carries the whole text on one line; the device moves it along.
        return Layout((text.replace("\n", " "),), Effect.SCROLL, tuple(problems))
    problems.append(f"内容超出显示范围 / text needs {len(wrapped)} lines, display has {rows}")
    return Layout(tuple(wrapped[:rows]), effect, tuple(problems))


def _wrap(paragraph: str, columns: int) -> list[str]:
    lines: list[str] = []
    current = ""
    used = 0
    for char in paragraph:
        width = char_width(char)
        if used + width > columns and current:
            lines.append(current)
            current, used = "", 0
        current += char
        used += width
    lines.append(current)
    return lines
