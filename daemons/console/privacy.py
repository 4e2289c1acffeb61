"""The last gate before anything reaches a browser: no full ID number, no picture of a person.

Every byte the console sends (live updates, JSON answers, the report as CSV or HTML, LED screen
pictures' text) passes `scrub_text`. The bus already refuses full ID numbers in the fields meant
for them, but free text (a notice, a staff name from a roster, a camera's message) could carry
one, so the console masks anything shaped like one rather than trusting every sender. Camera
snapshots are never kept: `without_pictures` drops them from any payload before it is stored.
"""

from __future__ import annotations

from typing import Any

from hall_bus.id_numbers import mask_id_numbers

PICTURE_KEYS = frozenset({"snapshot_jpeg_b64", "photo", "photo_b64", "face", "image_b64"})


def scrub_text(text: str) -> str:
    """`text` with every full ID number masked as 1101**********002X, however it was typed
    (full-width, spaced, zero-width characters: hall_bus/id_numbers.py)."""
    return mask_id_numbers(text)


def without_pictures(value: Any) -> Any:
    """A copy of a JSON-like value with picture fields removed at any depth."""
    if isinstance(value, dict):
        return {k: without_pictures(v) for k, v in value.items() if k not in PICTURE_KEYS}
    if isinstance(value, list):
        return [without_pictures(v) for v in value]
    return value
