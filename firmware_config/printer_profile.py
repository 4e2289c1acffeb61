"""Ticket printer profiles: what one model of ESC/POS printer understands.

Printers sold in China differ in the ways that matter for a ticket: the double-byte encoding of
their built-in font (GB18030 or only GBK), whether Chinese mode must be switched on with `FS &`,
whether they have a Chinese font at all, whether they draw QR codes natively (`GS ( k`), the paper
width and the cutter. A profile states those facts so that the ticket layout never guesses.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Dots per line at 203 dpi for the two common roll widths; font A is 12 x 24 dots.
DOTS_PER_LINE = {58: 384, 80: 576}
FONT_A_WIDTH_DOTS = 12


class PrinterProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="generic-80", description="Label for logs and the device state.")
    encoding: Literal["gb18030", "gbk"] = Field(
        default="gb18030",
        description="Encoding of the built-in Chinese font. GBK-only printers print garbage for "
        "GB18030 four-byte sequences (e.g. the yen/yuan sign U+00A5).",
    )
    chinese_mode: bool = Field(
        default=True,
        description="Send `FS &` (Chinese character mode on) after initialising; most Chinese "
        "firmware needs it, and it is harmless where Chinese is the default.",
    )
    chinese_font: bool = Field(
        default=True,
        description="False for printers without a Chinese font: lines holding non-ASCII text are "
        "drawn with a CJK font and sent as raster images.",
    )
    qr: Literal["native", "image"] = Field(
        default="native",
        description="`native` sends `GS ( k` (about 200 bytes a ticket); `image` sends a raster "
        "picture (several kilobytes) for printers without the command.",
    )
    qr_module_dots: int = Field(default=6, ge=1, le=16, description="QR module size in dots.")
    paper_width_mm: Literal[58, 80] = Field(default=80, description="Roll width.")
    cut: Literal["full", "partial", "none"] = Field(default="partial", description="Cutter.")
    feed_before_cut: int = Field(
        default=4, ge=0, le=20, description="Lines fed so the last line clears the cutter."
    )
    answers_status: bool = Field(
        default=True,
        description="The printer answers DLE EOT. If true, no answer means trouble; if false, "
        "the status is always reported unknown and the kiosk prints blind.",
    )
    status_timeout_s: float = Field(
        default=0.3, gt=0, le=5, description="How long one DLE EOT query waits for its byte."
    )

    @property
    def dots_per_line(self) -> int:
        return DOTS_PER_LINE[self.paper_width_mm]

    @property
    def chars_per_line(self) -> int:
        return self.dots_per_line // FONT_A_WIDTH_DOTS
