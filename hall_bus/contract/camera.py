"""Camera supervision payloads: derived facts only, never video.

A camera daemon publishes on `hall/<id>/camera/<name>/…`: its retained `state` (camera health, every
seat's presence, the waiting-area count) and `event`s (presence changes, absences, crowding levels,
faults). A snapshot travels only with an absence alert, only where the site allows it, scaled down
and with faces other than the absent subject's blurred.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from hall_bus.contract.base import Message, Name, Timestamp


class CameraHealth(StrEnum):
    STARTING = "starting"  # no frame analysed yet
    OK = "ok"
    FROZEN = "frozen"  # the picture stopped changing
    BLACK = "black"  # no light: lens capped, lamp off, signal lost
    COVERED = "covered"  # something in front of the lens: a flat, featureless picture
    STALLED = "stalled"  # no frames arrive; the stream is being restarted
    NO_REFERENCE = "no_reference"  # seats configured but no empty-seat reference stored


class SeatState(StrEnum):
    UNKNOWN = "unknown"  # camera fault or not yet decided
    PRESENT = "present"
    EMPTY = "empty"  # nobody seated, within the grace period or window not open
    ABSENT = "absent"  # nobody seated for longer than the grace period while the window is open


class CameraEventType(StrEnum):
    PRESENCE_CHANGED = "presence_changed"
    ABSENCE_STARTED = "absence_started"
    ABSENCE_ENDED = "absence_ended"
    CROWDING_CHANGED = "crowding_changed"
    CAMERA_FAULT = "camera_fault"
    CAMERA_RECOVERED = "camera_recovered"


CROWDING_LABELS = ("空闲 / calm", "繁忙 / busy", "拥挤 / crowded", "严重拥挤 / very crowded",
                   "超负荷 / overloaded")


class SeatView(BaseModel):
    window_id: Name = Field(description="Window whose staff seat it is.")
    state: SeatState = Field(description="Presence at the seat.")
    since: Timestamp = Field(description="When `state` began.")
    empty_since: Timestamp | None = Field(
        default=None, description="Start of the current stretch without presence; null if seated."
    )


# Crowding level from which the engine raises a supervision alert a manager acknowledges: level 2
# is the second configured threshold ("拥挤 / crowded"); level 1 ("busy") is normal at a peak and
# stays in the event feed only. The console shows the levels below it as plain events.
CROWDED_ALERT_LEVEL = 2


class WaitingAreaView(BaseModel):
    count: int = Field(description="Estimated people in the waiting area (smoothed).")
    level: int = Field(description="Crowding level: 0 calm, then one per configured threshold.")
    label: str = Field(description="Chinese / English name of `level`.")


class CameraState(Message):
    """Retained on `hall/<id>/camera/<name>/state`."""

    camera: Name = Field(description="The camera.")
    health: CameraHealth = Field(description="Whether its picture can be trusted.")
    analysed_fps: float = Field(description="Frames analysed per second, recent average.")
    seats: list[SeatView] = Field(description="Every seat it watches, in config order.")
    waiting_area: WaitingAreaView | None = Field(
        default=None, description="The waiting-area estimate, if it watches one."
    )


class CameraEvent(Message):
    """On `hall/<id>/camera/<name>/event`; never retained."""

    type: CameraEventType = Field(description="What happened.")
    camera: Name = Field(description="The camera that saw it.")
    window_id: Name | None = Field(default=None, description="Window of the seat concerned.")
    staff_id: str | None = Field(
        default=None, description="Staff member logged in at that window, if known."
    )
    state: SeatState | None = Field(default=None, description="New seat state (seat events).")
    absent_since: Timestamp | None = Field(
        default=None,
        description="Start of the absence (`absence_started`, `absence_ended`): when the seat "
        "became empty, or when the window opened if that was later. The queue engine raises one "
        "`staff_absent` alert per window and `absent_since`.",
    )
    absent_s: int | None = Field(default=None, description="Seconds without presence so far.")
    grace_s: int | None = Field(default=None, description="The grace period that was exceeded.")
    count: int | None = Field(default=None, description="People counted (`crowding_changed`).")
    level: int | None = Field(default=None, description="New crowding level.")
    health: CameraHealth | None = Field(
        default=None, description="Camera health (`camera_fault`, `camera_recovered`)."
    )
    message: str = Field(description="Chinese first, then English.")
    snapshot_jpeg_b64: str | None = Field(
        default=None,
        max_length=200_000,
        description="`absence_started` only, where the site allows: a JPEG at most 320 px wide, "
        "base64, with faces blurred.",
    )


ENUM_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "CameraHealth": {
        CameraHealth.STARTING: "No frame analysed yet.",
        CameraHealth.OK: "The picture can be trusted.",
        CameraHealth.FROZEN: "The picture stopped changing (stuck encoder or stream).",
        CameraHealth.BLACK: "A dark picture: lens capped, lights off or signal lost.",
        CameraHealth.COVERED: "A featureless picture: something in front of the lens.",
        CameraHealth.STALLED: "No frames arrive; the stream is being reopened.",
        CameraHealth.NO_REFERENCE: "Seats configured but no empty-seat reference taken yet.",
    },
    "SeatState": {
        SeatState.UNKNOWN: "Camera fault or not decided yet; never counts as absent.",
        SeatState.PRESENT: "Somebody in the seat.",
        SeatState.EMPTY: "Nobody in the seat (within the grace period, or window not open).",
        SeatState.ABSENT: "Empty for the grace period while the window is open.",
    },
    "CameraEventType": {
        CameraEventType.PRESENCE_CHANGED: "A seat's state changed (`state`).",
        CameraEventType.ABSENCE_STARTED: "An open window's seat stayed empty for the grace "
        "period; the queue engine raises `staff_absent`.",
        CameraEventType.ABSENCE_ENDED: "The staff member returned, the window closed, or the "
        "camera failed.",
        CameraEventType.CROWDING_CHANGED: "The waiting area's crowding level changed.",
        CameraEventType.CAMERA_FAULT: "The picture cannot be trusted (`health`).",
        CameraEventType.CAMERA_RECOVERED: "The picture is good again.",
    },
}

EVENT_MODELS: dict[str, type[Message]] = {
    "camera/<name>/event": CameraEvent,
    "camera/<name>/state": CameraState,
}
