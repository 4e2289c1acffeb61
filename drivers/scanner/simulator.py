"""A scriptable simulated scanner: text in, the key events a USB scanner would send, out.

`hall kiosk` runs one by default: every line written to its FIFO is "scanned" — typed as key
events at scanner speed and decoded by the same `KeyDecoder` a real scanner's events go through.
"""

from __future__ import annotations

import logging
import os
import select
from collections.abc import Callable
from pathlib import Path

from drivers.scanner.keys import (
    EV_KEY,
    KEY_DOWN,
    KEY_ENTER,
    KEY_LEFTSHIFT,
    KEY_UP,
    LAYOUTS,
    KeyDecoder,
    KeyEvent,
    Scan,
)
from drivers.scanner.reading_thread import ScannerThread

log = logging.getLogger(__name__)

KEY_INTERVAL_S = 0.002  # a typical scanner's pace, well under a person's


def key_events(text: str, layout: str = "us", start_s: float = 0.0) -> list[KeyEvent]:
    """The events of a scanner typing `text` and Enter; ValueError for an untypable character."""
    reverse: dict[str, tuple[int, bool]] = {}
    for key_code, (plain, upper) in sorted(LAYOUTS[layout].items(), reverse=True):
        reverse[upper] = (key_code, True)
        reverse[plain] = (key_code, False)
    events: list[KeyEvent] = []
    t = start_s
    for char in text:
        if char not in reverse:
            raise ValueError(f"character {char!r} cannot be typed on a {layout} layout")
        code, shifted = reverse[char]
        if shifted:
            events.append(KeyEvent(t, EV_KEY, KEY_LEFTSHIFT, KEY_DOWN))
        events += [KeyEvent(t, EV_KEY, code, KEY_DOWN), KeyEvent(t + 0.0005, EV_KEY, code, KEY_UP)]
        if shifted:
            events.append(KeyEvent(t + 0.0005, EV_KEY, KEY_LEFTSHIFT, KEY_UP))
        t += KEY_INTERVAL_S
    events += [KeyEvent(t, EV_KEY, KEY_ENTER, KEY_DOWN), KeyEvent(t, EV_KEY, KEY_ENTER, KEY_UP)]
    return events


class FifoScanner(ScannerThread):
    """Lines written to a FIFO are scanned. Used by the default run and by scripts."""

    def __init__(self, path: Path, on_scan: Callable[[Scan], None], layout: str = "us") -> None:
        self.path = path
        self.on_scan = on_scan
        self.layout = layout
        self.decoder = KeyDecoder(layout=layout)
        if path.exists() and not path.is_fifo():
            raise FileExistsError(f"{path} exists and is not a FIFO")
        if not path.exists():
            os.mkfifo(path, 0o600)
        super().__init__("scanner-sim")

    def scan(self, text: str) -> None:
        clock = 0.0
        for event in key_events(text, self.layout, clock):
            result = self.decoder.feed(event)
            if result is not None:
                self.on_scan(result)

    def _run(self) -> None:
        # O_RDWR keeps a writer open ourselves, so the FIFO never reads end-of-file between uses.
        fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        pending = b""
        try:
            while True:
                ready, _, _ = select.select([fd, self._stop_r], [], [])
                if self._stop_r in ready:
                    return
                pending += os.read(fd, 4096)
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    text = line.decode("utf-8", errors="replace").strip()
                    if not text:
                        continue
                    try:
                        self.scan(text)
                    except ValueError as exc:
                        log.warning("simulated scanner: %s", exc)
        finally:
            os.close(fd)
