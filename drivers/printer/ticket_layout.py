"""What a queue ticket and a one-time notification sheet (一次性告知单) look like, as ESC/POS bytes.

Pure: content and a printer profile in, bytes out. The layout is the same for every printer; the
profile decides how Chinese text, the QR code and the cut are expressed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

from drivers.cjk_font import cjk_font
from drivers.led.text import char_width
from drivers.printer import escpos_codec as codec
from firmware_config.printer_profile import PrinterProfile

LINE_DOTS = 24  # font A glyph height; a CJK glyph is 24 x 24
# A Latin word or number stays in one piece; anything else may break after any character.
_TOKENS = re.compile(r"[A-Za-z0-9.,:;!?'()/%+-]+|\s+|.")


def wrap_columns(text: str, columns: int) -> list[str]:
    """Lines of at most `columns` half-width columns (a CJK character takes two).

    The printer would wrap too, but in the middle of a word and with the rest of the line
    starting wherever it fell; wrapping here keeps words whole and lines aligned.
    """
    lines: list[str] = []
    current, used = "", 0
    for token in _TOKENS.findall(text):
        width = sum(char_width(char) for char in token)
        if token.isspace():
            if used and used + width <= columns:
                current, used = current + token, used + width
            continue
        if used + width > columns and current:
            lines.append(current.rstrip())
            current, used = "", 0
        while width > columns:  # a word longer than a whole line
            head, head_width = "", 0
            for char in token:
                if head_width + char_width(char) > columns:
                    break
                head, head_width = head + char, head_width + char_width(char)
            lines.append(head)
            token = token[len(head):]
            width -= head_width
        current, used = current + token, used + width
    if current or not lines:
        lines.append(current.rstrip())
    return lines


@dataclass(frozen=True)
class TicketContent:
    hall_name: str
    number: str
    service_name: str
    people_ahead: int | None
    estimated_wait_min: int | None
    issued_at: str  # local time as printed, e.g. 2024-03-04 09:05
    window_hint: str
    qr_url: str | None
    notice: str


@dataclass(frozen=True)
class NoticeSheet:
    """一次性告知单: everything the citizen must bring and know, told once, in writing."""

    hall_name: str
    service_name: str
    materials: list[str]
    time_limit: str
    fees: str
    legal_basis: list[str]
    issued_at: str
    footer: str = ""
    extra: list[str] = field(default_factory=list)


class _Lines:
    """Collects ticket bytes; text goes through the profile's encoding or the image fallback."""

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile
        self.out = bytearray(codec.INITIALISE)
        if profile.chinese_mode and profile.chinese_font:
            self.out += codec.CHINESE_MODE_ON

    def text(self, text: str, *, align: codec.Align = "left", size: int = 1,
             bold: bool = False) -> None:
        for line in wrap_columns(text, self.profile.chars_per_line // size):
            self._line(line, align=align, size=size, bold=bold)

    def _line(self, text: str, *, align: codec.Align, size: int, bold: bool) -> None:
        self.out += codec.align(align)
        if not self.profile.chinese_font and not text.isascii():
            self.out += codec.raster_image(
                _draw_line(text, size, align, self.profile), self.profile
            )
            return
        if size != 1:
            self.out += codec.char_size(size, size)
        if bold:
            self.out += codec.bold(True)
        self.out += codec.encode_text(text, self.profile) + codec.LF
        if bold:
            self.out += codec.bold(False)
        if size != 1:
            self.out += codec.char_size(1, 1)

    def rule(self) -> None:
        self.text("-" * self.profile.chars_per_line)

    def qr(self, data: str) -> None:
        self.out += codec.align("center")
        if self.profile.qr == "native":
            self.out += codec.qr_native(data, self.profile.qr_module_dots, self.profile)
        else:
            self.out += codec.qr_image(data, self.profile.qr_module_dots, self.profile)
        self.out += codec.align("left")

    def finish(self) -> bytes:
        self.out += codec.cut(self.profile)
        return bytes(self.out)


def render_ticket(content: TicketContent, profile: PrinterProfile) -> bytes:
    lines = _Lines(profile)
    lines.text(content.hall_name, align="center", bold=True)
    lines.rule()
    lines.text(content.number, align="center", size=4, bold=True)
    lines.text(content.service_name, align="center", size=2)
    if content.people_ahead is not None:
        lines.text(f"前面等候 {content.people_ahead} 人  People ahead: {content.people_ahead}")
    if content.estimated_wait_min is not None:
        minutes = content.estimated_wait_min
        lines.text(f"预计等候 {minutes} 分钟  Est. wait: {minutes} min")
    lines.text(f"取号时间 Time: {content.issued_at}")
    lines.text(content.window_hint)
    if content.qr_url:
        lines.qr(content.qr_url)
        lines.text("扫码查看排队进度 Scan to follow the queue", align="center")
    lines.rule()
    lines.text(content.notice)
    return lines.finish()


def render_notice_sheet(sheet: NoticeSheet, profile: PrinterProfile) -> bytes:
    lines = _Lines(profile)
    lines.text(sheet.hall_name, align="center", bold=True)
    lines.text("一次性告知单", align="center", size=2, bold=True)
    lines.text(sheet.service_name, align="center", bold=True)
    lines.rule()
    lines.text("所需材料 / Materials:", bold=True)
    for index, material in enumerate(sheet.materials, start=1):
        lines.text(f"{index}. {material}")
    lines.text("办理时限 / Time limit:", bold=True)
    lines.text(sheet.time_limit)
    lines.text("收费标准 / Fees:", bold=True)
    lines.text(sheet.fees)
    lines.text("设定依据 / Legal basis:", bold=True)
    for basis in sheet.legal_basis:
        lines.text(basis)
    for extra in sheet.extra:
        lines.text(extra)
    lines.rule()
    lines.text(f"打印时间 Printed: {sheet.issued_at}")
    if sheet.footer:
        lines.text(sheet.footer)
    return lines.finish()


def _draw_line(text: str, size: int, align: codec.Align, profile: PrinterProfile) -> Image.Image:
    font = cjk_font(LINE_DOTS * size)
    width = profile.dots_per_line
    image = Image.new("1", (width, LINE_DOTS * size + 4), 1)
    draw = ImageDraw.Draw(image)
    text_width = int(draw.textlength(text, font=font))
    x = {"left": 0, "center": (width - text_width) // 2, "right": width - text_width}[align]
    draw.text((max(0, x), 0), text, font=font, fill=0)
    return image
