"""Camera supervision settings: which camera watches which window seats and the waiting area.

Regions are polygons in normalised image coordinates (0..1 from the top-left corner), so a camera
can be replaced by one of another resolution without redrawing them. The grace period before a
seat counts as absent is the site's `thresholds.staff_absent_min`, shared with the queue engine.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Name = Annotated[str, Field(pattern=r"^[a-z0-9_-]+$", min_length=1, max_length=64)]
Point = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _polygon_area(points: list[Point]) -> float:
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


class _Region(_Strict):
    polygon: list[Point] = Field(
        min_length=3, max_length=32,
        description="Corners [x, y] in normalised image coordinates (0..1, origin top-left).",
    )

    @model_validator(mode="after")
    def _not_degenerate(self) -> Self:
        if _polygon_area(self.polygon) < 0.001:
            raise ValueError("polygon: encloses (almost) no area")
        return self


class SeatConfig(_Region):
    window: Name = Field(description="Window whose staff seat this is.")
    occupied_change: float = Field(
        default=0.35, gt=0, lt=1,
        description="Share of the seat that differs from the empty-seat reference above which "
        "the seat is occupied.",
    )
    empty_change: float = Field(
        default=0.12, gt=0, lt=1,
        description="Below this share the seat is confidently empty (and the reference may be "
        "refreshed); between the two, only a face or motion counts as presence.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.empty_change >= self.occupied_change:
            raise ValueError("empty_change must be below occupied_change")
        return self


class WaitingAreaConfig(_Region):
    person_area: float = Field(
        default=0.012, gt=0, lt=1,
        description="Typical area of one person in the region, as a share of the whole image.",
    )
    levels: list[Annotated[int, Field(ge=1, le=10000)]] = Field(
        default=[15, 40], min_length=1, max_length=4,
        description="People counts at which the crowding level rises: level 1 (busy) at the "
        "first, level 2 (crowded) at the second, and so on.",
    )
    hysteresis: int = Field(
        default=3, ge=0, le=1000,
        description="A level falls only once the count is this many below its threshold.",
    )

    @model_validator(mode="after")
    def _rising(self) -> Self:
        if any(b <= a for a, b in zip(self.levels, self.levels[1:], strict=False)):
            raise ValueError("levels: must rise strictly")
        return self


class CameraConfig(_Strict):
    name: Name = Field(description="Used in `hall camera --camera NAME` and in bus topics.")
    source: str = Field(
        min_length=1, max_length=500,
        description="rtsp://… URL, `usb:N` (V4L2 device index), a video file path, or "
        "`generated:<scene>` (a simulated scene for tests and the demo).",
    )
    analysis_fps: float = Field(default=2.0, gt=0, le=30, description="Frames analysed a second.")
    width: int = Field(default=640, ge=160, le=3840, description="Analysis width in pixels.")
    height: int = Field(default=360, ge=90, le=2160, description="Analysis height in pixels.")
    seats: list[SeatConfig] = Field(default_factory=list, max_length=16)
    waiting_area: WaitingAreaConfig | None = None
    snapshot_on_alert: bool = Field(
        default=False,
        description="Attach a small JPEG (faces blurred) to absence alerts; off unless the hall "
        "has the right to keep such pictures.",
    )
    clear_after_s: float = Field(
        default=3.0, gt=0, le=120, description="Presence evidence needed to end an absence."
    )
    frozen_after_s: float = Field(
        default=10.0, gt=0, le=600, description="Unchanged picture this long is a frozen camera."
    )
    stall_after_s: float = Field(
        default=5.0, gt=0, le=600,
        description="No frame this long: the stream is restarted and reported stalled.",
    )

    @model_validator(mode="after")
    def _seats_unique(self) -> Self:
        seen: set[str] = set()
        for index, seat in enumerate(self.seats):
            if seat.window in seen:
                raise ValueError(f"seats.{index}.window: {seat.window!r} listed twice")
            seen.add(seat.window)
        return self


def check_cameras(cameras: list[CameraConfig], window_ids: set[str]) -> None:
    """Cross-checks against the rest of the site; raises ValueError naming the path."""
    names: set[str] = set()
    for index, camera in enumerate(cameras):
        if camera.name in names:
            raise ValueError(f"cameras.{index}.name: duplicate {camera.name!r}")
        names.add(camera.name)
        for j, seat in enumerate(camera.seats):
            if seat.window not in window_ids:
                raise ValueError(
                    f"cameras.{index}.seats.{j}.window: unknown window {seat.window!r}"
                )
