"""The LED simulator's pictures: lit dots where the text is, dark everywhere else."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from drivers.led.render import DOTS_PER_HALF_CELL, dot_matrix, render_png, terminal_view

CALL = "请A023号到3号窗口"  # 17 half cells


def test_dots_are_lit_only_inside_the_text_cells() -> None:
    dots = dot_matrix((CALL,), columns=32, rows=1)
    assert dots.size == (32 * DOTS_PER_HALF_CELL, 16)
    lit_columns = {x for x in range(dots.width) for y in range(dots.height)
                   if dots.getpixel((x, y))}
    assert max(lit_columns) < 17 * DOTS_PER_HALF_CELL
    # Every one of the 12 characters lights at least one dot inside its own cell.
    x = 0
    for char in CALL:
        width = (2 if ord(char) > 0x7F else 1) * DOTS_PER_HALF_CELL
        assert any(x <= c < x + width for c in lit_columns), char
        x += width


def test_png_and_terminal_view(tmp_path: Path) -> None:
    path = render_png((CALL, "等候: A3"), 32, 2, tmp_path / "strip.png")
    with Image.open(path) as picture:
        assert picture.size[0] > 32 * DOTS_PER_HALF_CELL and picture.mode == "RGB"
        assert (255, 60, 30) in {colour for _, colour in picture.getcolors(1 << 16) or []}
    assert terminal_view((CALL,), 20, 1).splitlines()[1] == "|" + CALL + "   |"
