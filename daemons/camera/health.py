"""Camera faults from the picture itself: frozen, black, covered.

A real sensor never repeats a frame bit for bit: noise changes some pixels in every frame, so a
picture that stays exactly the same for `frozen_after_s` comes from a stuck encoder or a player
looping one frame. (An H.264 stream can repeat a still scene exactly between key frames; the
default `frozen_after_s` of 10 s is longer than the usual 1-4 s key-frame interval, and should
stay longer than the camera's.) Black is a dark picture; covered is a picture without structure
(a hand or a cloth on the lens), told apart from a quiet scene by its lack of edges. During a
fault nothing may be concluded about the seats.
"""

from __future__ import annotations

import cv2
import numpy as np

from drivers.camera.regions import Gray
from hall_bus.contract.camera import CameraHealth

BLACK_MEAN = 18.0  # mean grey level below this is a black picture
COVERED_EDGE_SHARE = 0.004  # share of edge pixels below this is a featureless picture
FROZEN_MEAN_DIFF = 0.02  # mean absolute change below this counts as an identical frame


class HealthCheck:
    def __init__(self, frozen_after_s: float) -> None:
        self.frozen_after_s = frozen_after_s
        self._previous: Gray | None = None
        self._unchanged_since: float | None = None

    def check(self, gray: Gray, now: float) -> CameraHealth:
        small = gray[::2, ::2]
        frozen = self._frozen(small, now)
        if float(small.mean()) < BLACK_MEAN:
            return CameraHealth.BLACK
        if frozen:
            return CameraHealth.FROZEN
        edges = cv2.Canny(small, 40, 120)
        if float(np.count_nonzero(edges)) / edges.size < COVERED_EDGE_SHARE:
            return CameraHealth.COVERED
        return CameraHealth.OK

    def _frozen(self, small: Gray, now: float) -> bool:
        previous, self._previous = self._previous, small
        if previous is None or previous.shape != small.shape:
            self._unchanged_since = None
            return False
        change = float(cv2.absdiff(previous, small).mean())
        if change >= FROZEN_MEAN_DIFF:
            self._unchanged_since = None
            return False
        if self._unchanged_since is None:
            self._unchanged_since = now
        return now - self._unchanged_since >= self.frozen_after_s
