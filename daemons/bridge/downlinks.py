"""Checking downlink documents before the hall takes them.

A document is validated against its kind's model and then against this hall: a catalogue must
still hold every service a window of the site calls from (else those windows would call nothing),
a roster may name only existing windows. A rejected document changes nothing: the previous
accepted version stays in force and is still the one on the bus.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from firmware_config.site import SiteConfig
from hall_bus.contract.bridge import (
    DOWNLINK_BODIES,
    AppointmentsBody,
    CatalogueBody,
    DownlinkDocument,
    RosterBody,
)


class DocumentRejected(ValueError):
    """The document is not acceptable; the message says why (Chinese / English)."""


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def check_document(site: SiteConfig, document: DownlinkDocument) -> dict[str, Any]:
    """Return the normalised body, or raise DocumentRejected."""
    model = DOWNLINK_BODIES[document.kind]
    try:
        body: BaseModel = model.model_validate(document.body)
    except ValidationError as exc:
        raise DocumentRejected(
            f"格式错误 / invalid {document.kind.value}: {_describe(exc)}"
        ) from exc
    if isinstance(body, CatalogueBody):
        offered = {s.service_id for s in body.services}
        for window in site.windows:
            for entry in window.services:
                if entry.service not in offered:
                    raise DocumentRejected(
                        f"事项目录缺少窗口 {window.id} 的事项 {entry.service} / catalogue lacks "
                        f"service {entry.service!r} that window {window.id!r} serves"
                    )
    elif isinstance(body, RosterBody):
        windows = {w.id for w in site.windows}
        for person in body.staff:
            for window_id in person.windows:
                if window_id not in windows:
                    raise DocumentRejected(
                        f"排班中的窗口不存在 / roster names unknown window {window_id!r} "
                        f"for {person.staff_id}"
                    )
    elif isinstance(body, AppointmentsBody):
        services = {s.id for s in site.services}
        for appointment in body.appointments:
            if appointment.service_id not in services:
                raise DocumentRejected(
                    f"预约事项不存在 / appointment {appointment.code} books unknown service "
                    f"{appointment.service_id!r}"
                )
    return body.model_dump(mode="json", exclude_none=True)
