"""What a manager can do from the console, as requests to the queue engine carrying who did it.

Each action checks its fields in the engine's own request model, refuses anything shaped like a
full ID number (it would travel on the bus and into the engine's log), and waits for the
engine's answer so the page can say at once whether it worked. The engine logs the manager's
login (`actor`) with the request and copies it into the events it causes.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from hall_bus.client import BusClient, BusTimeout
from hall_bus.console.hall_view import HallView
from hall_bus.console.notices import NoticeBoard, NoticeError
from hall_bus.console.privacy import FULL_ID_NUMBER
from hall_bus.contract import (
    QUEUE_ACTIONS,
    AlertListData,
    DayReportData,
    DayReportRequest,
    ListAlertsRequest,
    Request,
    ResponseStatus,
)
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
}


class ActionError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ManagerActions:
    def __init__(self, bus: BusClient, view: HallView, notices: NoticeBoard) -> None:
        self.bus = bus
        self.view = view
        self.notices = notices
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
            if isinstance(value, str) and FULL_ID_NUMBER.search(value):
                raise ActionError("请勿输入完整身份证号 / do not enter a full ID number")
        if name in ("notice", "clear_notice"):
            try:
                if name == "notice":
                    return self.notices.broadcast(fields, login)
                return self.notices.clear(login)
            except NoticeError as exc:
                raise ActionError(str(exc)) from exc
        if name not in _ENGINE_ACTIONS:
            raise ActionError(f"未知操作 / unknown action {name[:40]!r}", 404)
        action, allowed = _ENGINE_ACTIONS[name]
        values = {k: v for k, v in fields.items() if k in allowed and v not in (None, "")}
        if "ticket_id" in values:
            values["ticket_id"] = self._ticket_id(str(values["ticket_id"]))
        if action == "take_ticket":
            values["source"] = "console"
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
