"""Finding a CJK font on this machine, for printers without one and for the simulator.

`.ci/bootstrap` installs Debian's fonts-wqy-zenhei; other CJK fonts are accepted if present.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PIL import ImageFont

CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


class NoCjkFont(RuntimeError):
    """No font with Chinese glyphs is installed."""


@cache
def cjk_font_path() -> Path:
    for candidate in CANDIDATES:
        path = Path(candidate)
        if path.is_file():
            return path
    raise NoCjkFont(
        "没有中文字体 / no CJK font installed: apt-get install fonts-wqy-zenhei "
        f"(looked for {', '.join(CANDIDATES)})"
    )


@cache
def cjk_font(size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(cjk_font_path()), size_px)
