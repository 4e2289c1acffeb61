"""Haar frontal-face detection with the cascade that ships inside opencv-python-headless 4.x.

Nothing is downloaded: the XML file is part of the wheel (`cv2.data.haarcascades`).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from drivers.camera.regions import Gray

CASCADE = "haarcascade_frontalface_default.xml"


class FaceFinder:
    def __init__(self) -> None:
        path = Path(cv2.data.haarcascades) / CASCADE  # type: ignore[attr-defined]
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RuntimeError(f"cannot load the face cascade {path}")

    def find(self, gray: Gray, min_size: int = 24) -> list[tuple[int, int, int, int]]:
        """Face boxes (x, y, w, h) in `gray`."""
        found = self._cascade.detectMultiScale(
            cv2.equalizeHist(gray), scaleFactor=1.15, minNeighbors=5, minSize=(min_size, min_size)
        )
        return [tuple(int(v) for v in box) for box in np.asarray(found).reshape(-1, 4)]  # type: ignore[misc]
