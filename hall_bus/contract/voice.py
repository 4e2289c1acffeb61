"""The voice announcer's payloads: its retained state on `hall/<id>/voice/state`.

The announcer listens to the queue's `ticket_called` / `ticket_recalled` events and says what it
does in this state: per audio zone the backlog, the load policy in force and why, the last
announcement, and the health of the audio output; for the hall the voice pack's problems.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from hall_bus.contract.base import Message, Timestamp


class VoicePolicy(StrEnum):
    """How much the announcer says per call; it picks the lightest that keeps every call on time."""

    NORMAL = "normal"  # every call in full, repeated, in every language
    SINGLE = "single"  # repeats dropped: each call said once
    MERGED = "merged"  # adjacent calls merged into one announcement, short form, first language
    TERSE = "terse"  # merged, and each call cut to its ticket and window number
    COMPRESSED = "compressed"  # terse, and the audio played faster at the same pitch


class AnnouncementKind(StrEnum):
    CALL = "call"
    NOTICE = "notice"


class SinkHealth(BaseModel):
    kind: str = Field(description="`file` or `alsa`.")
    target: str = Field(description="Folder or ALSA device the zone plays to.")
    ok: bool = Field(description="The last announcement reached the output.")
    error: str | None = Field(default=None, description="Why the output failed; retried.")
    failures: int = Field(default=0, description="Failed attempts since the last success.")


class LastAnnouncement(BaseModel):
    kind: AnnouncementKind = Field(description="A call (or merged calls) or a notice.")
    text: str = Field(description="Transcript of what was said.")
    tickets: list[str] = Field(default_factory=list, description="Ticket numbers called.")
    policy: VoicePolicy = Field(description="Policy it was rendered under.")
    started_at: Timestamp = Field(description="When its first sample went to the output.")
    duration_s: float = Field(description="Length of the rendered audio.")
    speed: float = Field(
        default=1.0, description="Time compression applied (1 = natural pace; pitch is kept)."
    )
    worst_delay_s: float = Field(
        default=0.0, description="Longest time from a call's event to its words starting."
    )


class ZoneVoiceState(BaseModel):
    zone: str = Field(description="Audio zone (the windows' `zone`).")
    backlog: int = Field(description="Calls waiting to be announced.")
    policy: VoicePolicy = Field(description="Load policy in force.")
    policy_reason: str = Field(description="Why that policy (Chinese / English).")
    speed: float = Field(
        default=1.0,
        description="Time compression of the policy in force (1 = natural pace; above 1 only "
        "under `compressed`).",
    )
    volume: int = Field(description="Volume in percent now; 0 in quiet hours.")
    last: LastAnnouncement | None = Field(default=None, description="The latest announcement.")
    sink: SinkHealth = Field(description="Health of the zone's audio output.")
    calls_spoken: int = Field(default=0, description="Calls announced since start.")
    repeats_dropped: int = Field(
        default=0, description="Repeats not said under load, and recalls of a call still queued."
    )
    superseded: int = Field(
        default=0,
        description="Queued calls dropped because their window called someone else (only when "
        "`drop_superseded` is on).",
    )
    merged: int = Field(default=0, description="Calls announced inside a merged announcement.")
    late: int = Field(default=0, description="Calls that started after the maximum delay.")
    muted: int = Field(default=0, description="Calls not said because of quiet hours.")
    worst_delay_s: float = Field(default=0.0, description="Longest call delay since start.")


class VoiceState(Message):
    """Retained on `hall/<id>/voice/state`; republished on every change and reconnect."""

    hall_id: str = Field(description="The hall.")
    max_delay_s: float = Field(description="Configured maximum delay from event to call start.")
    drop_superseded: bool = Field(
        default=False,
        description="Whether a queued call is dropped when its window calls someone else (off: "
        "every call is announced).",
    )
    pack: str = Field(description="Voice pack in use (its manifest name).")
    pack_problems: list[str] = Field(
        default_factory=list,
        description="Missing or unreadable clips; the offline engine speaks those words.",
    )
    zones: list[ZoneVoiceState] = Field(description="One entry per audio zone.")
