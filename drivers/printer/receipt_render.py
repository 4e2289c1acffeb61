"""Drawing what a thermal printer would print from parsed ESC/POS operations. Used by the simulator.

Text is read the way a Chinese printer reads it: GB18030 double-byte text after `FS &`, the PC437
code page before it (so a ticket that forgets Chinese mode shows garbage here too). QR codes are
drawn from the stored data with the module size sent, as the printer's own firmware would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import qrcode
from PIL import Image, ImageDraw

from drivers.cjk_font import cjk_font
from drivers.printer import escpos_parse as ops

BASE_DOTS = 24
_ERROR_LEVELS = {48: qrcode.constants.ERROR_CORRECT_L, 49: qrcode.constants.ERROR_CORRECT_M,
                 50: qrcode.constants.ERROR_CORRECT_Q, 51: qrcode.constants.ERROR_CORRECT_H}


@dataclass
class Receipt:
    """One cut-off ticket: its text lines as read, its QR payloads, and its picture."""

    lines: list[str] = field(default_factory=list)
    qr_codes: list[str] = field(default_factory=list)
    rasters: int = 0
    unknown_bytes: list[int] = field(default_factory=list)
    image: Image.Image | None = None


class ReceiptRenderer:
    def __init__(self, width_dots: int = 576, encoding: str = "gb18030") -> None:
        self.width = width_dots
        self.encoding = encoding
        self._reset_page()

    def _reset_page(self) -> None:
        self._blocks: list[Image.Image] = []
        self.receipt = Receipt()
        self._chinese = False
        self._align = 0
        self._bold = False
        self._size = (1, 1)
        self._qr_data = b""
        self._qr_module = 3
        self._qr_error = 49

    def apply(self, op: ops.Operation) -> Receipt | None:
        """Apply one operation; returns the finished receipt when the paper is cut."""
        match op:
            case ops.Text(raw):
                self._text(raw)
            case ops.Command("init"):
                self._chinese, self._align, self._bold, self._size = False, 0, False, (1, 1)
            case ops.Command("chinese_on"):
                self._chinese = True
            case ops.Command("chinese_off"):
                self._chinese = False
            case ops.Command("align", value):
                self._align = value % 3
            case ops.Command("bold", value):
                self._bold = bool(value & 1)
            case ops.Command("size", value):
                self._size = ((value >> 4) + 1, (value & 0x0F) + 1)
            case ops.Command("feed", value):
                self._blocks.append(Image.new("1", (self.width, BASE_DOTS * value), 1))
            case ops.Command("cut"):
                return self._cut()
            case ops.QrSetting("C", value):
                self._qr_module = value
            case ops.QrSetting("E", value):
                self._qr_error = value
            case ops.QrStore(data):
                self._qr_data = data
            case ops.QrPrint():
                self._qr()
            case ops.Raster(width_bytes, height, data):
                self._raster(width_bytes, height, data)
            case ops.Unknown(byte):
                self.receipt.unknown_bytes.append(byte)
        return None

    def _decode(self, raw: bytes) -> str:
        return raw.decode(self.encoding if self._chinese else "cp437", errors="replace")

    def _text(self, raw: bytes) -> None:
        text = self._decode(raw)
        self.receipt.lines.append(text)
        _, height_mag = self._size  # width magnification is not drawn
        font = cjk_font(BASE_DOTS * height_mag)
        height = BASE_DOTS * height_mag + 4
        line = Image.new("1", (self.width, height), 1)
        draw = ImageDraw.Draw(line)
        text_width = int(draw.textlength(text, font=font))
        x = [0, (self.width - text_width) // 2, self.width - text_width][self._align]
        draw.text((max(0, x), 0), text, font=font, fill=0,
                  stroke_width=1 if self._bold else 0, stroke_fill=0)
        self._blocks.append(line)

    def _qr(self) -> None:
        data = self._qr_data.decode("utf-8", errors="replace")
        self.receipt.qr_codes.append(data)
        code = qrcode.QRCode(error_correction=_ERROR_LEVELS.get(self._qr_error, 1),
                             box_size=max(1, self._qr_module), border=4)
        code.add_data(data)
        picture = code.make_image(fill_color="black", back_color="white").get_image()
        self._place(picture.convert("1"))

    def _raster(self, width_bytes: int, height: int, data: bytes) -> None:
        self.receipt.rasters += 1
        # In GS v 0 a set bit is a black dot; in Pillow's "1" mode a set bit is white.
        picture = Image.frombytes("1", (width_bytes * 8, height), bytes(b ^ 0xFF for b in data))
        self._place(picture)

    def _place(self, picture: Image.Image) -> None:
        block = Image.new("1", (self.width, picture.height), 1)
        x = [0, (self.width - picture.width) // 2, self.width - picture.width][self._align]
        block.paste(picture, (max(0, x), 0))
        self._blocks.append(block)

    def _cut(self) -> Receipt:
        height = sum(b.height for b in self._blocks) or 1
        page = Image.new("1", (self.width, height), 1)
        y = 0
        for block in self._blocks:
            page.paste(block, (0, y))
            y += block.height
        receipt = self.receipt
        receipt.image = page.convert("L")
        self._reset_page()
        return receipt
