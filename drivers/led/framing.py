"""Which framing a display speaks, chosen per device in its profile, and the bytes for a layout."""

from __future__ import annotations

from enum import StrEnum

from drivers.led import aa_strip as led_aa_strip
from drivers.led import onbon as led_onbon
from drivers.led.text import Effect, Layout
from drivers.line import commands as reference_commands
from drivers.line import frame as reference_frame


class Framing(StrEnum):
    REFERENCE = "reference"  # our HL1 framing; the device answers, so it can be supervised
    ONBON_BX = "onbon_bx"  # write only
    AA_STRIP = "aa_strip"  # write only; no scrolling or flashing


def expects_reply(framing: Framing) -> bool:
    return framing is Framing.REFERENCE


def can_scroll(framing: Framing) -> bool:
    return framing is not Framing.AA_STRIP


def encode_display(
    framing: Framing, addr: int, seq: int, placed: Layout, *, area: int = 0,
    hall_screen: bool = False,
) -> bytes:
    if framing is Framing.REFERENCE:
        return reference_frame.encode(
            reference_commands.show(addr, seq, placed.lines, placed.effect, area)
        )
    # Vendor framings carry one text; their controllers wrap it across the module themselves.
    text = "".join(placed.lines) if placed.effect is not Effect.SCROLL else placed.lines[0]
    if framing is Framing.ONBON_BX:
        return led_onbon.encode_dynamic_text(addr, area, text, placed.effect)
    return led_aa_strip.encode_text(addr, text, hall_screen=hall_screen)
