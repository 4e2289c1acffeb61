"""Turning keyboard events from a barcode/QR scanner or ID-card reader into strings. Pure.

Such devices present as USB keyboards and "type" what they read, then a terminator (Enter or
Tab). The decoder follows shift and caps lock, maps key codes through the layout the scanner is
configured for, and tells a scanner from a person by the gaps between characters: a scanner types
a whole code in milliseconds, a person needs a tenth of a second or more per key. Human typing is
dropped (only its length is logged, as it may be a personal number).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

EV_KEY = 1
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2
KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_CAPSLOCK = 42, 54, 58
KEY_ENTER, KEY_KPENTER, KEY_TAB = 28, 96, 15

# Linux input key codes -> (unshifted, shifted) on a US layout.
_US: dict[int, tuple[str, str]] = {
    2: ("1", "!"), 3: ("2", "@"), 4: ("3", "#"), 5: ("4", "$"), 6: ("5", "%"), 7: ("6", "^"),
    8: ("7", "&"), 9: ("8", "*"), 10: ("9", "("), 11: ("0", ")"), 12: ("-", "_"), 13: ("=", "+"),
    26: ("[", "{"), 27: ("]", "}"), 39: (";", ":"), 40: ("'", '"'), 41: ("`", "~"),
    43: ("\\", "|"), 51: (",", "<"), 52: (".", ">"), 53: ("/", "?"), 57: (" ", " "),
    55: ("*", "*"), 71: ("7", "7"), 72: ("8", "8"), 73: ("9", "9"), 74: ("-", "-"),
    75: ("4", "4"), 76: ("5", "5"), 77: ("6", "6"), 78: ("+", "+"), 79: ("1", "1"),
    80: ("2", "2"), 81: ("3", "3"), 82: ("0", "0"), 83: (".", "."), 98: ("/", "/"),
}
for _codes, _letters in ((range(16, 26), "qwertyuiop"), (range(30, 39), "asdfghjkl"),
                         (range(44, 51), "zxcvbnm")):
    for _code, _letter in zip(_codes, _letters, strict=True):
        _US[_code] = (_letter, _letter.upper())

# German QWERTZ, a common factory setting of imported scanners: Y and Z swap, symbols move.
_DE = dict(_US)
_DE.update({
    21: ("z", "Z"), 44: ("y", "Y"),
    3: ("2", '"'), 4: ("3", "§"), 7: ("6", "&"), 8: ("7", "/"), 9: ("8", "("), 10: ("9", ")"),
    11: ("0", "="), 12: ("ß", "?"), 13: ("´", "`"), 27: ("+", "*"), 43: ("#", "'"),
    51: (",", ";"), 52: (".", ":"), 53: ("-", "_"), 86: ("<", ">"),
})

LAYOUTS = {"us": _US, "de": _DE}


@dataclass(frozen=True)
class KeyEvent:
    time_s: float
    type: int
    code: int
    value: int


@dataclass(frozen=True)
class Scan:
    text: str
    started_s: float
    duration_s: float


class KeyDecoder:
    def __init__(
        self,
        layout: str = "us",
        terminators: frozenset[int] = frozenset({KEY_ENTER, KEY_KPENTER}),
        max_gap_s: float = 0.05,
        max_length: int = 512,
        min_length: int = 4,
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown keyboard layout {layout!r}; known: {sorted(LAYOUTS)}")
        self.keymap = LAYOUTS[layout]
        self.terminators = terminators
        self.max_gap_s = max_gap_s
        self.max_length = max_length
        self.min_length = min_length
        self._shift: set[int] = set()
        self._caps = False
        self._chars: list[str] = []
        self._started = 0.0
        self._last = 0.0
        self._human = False
        self.rejected = 0

    def feed(self, event: KeyEvent) -> Scan | None:
        """Feed one event; returns a Scan when a terminator ends a code typed fast enough."""
        if event.type != EV_KEY:
            return None  # EV_SYN, EV_MSC scan codes and LED events carry nothing we need
        if event.code in (KEY_LEFTSHIFT, KEY_RIGHTSHIFT):
            if event.value == KEY_UP:
                self._shift.discard(event.code)
            else:
                self._shift.add(event.code)
            return None
        if event.value != KEY_DOWN:
            return None  # key up, and auto-repeat (a scanner never holds a key)
        if event.code == KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        if self._chars and event.time_s - self._last > self.max_gap_s:
            # Too slow for a scanner: what came before was typed by hand. Start afresh, so that
            # a stray key press does not spoil the scan that follows it.
            self._reject()
        self._last = event.time_s
        if event.code in self.terminators:
            return self._finish(event.time_s)
        pair = self.keymap.get(event.code)
        if pair is None:
            log.debug("scanner: key code %d has no character in this layout", event.code)
            self._human = True  # arrows, F-keys: a person at a keyboard, not a scan
            return None
        if not self._chars:
            self._started = event.time_s
        char = pair[1] if self._shift else pair[0]
        if self._caps and char.isalpha():
            char = char.swapcase()
        if len(self._chars) < self.max_length:
            self._chars.append(char)
        else:
            self._human = True
        return None

    def _reject(self) -> None:
        if self._chars:
            self.rejected += 1
            log.info("scanner: dropped %d characters typed too slowly or oddly for a scanner",
                     len(self._chars))
        self._chars, self._human = [], False

    def _finish(self, now: float) -> Scan | None:
        if self._human or len(self._chars) < self.min_length:
            self._reject()
            return None
        scan = Scan("".join(self._chars), self._started, now - self._started)
        self._chars = []
        return scan
