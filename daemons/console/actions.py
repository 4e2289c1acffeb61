"""What a manager can do from the console, as requests to the queue engine carrying who did it.

Each action checks its fields in the engine's own request model, refuses anything shaped like a
full ID number (it would travel on the bus and into the engine's log), and waits for the
engine's answer so the page can say at once whether it worked. The engine logs the manager's
login (`actor`) with the request and copies it into the events it causes. A notice to the hall
is such a request too (`post_notice`): the engine keeps it and publishes what the screens show.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from daemons.console.hall_view import HallView
from hall_bus.client import BusClient, BusTimeout
from hall_bus.contract import (
    QUEUE_ACTIONS,
    AlertListData,
    DayReportData,
    DayReportRequest,
    ListAlertsRequest,
    Request,
    ResponseStatus,
)
from hall_bus.contract.queue import NOTICE_MAX_MIN
from hall_bus.id_numbers import contains_id_number
from hall_bus.ids import utc_now
from hall_bus.topics import queue_endpoint

log = logging.getLogger("hall.console.actions")

REQUEST_TIMEOUT_S = 5.0

# Console action -> engine action, and which form fields it takes.
_ENGINE_ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pause": ("pause", ("window_id", "reason")),
    "resume": ("resume", ("window_id",)),
    "acknowledge": ("acknowledge_alert", ("alert_id", "note")),
    "cancel": ("cancel", ("ticket_id", "reason")),
    "reactivate": ("reactivate", ("ticket_id",)),
    "issue": ("take_ticket", ("service_id", "priority_class")),
    "assign_service": ("assign_service", ("service_id", "to_window_id", "from_window_id")),
    "notice": ("post_notice", ()),  # fields: _notice_fields
    "clear_notice": ("withdraw_notice", ()),
}
NOTICE_DEFAULT_MIN = 30.0


class ActionError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ManagerActions:
    def __init__(self, bus: BusClient, view: HallView) -> None:
        self.bus = bus
        self.view = view
        self.endpoint = queue_endpoint(view.site.hall_id)

    def _ask(self, action: str, request: Request) -> dict[str, Any]:
        try:
            response = self.bus.request(self.endpoint, action, request, REQUEST_TIMEOUT_S)
        except BusTimeout as exc:
            raise ActionError("排队引擎未应答 / the queue engine did not answer", 504) from exc
        if response.status is not ResponseStatus.OK:
            raise ActionError(response.error or response.code or "refused", 409)
        return response.data or {}

    def _ticket_id(self, value: str) -> str:
        """A ticket number as the manager reads it (A023) means today's ticket."""
        value = value.strip().upper() if len(value) <= 6 else value.strip()
        day = (self.view.section("queue") or {}).get("business_day")
        if day and not value.startswith(day):
            return f"{day}-{value}"
        return value

    def run(self, name: str, fields: dict[str, Any], login: str) -> dict[str, Any]:
        for value in fields.values():
            if isinstance(value, str) and contains_id_number(value):
                raise ActionError("请勿输入完整身份证号 / do not enter a full ID number")
        if name not in _ENGINE_ACTIONS:
            raise ActionError(f"未知操作 / unknown action {name[:40]!r}", 404)
        action, allowed = _ENGINE_ACTIONS[name]
        values = {k: v for k, v in fields.items() if k in allowed and v not in (None, "")}
        if "ticket_id" in values:
            values["ticket_id"] = self._ticket_id(str(values["ticket_id"]))
        if action == "take_ticket":
            values["source"] = "console"
        if action == "post_notice":
            values.update(_notice_fields(fields))
        try:
            request = QUEUE_ACTIONS[action].request(actor=login, **values)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            raise ActionError(f"输入有误 / invalid input: {where}: {error['msg']}") from exc
        data = self._ask(action, request)
        log.info("值班长操作 / manager %s: %s %s", login, action, values)
        if action == "acknowledge_alert":
            self.refresh_alerts()
        return data

    def refresh_alerts(self) -> None:
        data = self._ask("list_alerts", ListAlertsRequest())
        self.view.set_alerts(AlertListData.model_validate(data).alerts)

    def refresh_report(self) -> None:
        data = self._ask("day_report", DayReportRequest())
        self.view.set_report(DayReportData.model_validate(data))


def _notice_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The page says for how many minutes; the engine takes the instant it ends."""
    try:
        minutes = float(fields.get("minutes") or NOTICE_DEFAULT_MIN)
    except ValueError as exc:
        raise ActionError("分钟数无效 / the minutes are not a number") from exc
    return {
        "text_zh": str(fields.get("text_zh") or "").strip(),
        "text_en": str(fields.get("text_en") or "").strip() or None,
        "until": utc_now() + timedelta(minutes=max(1.0, min(minutes, NOTICE_MAX_MIN))),
        "speak": bool(fields.get("speak", True)),
    }
