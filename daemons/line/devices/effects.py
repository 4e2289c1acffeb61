"""What a line device asks its daemon to do.

Devices keep one device's view and conversation and do no I/O: each of their methods returns a
list of effects, and the line daemon carries them out on its thread (daemons/line/daemon.py
`_apply`). So a press is one call into the device and one pass over what it returned, instead
of the device and the daemon calling each other back and forth.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from daemons.line.press_memory import PressRecord
from daemons.line.scheduler import Lane
from drivers.line.frame import Frame
from hall_bus.contract import Response
from hall_bus.contract.line import LineDeviceEventType

if TYPE_CHECKING:
    from daemons.line.devices.base import LineDevice


@dataclass
class WriteJob:
    """One frame for the line: built when its turn comes (the frame seq is the line's)."""

    device: LineDevice
    build: Callable[[int], bytes]  # frame seq -> wire bytes
    expects_reply: bool
    on_reply: Callable[[Frame], list[Effect]] | None = None
    replaces: bool = False  # a display's newest text supersedes its text still waiting to go
    lane: Lane = Lane.ROUTINE  # set by the line when queued
    queued_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Write:
    """Queue a frame in a lane of the line's scheduler."""

    job: WriteJob
    lane: Lane


@dataclass(frozen=True)
class AskEngine:
    """Send a queue request (same id on every attempt) and hand the answer back to the device;
    `answered` gets None when the engine never answered."""

    action: str
    fields: dict[str, Any]
    request_id: str
    attempts: int
    answered: Answered


@dataclass(frozen=True)
class PublishEvent:
    """A `LineDeviceEvent` of this device on the bus."""

    type: LineDeviceEventType
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StateChanged:
    """The device's retained state is out of date: republish it."""


@dataclass(frozen=True)
class RememberPress:
    """Store this press record of the device on disk before anything else happens."""

    record: PressRecord


Effect = Write | AskEngine | PublishEvent | StateChanged | RememberPress
Answered = Callable[[Response | None], list[Effect]]
