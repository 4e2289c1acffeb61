"""Service names from the backend's catalogue, as the bridge keeps it retained on the bus.

The kiosk's buttons and guide pages come from the site config; when the bridge has accepted a
catalogue (`hall/<id>/bridge/catalogue/state`), its names replace the configured ones, as they
already do in the queue engine. Only names change here: prefixes, services and guides stay the
site config's. A cleared or unreadable retained message leaves the site config's names.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from firmware_config.site import SiteConfig
from hall_bus.contract import channels
from hall_bus.contract.bridge import CatalogueBody, DownlinkKind, DownlinkState

log = logging.getLogger(__name__)


def catalogue_topic(site: SiteConfig) -> str:
    return channels.DOWNLINK_DOCUMENT.topic(site.hall_id, kind=DownlinkKind.CATALOGUE.value)


def with_catalogue(site: SiteConfig, payload: bytes) -> SiteConfig:
    """`site` with the service names of the retained catalogue in `payload`."""
    if not payload:
        return site
    try:
        body = CatalogueBody.model_validate(DownlinkState.model_validate_json(payload).body)
    except ValidationError as exc:
        log.warning("事项目录无法读取 / ignored an unreadable catalogue: %s",
                    exc.errors()[0]["msg"])
        return site
    listed = {entry.service_id: entry for entry in body.services}
    services = []
    for service in site.services:
        entry = listed.get(service.id)
        if entry is None or entry.prefix != service.prefix:
            services.append(service)
        else:
            services.append(service.model_copy(
                update={"name_zh": entry.name_zh, "name_en": entry.name_en}))
    return site.model_copy(update={"services": services})
