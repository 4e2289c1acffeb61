"""ESC/POS command bytes for tickets: pure functions, no I/O.

Text commands are built here so that every byte of a ticket is stated plainly; QR codes, raster
images and their headers come from python-escpos's `Dummy` printer, which only records bytes.
python-escpos's own text path is avoided: it never sends `FS &` and sends full-width punctuation
through a code page, where it prints as '?'.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any, Literal

from PIL import Image

from firmware_config.printer_profile import PrinterProfile

log = logging.getLogger(__name__)

ESC = b"\x1b"
GS = b"\x1d"
FS = b"\x1c"
DLE = b"\x10"
EOT = b"\x04"
LF = b"\n"

INITIALISE = ESC + b"@"
CHINESE_MODE_ON = FS + b"&"
CHINESE_MODE_OFF = FS + b"."

Align = Literal["left", "center", "right"]
_ALIGN_CODES: dict[Align, bytes] = {"left": b"\x00", "center": b"\x01", "right": b"\x02"}

# Characters a GBK-only printer lacks, replaced by their full-width twins that GBK has.
_GBK_SUBSTITUTES = str.maketrans({"\u00a5": "\uffe5", "\u20ac": "EUR", "\u00b7": "\u30fb"})


def align(where: Align) -> bytes:
    return ESC + b"a" + _ALIGN_CODES[where]


def bold(on: bool) -> bytes:
    return ESC + b"E" + (b"\x01" if on else b"\x00")


def char_size(width: int, height: int) -> bytes:
    """`GS ! n`: magnify characters 1..8 times in each direction."""
    if not (1 <= width <= 8 and 1 <= height <= 8):
        raise ValueError(f"character magnification {width}x{height} outside 1..8")
    return GS + b"!" + bytes([((width - 1) << 4) | (height - 1)])


def feed(lines: int) -> bytes:
    return ESC + b"d" + bytes([max(0, min(255, lines))])


def cut(profile: PrinterProfile) -> bytes:
    """Feed the last line past the cutter, then cut (`GS V 0`/`GS V 1`) as the profile says."""
    if profile.cut == "none":
        return feed(profile.feed_before_cut)
    code = b"\x00" if profile.cut == "full" else b"\x01"
    return feed(profile.feed_before_cut) + GS + b"V" + code


def status_query(kind: int) -> bytes:
    """`DLE EOT n`: 1 printer, 2 offline cause, 3 error cause, 4 roll paper sensor."""
    if kind not in (1, 2, 3, 4):
        raise ValueError(f"DLE EOT {kind} is not a status query")
    return DLE + EOT + bytes([kind])


def encode_text(text: str, profile: PrinterProfile) -> bytes:
    """Encode for the printer's font; a character it cannot print becomes '?' and is logged."""
    if profile.encoding == "gbk":
        text = text.translate(_GBK_SUBSTITUTES)
    try:
        return text.encode(profile.encoding)
    except UnicodeEncodeError:
        log.warning("printer %s cannot print some of %r; replaced by '?'", profile.name, text)
        return text.encode(profile.encoding, errors="replace")


def qr_native(data: str, module_dots: int, profile: PrinterProfile) -> bytes:
    """`GS ( k` model 2, error correction M, as python-escpos sends it."""
    return _with_dummy(profile, lambda d: d.qr(data, ec=1, size=module_dots, native=True))


def raster_image(image: Image.Image, profile: PrinterProfile) -> bytes:
    """`GS v 0` raster bit image of a 1-bit picture."""
    return _with_dummy(profile, lambda d: d.image(image, impl="bitImageRaster"))


def qr_image(data: str, module_dots: int, profile: PrinterProfile) -> bytes:
    """The QR code drawn here and sent as a raster image, for printers without `GS ( k`."""
    return _with_dummy(
        profile,
        lambda d: d.qr(
            data,
            ec=1,
            size=module_dots,
            native=False,
            image_arguments={"impl": "bitImageRaster"},
        ),
    )


def _with_dummy(profile: PrinterProfile, draw: Callable[[Any], None]) -> bytes:
    from escpos.printer import Dummy  # imported late: python-escpos loads its profiles on import

    with warnings.catch_warnings():
        # The "default" capability profile warns that it does not know the media width.
        warnings.simplefilter("ignore")
        printer = Dummy(profile="default")
    # Without a media width python-escpos prints a notice to stdout for every image.
    printer.profile.profile_data["media"]["width"]["pixels"] = profile.dots_per_line
    draw(printer)
    output: bytes = printer.output
    return output
