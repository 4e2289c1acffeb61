"""Broadcasting a manager's notice: one retained `HallNotice` that hall screens show and the
voice announcer says once. Publishing is the console's only write to the bus besides requests."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from hall_bus.client import BusClient
from hall_bus.contract.notice import HallNotice
from hall_bus.ids import utc_now
from hall_bus.topics import notice_endpoint

log = logging.getLogger("hall.console.notices")

PUBLISH_WAIT_S = 5.0


class NoticeError(ValueError):
    pass


class NoticeBoard:
    def __init__(self, bus: BusClient, hall_id: str) -> None:
        self.bus = bus
        self.topic = notice_endpoint(hall_id).state

    def _publish(self, notice: HallNotice) -> dict[str, Any]:
        if not self.bus.publish_state(self.topic, notice, wait=PUBLISH_WAIT_S):
            raise NoticeError("消息总线未确认 / the broker did not confirm the notice")
        return notice.model_dump(mode="json")

    def broadcast(self, fields: dict[str, Any], login: str) -> dict[str, Any]:
        text_zh = str(fields.get("text_zh") or "").strip()
        if not text_zh:
            raise NoticeError("请输入公告内容 / enter the notice text")
        try:
            minutes = float(fields.get("minutes") or 30)
            notice = HallNotice(
                text_zh=text_zh, text_en=str(fields.get("text_en") or "").strip() or None,
                until=utc_now() + timedelta(minutes=max(1.0, min(minutes, 720.0))),
                speak=bool(fields.get("speak", True)), actor=login,
            )
        except (ValidationError, ValueError) as exc:
            raise NoticeError(f"公告无效 / invalid notice: {exc}") from exc
        log.info("值班长公告 / manager %s broadcast a notice until %s", login, notice.until)
        return self._publish(notice)

    def clear(self, login: str) -> dict[str, Any]:
        return self._publish(HallNotice(text_zh="", speak=False, actor=login))
