"""Site configuration of the voice announcer: languages, templates, load policy, schedule, sinks.

Audio zones are the windows' `zone` values (one speaker system per floor or area); everything
here that names a zone is checked against them by `check_voice`, called from the site's final
cross-check.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from firmware_config.site import SiteConfig

Name = Annotated[str, Field(pattern=r"^[a-z0-9_-]+$", min_length=1, max_length=64)]
Language = Literal["zh", "en"]


# A call template is words separated by spaces; a word is a clip key or one of these placeholders.
# The grammar lives with the setting it checks; the voice daemon expands it (voice/phrases.py).
PLACEHOLDER = re.compile(r"^\{(ticket|window_number|window_name)\}$")


def template_words(template: str) -> list[str]:
    return template.split()


def check_template(template: str) -> str:
    """Refuse unknown placeholders so a misspelt `{tiket}` fails at config load, not on air."""
    for word in template_words(template):
        if ("{" in word or "}" in word) and PLACEHOLDER.match(word) is None:
            raise ValueError(
                f"unknown placeholder {word!r}; use {{ticket}}, {{window_number}} or "
                "{window_name}, each as a separate word"
            )
    return template


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhraseTemplates(_Strict):
    """One language's call phrase: `lead item tail`; merged calls are `lead item, item… tail`."""

    lead: str = Field(default="", max_length=80, description="Words before the first call.")
    item: str = Field(max_length=200, description="One call, read in full.")
    brief_item: str = Field(
        max_length=200, description="One call inside a merged announcement (under load)."
    )
    terse_item: str = Field(
        max_length=200, description="One call in a merged announcement when overloaded."
    )
    tail: str = Field(default="", max_length=80, description="Words after the last call.")

    @field_validator("lead", "item", "brief_item", "terse_item", "tail")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        return check_template(value)


DEFAULT_TEMPLATES: dict[str, PhraseTemplates] = {
    "zh": PhraseTemplates(
        lead="请",
        item="{ticket} 号 到 {window_number} 号 {window_name}",
        brief_item="{ticket} {window_number} 号窗口",
        terse_item="{ticket} {window_number} 号",
        tail="办理",
    ),
    "en": PhraseTemplates(
        item="number {ticket} please go to window {window_number}",
        brief_item="number {ticket} window {window_number}",
        terse_item="{ticket} window {window_number}",
    ),
}


class QuietHours(_Strict):
    """No calls or notices are spoken from `start` to `end` (local time); screens still show."""

    start: time
    end: time

    def covers(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end  # spans midnight


class VolumeStep(_Strict):
    at: time = Field(description="From this local time on…")
    percent: int = Field(ge=0, le=100, description="…announcements play at this volume.")


class Notice(_Strict):
    id: Name
    at: time = Field(description="Local time of day it is announced, on every business day.")
    text_zh: str = Field(min_length=1, max_length=300)
    text_en: str | None = Field(default=None, max_length=600)
    zones: list[Name] = Field(default_factory=list, description="Empty means every zone.")


class SinkConfig(_Strict):
    kind: Literal["file", "alsa"] = Field(
        default="file",
        description="`file` writes one WAV per announcement (default run, tests); `alsa` plays "
        "through aplay.",
    )
    folder: Path | None = Field(
        default=None, description="For `file`: where WAVs go (default <data_dir>/voice/out)."
    )
    devices: dict[Name, str] = Field(
        default_factory=dict,
        description="For `alsa`: ALSA device per zone, e.g. floor2: plughw:1,0; others use "
        "`default_device`.",
    )
    default_device: str = Field(default="default", max_length=100)
    retry_s: float = Field(default=5.0, gt=0, le=300, description="Pause before retrying a "
                           "missing or busy device.")
    keep_files: int = Field(default=200, ge=1, le=100000, description="WAVs kept per zone.")


class VoiceConfig(_Strict):
    enabled: bool = True
    languages: list[Language] = Field(
        default_factory=lambda: list[Language](["zh"]),
        min_length=1,
        description="Chinese first; `en` optional.",
    )
    templates: dict[Language, PhraseTemplates] = Field(default_factory=dict)
    chime: bool = Field(default=True, description="A chime before every announcement.")
    repeat: int = Field(default=2, ge=1, le=3, description="Times a call is said when calm.")
    max_delay_s: float = Field(
        default=15.0, gt=0, le=300, description="Each call must start within this of its event."
    )
    merge_max: int = Field(default=4, ge=1, le=10, description="Calls per merged announcement.")
    burst_merge_max: int = Field(
        default=8, ge=1, le=12, description="Calls per merged announcement under `compressed`."
    )
    max_speedup: float = Field(
        default=1.5,
        ge=1.0,
        le=1.6,
        description="Fastest pace of the `compressed` policy (pitch kept); 1 turns it off.",
    )
    drop_superseded: bool = Field(
        default=False,
        description="Drop a queued call when its window calls someone else. Off: that call may "
        "be the citizen's only way to learn it is their turn.",
    )
    sample_rate: int = Field(default=22050, ge=8000, le=48000)
    pack_dir: Path | None = Field(
        default=None, description="Voice pack folder (default <data_dir>/voice/pack)."
    )
    quiet_hours: list[QuietHours] = Field(default_factory=list)
    volume_schedule: list[VolumeStep] = Field(
        default_factory=list, description="Volume by time of day; 100 % before the first step."
    )
    notices: list[Notice] = Field(default_factory=list)
    sink: SinkConfig = Field(default_factory=SinkConfig)

    @model_validator(mode="after")
    def _chinese_first(self) -> VoiceConfig:
        if self.languages[0] != "zh":
            raise ValueError("languages: Chinese (zh) comes first")
        if len(set(self.languages)) != len(self.languages):
            raise ValueError("languages: listed twice")
        steps = [step.at for step in self.volume_schedule]
        if steps != sorted(steps):
            raise ValueError("volume_schedule: steps must be in time order")
        return self

    def phrase(self, language: Language) -> PhraseTemplates:
        return self.templates.get(language) or DEFAULT_TEMPLATES[language]

    def volume_at(self, moment: time) -> int:
        """Percent volume at a local time; 0 in quiet hours."""
        if any(quiet.covers(moment) for quiet in self.quiet_hours):
            return 0
        percent = 100
        for step in self.volume_schedule:
            if step.at <= moment:
                percent = step.percent
        return percent

    def pack_path(self, data_dir: Path) -> Path:
        return self.pack_dir or data_dir / "voice" / "pack"

    def output_path(self, data_dir: Path) -> Path:
        return self.sink.folder or data_dir / "voice" / "out"


def check_voice(site: SiteConfig) -> None:
    """Every zone named in the voice section is a zone some window is in."""
    zones = {window.zone for window in site.windows}
    voice = site.voice
    for index, notice in enumerate(voice.notices):
        for j, zone in enumerate(notice.zones):
            if zone not in zones:
                raise ValueError(f"voice.notices.{index}.zones.{j}: no window is in zone {zone!r}")
    for zone in voice.sink.devices:
        if zone not in zones:
            raise ValueError(f"voice.sink.devices.{zone}: no window is in zone {zone!r}")
    ids = [notice.id for notice in voice.notices]
    if len(set(ids)) != len(ids):
        raise ValueError("voice.notices: duplicate id")
