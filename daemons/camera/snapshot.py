"""The picture attached to an absence alert: small, JPEG, every face outside the subject's seat
blurred. Raw video never leaves the camera daemon; this is the only image that does, and only
where the site config allows it."""

from __future__ import annotations

import base64

import cv2

from daemons.camera.faces import FaceFinder
from drivers.camera.regions import Image, PixelRegion, to_gray

SNAPSHOT_WIDTH = 320
JPEG_QUALITY = 70


def blur_faces(frame: Image, faces: FaceFinder, keep: PixelRegion | None = None) -> Image:
    """A copy of `frame` with every face blurred, except one centred in `keep`."""
    result = frame.copy()
    for x, y, w, h in faces.find(to_gray(frame)):
        cx, cy = x + w // 2, y + h // 2
        if keep is not None and keep.x0 <= cx < keep.x1 and keep.y0 <= cy < keep.y1 and keep.mask[
            cy - keep.y0, cx - keep.x0
        ]:
            continue
        pad = w // 5
        y0, y1 = max(0, y - pad), min(frame.shape[0], y + h + pad)
        x0, x1 = max(0, x - pad), min(frame.shape[1], x + w + pad)
        box = result[y0:y1, x0:x1]
        # Pixelate then blur: no detail of the face survives, even after sharpening.
        small = cv2.resize(box, (6, 6), interpolation=cv2.INTER_AREA)
        result[y0:y1, x0:x1] = cv2.GaussianBlur(
            cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR), (9, 9), 0
        )
    return result


def alert_snapshot(frame: Image, faces: FaceFinder, keep: PixelRegion | None) -> str:
    """Base64 JPEG of `frame`, faces blurred, at most SNAPSHOT_WIDTH pixels wide."""
    blurred = blur_faces(frame, faces, keep)
    height, width = blurred.shape[:2]
    if width > SNAPSHOT_WIDTH:
        size = (SNAPSHOT_WIDTH, round(height * SNAPSHOT_WIDTH / width))
        blurred = cv2.resize(blurred, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", blurred, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return base64.b64encode(data.tobytes()).decode("ascii")
