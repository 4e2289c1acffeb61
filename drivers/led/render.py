"""What a citizen sees on a simulated LED display: a dot-matrix picture (PNG) or a terminal view.

Text is drawn with a CJK font at one dot per pixel (16 dots per line, 8 per half cell, as the
controllers' 16x16 fonts do), then every dot becomes a lit or dark LED. The picture is only as
faithful as the simulator's state: it shows the lines the device accepted, in their layout.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from drivers.cjk_font import cjk_font
from drivers.led.text import char_width

DOTS_PER_ROW = 16
DOTS_PER_HALF_CELL = 8
PITCH = 6  # picture pixels per LED dot
LIT = (255, 60, 30)
DARK = (45, 12, 8)
BACKGROUND = (10, 10, 10)


def dot_matrix(lines: tuple[str, ...], columns: int, rows: int) -> Image.Image:
    """A 1-bit image, one pixel per LED, of `lines` on a `columns` x `rows` display."""
    image = Image.new("1", (columns * DOTS_PER_HALF_CELL, rows * DOTS_PER_ROW), 0)
    draw = ImageDraw.Draw(image)
    font = cjk_font(DOTS_PER_ROW)
    for row, line in enumerate(lines[:rows]):
        x = 0
        for char in line:
            # Each character in its own cell, as the controller's font ROM places it.
            draw.text((x, row * DOTS_PER_ROW), char, font=font, fill=1)
            x += char_width(char) * DOTS_PER_HALF_CELL
    return image


def render_png(lines: tuple[str, ...], columns: int, rows: int, path: Path) -> Path:
    picture = render_image(lines, columns, rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return path


def render_image(lines: tuple[str, ...], columns: int, rows: int) -> Image.Image:
    """The display as a picture: every dot a lit or dark LED."""
    dots = dot_matrix(lines, columns, rows)
    picture = Image.new("RGB", (dots.width * PITCH + PITCH, dots.height * PITCH + PITCH),
                        BACKGROUND)
    draw = ImageDraw.Draw(picture)
    pixels = dots.load()
    assert pixels is not None
    for y in range(dots.height):
        for x in range(dots.width):
            left, top = x * PITCH + PITCH // 2, y * PITCH + PITCH // 2
            colour = LIT if pixels[x, y] else DARK
            draw.ellipse((left, top, left + PITCH - 2, top + PITCH - 2), fill=colour)
    return picture


def terminal_view(lines: tuple[str, ...], columns: int, rows: int) -> str:
    """The display as text in a frame, for logs and the console."""
    border = "+" + "-" * columns + "+"
    body = []
    for row in range(rows):
        line = lines[row] if row < len(lines) else ""
        pad = max(0, columns - sum(char_width(c) for c in line))
        body.append("|" + line + " " * pad + "|")
    return "\n".join([border, *body, border])
