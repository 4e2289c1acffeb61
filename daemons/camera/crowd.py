"""How many people wait in the waiting area, and how crowded it is.

People are counted as blobs that differ from the empty-area reference taken at installation: the
reference is first scaled by the median brightness ratio, which cancels a change of lighting as
long as less than half of the area is covered. A blob larger than one person counts as several
(people standing close merge into one blob). The count is smoothed by a median over the last few
analyses, and levels change with hysteresis so that a count hovering at a threshold does not send
an event on every frame.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from drivers.camera.regions import Gray, PixelRegion

DIFF_LEVEL = 28  # grey levels a pixel must differ by to be foreground
SMOOTHING = 5  # analyses in the median
MIN_SHARE_OF_PERSON = 0.35  # a blob smaller than this share of a person is noise


@dataclass(frozen=True)
class LevelChange:
    level: int
    count: int


class PeopleCounter:
    def __init__(self, region: PixelRegion, person_px: float, reference: Gray | None = None):
        self.region = region
        self.person_px = person_px
        self._reference: Gray | None = None
        if reference is not None:
            self.set_reference(reference)
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    @property
    def has_reference(self) -> bool:
        return self._reference is not None

    @property
    def reference(self) -> Gray | None:
        return self._reference

    def set_reference(self, area_gray: Gray) -> None:
        if area_gray.shape != self.region.mask.shape:
            raise ValueError(f"reference is {area_gray.shape}, area needs {self.region.mask.shape}")
        self._reference = cv2.GaussianBlur(area_gray, (5, 5), 0)

    def capture_reference(self, gray: Gray) -> Gray:
        crop = self.region.crop(gray).copy()
        self.set_reference(crop)
        return crop

    def count(self, gray: Gray) -> int:
        if self._reference is None:
            raise RuntimeError("waiting area has no empty-area reference")
        current = cv2.GaussianBlur(self.region.crop(gray), (5, 5), 0).astype(np.float32)
        reference = self._reference.astype(np.float32)
        inside = self.region.mask
        gain = float(np.median(current[inside] / np.maximum(reference[inside], 1.0)))
        foreground = (np.abs(current - gain * reference) > DIFF_LEVEL) & inside
        mask = cv2.morphologyEx(foreground.astype(np.uint8), cv2.MORPH_OPEN, self._kernel)
        blobs, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        people = 0
        for area in stats[1:blobs, cv2.CC_STAT_AREA]:
            share = float(area) / self.person_px
            if share >= MIN_SHARE_OF_PERSON:
                people += max(1, round(share))
        return people


class CrowdingLevels:
    def __init__(self, thresholds: list[int], hysteresis: int) -> None:
        self.thresholds = thresholds
        self.hysteresis = hysteresis
        self.level = 0
        self.count = 0
        self._recent: deque[int] = deque(maxlen=SMOOTHING)

    def update(self, raw_count: int) -> LevelChange | None:
        self._recent.append(raw_count)
        self.count = int(np.median(list(self._recent)))
        level = self.level
        while level < len(self.thresholds) and self.count >= self.thresholds[level]:
            level += 1
        while level > 0 and self.count < self.thresholds[level - 1] - self.hysteresis:
            level -= 1
        if level == self.level:
            return None
        self.level = level
        return LevelChange(level, self.count)
