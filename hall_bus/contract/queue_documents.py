"""Documents from the central backend that the queue engine applies at run time.

The bridge fetches them (hall_bus/contract/bridge.py wraps them in a `DownlinkDocument`) and hands
them to the engine with these requests. Each kind has a version that only grows; the engine keeps
the last version it accepted on disk and refuses an update that does not fit its current state,
keeping the previous one in force. What a catalogue may change at run time is written in
docs/bridge.md ("What the engine applies").
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hall_bus.contract.base import FreeText, MaskedText, Name, Request, Version


class CatalogueService(BaseModel):
    """One service item (事项) of the backend's catalogue."""

    model_config = ConfigDict(extra="forbid")

    service_id: Name = Field(description="The service.")
    prefix: str = Field(pattern=r"^[A-Z]{1,2}$", description="Ticket number prefix.")
    name_zh: FreeText = Field(min_length=1, max_length=40, description="Chinese name.")
    name_en: FreeText = Field(min_length=1, max_length=80, description="English name.")
    expected_service_min: float = Field(
        default=10.0, gt=0, le=240, description="Service time for wait estimates."
    )
    daily_limit: int | None = Field(
        default=None, ge=1, le=9999,
        description="Tickets per business day; null keeps the site config's limit.",
    )


class RosterEntry(BaseModel):
    """One staff member of the backend's roster."""

    model_config = ConfigDict(extra="forbid")

    staff_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="Staff (work) number.")
    name: FreeText = Field(min_length=1, max_length=20, description="Name shown at the window.")
    windows: list[Name] = Field(default_factory=list, description="Empty: any window.")


class ApplyCatalogueRequest(Request):
    version: Version = Field(description="The catalogue's version; must not go back.")
    services: list[CatalogueService] = Field(
        min_length=1, max_length=500,
        description="Must list every service of the hall with its prefix unchanged; services no "
        "window of this hall serves are ignored.",
    )


class ApplyRosterRequest(Request):
    version: Version = Field(description="The roster's version; must not go back.")
    staff: list[RosterEntry] = Field(
        min_length=1,  # an empty roster would lock every window; a backend fault, not a roster
        max_length=2000,
        description="Replaces the staff list; everyone logged in now must stay, allowed at the "
        "window they are at.",
    )


class FollowUpUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: str = Field(min_length=1, max_length=64, description="The badly rated ticket.")
    status: Literal["pending", "in_progress", "resolved"] = Field(
        description="The backend's state; `in_progress` stays `pending` in the hall."
    )
    note: MaskedText | None = Field(default=None, description="Not stored by the engine.")


class ApplyFollowUpsRequest(Request):
    updates: list[FollowUpUpdate] = Field(
        max_length=5000, description="Tickets this hall does not know are counted and skipped."
    )


class DocumentAppliedData(BaseModel):
    kind: Literal["catalogue", "roster"] = Field(description="Which document.")
    version: int = Field(description="The version now in force.")
    changed: bool = Field(description="False when this version was already in force.")
    ignored: list[str] = Field(
        default_factory=list,
        description="Catalogue: listed services that no window of this hall serves.",
    )


class FollowUpsAppliedData(BaseModel):
    updated: int = Field(description="Ratings whose follow-up state changed.")
    unchanged: int = Field(description="Already in that state.")
    unknown: int = Field(description="No bad rating of that ticket in this hall.")
