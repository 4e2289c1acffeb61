"""The service guide (办事指南) the kiosk shows: materials, time limits, fees and legal basis.

Data, not code: the site YAML holds it today, and the bridge to the central backend will replace
it from the provincial service catalogue later. Every text is given in Chinese and English.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from hall_bus.contract.base import Name

if TYPE_CHECKING:
    from firmware_config.site import SiteConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Material(_Strict):
    name_zh: str = Field(min_length=1, max_length=80)
    name_en: str = Field(min_length=1, max_length=160)
    note_zh: str = Field(default="", max_length=80, description="e.g. 原件及复印件各1份.")
    note_en: str = Field(default="", max_length=160)


class LegalBasis(_Strict):
    zh: str = Field(min_length=1, max_length=120, description="Law or regulation, with article.")
    en: str = Field(min_length=1, max_length=200)


class ServiceGuide(_Strict):
    service: Name = Field(description="The service (事项) this guide is for.")
    summary_zh: str = Field(min_length=1, max_length=200)
    summary_en: str = Field(min_length=1, max_length=400)
    materials: list[Material] = Field(
        default_factory=list, description="What to bring; empty when nothing is needed."
    )
    statutory_limit_zh: str = Field(default="", max_length=60, description="法定办结时限.")
    statutory_limit_en: str = Field(default="", max_length=120)
    promised_limit_zh: str = Field(min_length=1, max_length=60, description="承诺办结时限.")
    promised_limit_en: str = Field(min_length=1, max_length=120)
    fees_zh: str = Field(min_length=1, max_length=120)
    fees_en: str = Field(min_length=1, max_length=240)
    legal_basis: list[LegalBasis] = Field(default_factory=list)


def check_catalogue(site: SiteConfig) -> None:
    """Every guide names a configured service, at most one guide per service."""
    service_ids = {s.id for s in site.services}
    seen: set[str] = set()
    for index, guide in enumerate(site.catalogue):
        if guide.service not in service_ids:
            raise ValueError(f"catalogue.{index}.service: unknown service {guide.service!r}")
        if guide.service in seen:
            raise ValueError(f"catalogue.{index}.service: {guide.service!r} has two guides")
        seen.add(guide.service)


def guide_for(site: SiteConfig, service_id: str) -> ServiceGuide | None:
    return next((g for g in site.catalogue if g.service == service_id), None)
