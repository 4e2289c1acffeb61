"""RS-485 line payloads: the line daemon's devices (strips, hall screen, callers, pads).

A line daemon is node `<line id>` (e.g. `line1`); each device on it is `hall/<id>/<line>/<device>`
with a retained `status` (`online`/`offline`, from answers to polls; write-only vendor displays
follow the port), a retained `state` (`LineDeviceState`) and `event`s (`LineDeviceEvent`). The
line itself keeps `LineState` retained on `hall/<id>/<line>/state`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from hall_bus.contract.base import Message, Name, Timestamp
from hall_bus.contract.queue import RatingLevel

# The queue actions a line daemon asks for its window devices: what a caller keypad's keys do
# (drivers/line/caller_keypad.py maps each key to one) and a pad's rating. The broker's ACL grants a
# line's account exactly these (firmware_config/broker_accounts.py).
KEYPAD_ACTIONS = (
    "call_next", "recall", "skip", "transfer", "pause", "resume", "login", "logout", "finish",
)
PAD_ACTIONS = ("rate",)


class LineDeviceKind(StrEnum):
    WINDOW_STRIP = "window_strip"
    HALL_SCREEN = "hall_screen"
    CALLER = "caller"
    PAD = "pad"


class LineDeviceState(Message):
    """Retained on `hall/<id>/<line>/<device>/state`."""

    line_id: Name = Field(description="The line (daemon node) the device is on.")
    device_id: Name = Field(description="The device.")
    kind: LineDeviceKind = Field(description="What it is.")
    address: int = Field(description="Its address on the line.")
    window_id: Name | None = Field(default=None, description="Its window; null for a hall screen.")
    online: bool = Field(description="It answered recently (write-only displays: port open).")
    supervised: bool = Field(description="It answers polls; false for write-only vendor framings.")
    shown: list[str] = Field(default_factory=list, description="Lines last sent to its display.")
    problems: list[str] = Field(
        default_factory=list,
        description="What it could not display (missing glyphs, text too long), Chinese first.",
    )
    polls: int = Field(default=0, description="Polls sent since the daemon started.")
    misses: int = Field(default=0, description="Polls unanswered since the daemon started.")
    last_seen: Timestamp | None = Field(default=None, description="Its last valid answer.")


class LineDeviceEventType(StrEnum):
    KEY_PRESSED = "key_pressed"
    RATING_GIVEN = "rating_given"
    RATING_UNRATED = "rating_unrated"
    DISPLAY_PROBLEM = "display_problem"
    WENT_OFFLINE = "went_offline"
    CAME_ONLINE = "came_online"


class LineDeviceEvent(Message):
    """On `hall/<id>/<line>/<device>/event`; never retained."""

    type: LineDeviceEventType = Field(description="What happened.")
    device_id: Name = Field(description="The device.")
    window_id: Name | None = Field(default=None, description="Its window.")
    action: str | None = Field(
        default=None, description="`key_pressed`: the queue action the key asked for."
    )
    result: int | None = Field(
        default=None, description="`key_pressed`: result code shown on the keypad, 0 = OK."
    )
    ticket_id: str | None = Field(default=None, description="Rating events: the ticket.")
    level: RatingLevel | None = Field(default=None, description="`rating_given`: the level.")
    reason: str | None = Field(default=None, description="`rating_given`: the chosen reason.")
    detail: str | None = Field(default=None, max_length=500, description="Free text.")


class LineState(Message):
    """Retained on `hall/<id>/<line>/state`."""

    line_id: Name = Field(description="The line.")
    port: str = Field(description="Its serial port, pty link or socket:// URL.")
    port_open: bool = Field(description="The port is open.")
    devices_online: int = Field(description="Devices answering (or writable).")
    devices: int = Field(description="Devices configured on the line.")
    poll_cycle_ms: float | None = Field(
        default=None, description="Duration of the last full poll cycle."
    )


LINE_ENUM_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "LineDeviceKind": {
        LineDeviceKind.WINDOW_STRIP: "窗口条屏 / LED strip above a window.",
        LineDeviceKind.HALL_SCREEN: "大厅综合屏 / the hall's big LED screen.",
        LineDeviceKind.CALLER: "呼叫器 / caller keypad at a window.",
        LineDeviceKind.PAD: "评价器 / evaluation pad at a window.",
    },
    "LineDeviceEventType": {
        LineDeviceEventType.KEY_PRESSED: "A caller key was executed once and acknowledged.",
        LineDeviceEventType.RATING_GIVEN: "A pad rating was sent to the engine (see `detail` "
        "if it was refused).",
        LineDeviceEventType.RATING_UNRATED: "The citizen did not rate before the pad timed out.",
        LineDeviceEventType.DISPLAY_PROBLEM: "Text could not be shown in full (see `detail`).",
        LineDeviceEventType.WENT_OFFLINE: "The device stopped answering.",
        LineDeviceEventType.CAME_ONLINE: "The device answers again.",
    },
}
