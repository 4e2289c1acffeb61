"""Is somebody in a window's staff seat? Three cues, one verdict per analysed frame.

* Difference from the empty-seat reference (taken at installation): each picture is reduced, then
  normalised to zero mean and unit spread inside the seat polygon, so a lamp switched on or off
  (a gain and offset on every pixel) leaves it unchanged while a body in the chair changes a large
  share of it. This is the main cue: unlike background subtraction it does not forget a person who
  sits still.
* A frontal face inside the seat polygon: proof of presence, absent when the person looks down.
* Motion in the polygon (MOG2 foreground): someone moving there. MOG2 absorbs a still person into
  its background within a minute, so it only tips an undecided difference towards presence.

The reference is refreshed only when the seat has been confidently empty (small difference, no
face, no motion) for `REFRESH_AFTER_S`, so slow changes (daylight, a moved chair later put back)
do not pile up, and a seated person can never become the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from daemons.camera.faces import FaceFinder
from drivers.camera.regions import Gray, PixelRegion

REDUCE = 4  # the reference comparison works on a picture this many times smaller
Z_THRESHOLD = 0.6  # a reduced pixel differs when its normalised values differ by more than this
MOTION_SHARE = 0.04  # share of moving pixels that counts as motion in the seat
REFRESH_AFTER_S = 60.0


@dataclass(frozen=True)
class SeatObservation:
    occupied: bool
    change: float  # share of the seat that differs from the reference
    face: bool
    motion: float  # share of the seat moving
    confidently_empty: bool


def _normalised(gray: Gray, mask: NDArray[np.bool_]) -> NDArray[np.float32]:
    values = gray.astype(np.float32)
    inside = values[mask]
    spread = float(inside.std())
    return (values - float(inside.mean())) / max(spread, 4.0)


class SeatDetector:
    def __init__(
        self,
        region: PixelRegion,
        occupied_change: float,
        empty_change: float,
        faces: FaceFinder,
        reference: Gray | None = None,
        on_reference: Callable[[Gray], None] | None = None,
    ) -> None:
        self.region = region
        self.occupied_change = occupied_change
        self.empty_change = empty_change
        self._faces = faces
        self._on_reference = on_reference
        width, height = region.x1 - region.x0, region.y1 - region.y0
        self._small_size = (max(width // REDUCE, 4), max(height // REDUCE, 4))
        small_mask = cv2.resize(
            region.mask.astype(np.uint8), self._small_size, interpolation=cv2.INTER_NEAREST
        )
        self._small_mask = small_mask.astype(bool)
        self._reference: NDArray[np.float32] | None = None
        self._reference_raw: Gray | None = None
        if reference is not None:
            self.set_reference(reference)
        self._motion = cv2.createBackgroundSubtractorMOG2(
            history=120, varThreshold=25, detectShadows=False
        )
        self._empty_since: float | None = None

    @property
    def has_reference(self) -> bool:
        return self._reference is not None

    @property
    def reference(self) -> Gray | None:
        return self._reference_raw

    def set_reference(self, seat_gray: Gray) -> None:
        """Store the empty-seat picture (the seat's bounding box of a grey frame)."""
        if seat_gray.shape != self.region.mask.shape:
            raise ValueError(
                f"reference is {seat_gray.shape}, seat needs {self.region.mask.shape}"
            )
        self._reference_raw = seat_gray.copy()
        self._reference = _normalised(self._reduce(seat_gray), self._small_mask)

    def capture_reference(self, gray: Gray) -> Gray:
        crop = self.region.crop(gray).copy()
        self.set_reference(crop)
        return crop

    def _reduce(self, crop: Gray) -> Gray:
        reduced: Gray = cv2.resize(crop, self._small_size, interpolation=cv2.INTER_AREA)
        return reduced

    def observe(self, gray: Gray, now: float, *, look_for_face: bool = True) -> SeatObservation:
        if self._reference is None:
            raise RuntimeError("seat has no empty-seat reference")
        crop = self.region.crop(gray)
        current = _normalised(self._reduce(crop), self._small_mask)
        differs = np.abs(current - self._reference) > Z_THRESHOLD
        change = float(differs[self._small_mask].mean())
        moving = self._motion.apply(crop)
        motion = float(np.count_nonzero(moving[self.region.mask])) / max(self.region.pixels, 1)
        # A face settles only the undecided middle band; elsewhere the difference already has.
        undecided = self.empty_change <= change < self.occupied_change
        face = look_for_face and undecided and self._face_inside(crop)
        occupied = (
            face
            or change >= self.occupied_change
            or (motion >= MOTION_SHARE and change >= self.empty_change)
        )
        confidently_empty = change < self.empty_change and motion < MOTION_SHARE and not face
        self._maybe_refresh(crop, now, confidently_empty)
        return SeatObservation(occupied, change, face, motion, confidently_empty)

    def _face_inside(self, crop: Gray) -> bool:
        for x, y, w, h in self._faces.find(crop):
            cx, cy = x + w // 2, y + h // 2
            if self.region.mask[cy, cx]:
                return True
        return False

    def _maybe_refresh(self, crop: Gray, now: float, confidently_empty: bool) -> None:
        if not confidently_empty:
            self._empty_since = None
            return
        if self._empty_since is None:
            self._empty_since = now
        elif now - self._empty_since >= REFRESH_AFTER_S:
            self._empty_since = now
            self.set_reference(crop)
            if self._on_reference is not None:
                self._on_reference(crop.copy())
