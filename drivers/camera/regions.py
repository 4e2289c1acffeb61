"""Normalised polygons from the site config turned into pixel masks and bounding boxes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

# 8-bit pictures: BGR `Image`s and single-channel `Gray`s. OpenCV's stubs type every result as
# integer-or-float arrays, so the aliases stay loose and the functions here keep them uint8.
Gray = NDArray[Any]
Image = NDArray[Any]


@dataclass(frozen=True)
class PixelRegion:
    """A polygon rasterised for one frame size; work is done inside its bounding box only."""

    x0: int
    y0: int
    x1: int
    y1: int
    mask: NDArray[np.bool_]  # the bounding box's pixels inside the polygon

    @property
    def pixels(self) -> int:
        return int(self.mask.sum())

    def crop(self, image: Image) -> Image:
        return image[self.y0:self.y1, self.x0:self.x1]


def rasterise(polygon: Sequence[tuple[float, float]], width: int, height: int) -> PixelRegion:
    points = np.array(
        [[round(x * (width - 1)), round(y * (height - 1))] for x, y in polygon], dtype=np.int32
    )
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0) + 1
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(canvas, [points - np.array([x0, y0], dtype=np.int32)], 1)
    return PixelRegion(int(x0), int(y0), int(x1), int(y1), canvas.astype(bool))


def to_gray(frame: Image) -> Gray:
    gray: Gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return gray
