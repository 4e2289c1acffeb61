"""Empty-seat and empty-area reference pictures on disk, one PNG per region.

Written to a temporary file and renamed, so a power cut leaves the old picture or the new one,
never half of one.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2

from drivers.camera.regions import Gray


class ReferenceStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.png"

    def load(self, key: str) -> Gray | None:
        path = self.path(key)
        if not path.exists():
            return None
        picture = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        return None if picture is None else picture

    def save(self, key: str, picture: Gray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        temporary = path.with_suffix(".tmp.png")
        if not cv2.imwrite(str(temporary), picture):
            raise OSError(f"cannot write {temporary}")
        os.replace(temporary, path)
