"""The LED screens as a citizen sees them: dot-matrix pictures drawn from what each display
accepted (its retained `shown` lines), with the geometry of its device profile."""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence

from daemons.console.privacy import scrub_text
from drivers.led.render import render_image
from drivers.led.text import char_width
from firmware_config.line import load_profile
from firmware_config.site import SiteConfig


def geometry(site: SiteConfig, line_id: str, device_id: str, lines: Sequence[str]) -> tuple[
        int, int]:
    """Columns (half cells) and rows of a display; from its profile when the site lists it."""
    for line in site.lines:
        if line.id != line_id:
            continue
        for device in line.devices:
            if device.id == device_id:
                profile = load_profile(device.profile)
                return profile.columns, profile.rows
    # A display the site does not list (a network screen): as wide as its text.
    widest = max((sum(char_width(c) for c in text) for text in lines), default=16)
    return max(16, widest), max(1, len(lines))


@functools.lru_cache(maxsize=64)
def png_of(lines: tuple[str, ...], columns: int, rows: int) -> bytes:
    picture = render_image(tuple(scrub_text(text) for text in lines), columns, rows)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()
