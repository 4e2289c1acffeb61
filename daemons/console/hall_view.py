"""The console's picture of the hall, rebuilt from the bus: retained state and events.

`HallView` is fed by the bus thread and read by the web server. It keeps one JSON-ready section per
view (queue, alerts, feed, ratings, devices, screens, presence, report); every change calls
`on_change(section)` so the server can push that section to the browsers. Nothing here writes
to the bus: the engine stays the only writer of queue state, and the console asks it for the
alerts and the day's figures (`list_alerts`, `day_report`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from daemons.console.privacy import without_pictures
from firmware_config.site import SiteConfig
from hall_bus.contract import (
    CROWDED_ALERT_LEVEL,
    AlertRecord,
    CameraEvent,
    CameraEventType,
    CameraState,
    DayReportData,
    KioskPrinterState,
    LineDeviceEvent,
    LineDeviceEventType,
    LineDeviceState,
    QueueEvent,
    QueueEventType,
    QueueSummaryState,
)
from hall_bus.contract.notice import HallNotice
from hall_bus.topics import OFFLINE, ONLINE, TopicParts, split_topic

log = logging.getLogger("hall.console")

FEED_LENGTH = 150
RATINGS_KEPT = 500
SECTIONS = ("hall", "queue", "alerts", "feed", "ratings", "devices", "screens", "presence",
            "report", "notice")

# What a manager reads in the feed for each engine event; the ticket number and window follow.
_EVENT_TEXT = {
    QueueEventType.TICKET_CALLED: "叫号 / called",
    QueueEventType.TICKET_SKIPPED: "过号 / no-show",
    QueueEventType.TICKET_CANCELLED: "取消号票 / ticket cancelled",
    QueueEventType.TICKET_REACTIVATED: "重新排队 / back in the queue",
    QueueEventType.TICKET_TRANSFERRED: "转办 / transferred",
    QueueEventType.WINDOW_PAUSED: "窗口暂停 / window paused",
    QueueEventType.WINDOW_RESUMED: "窗口恢复 / window resumed",
    QueueEventType.STAFF_LOGIN: "工作人员登录 / staff logged in",
    QueueEventType.STAFF_LOGOUT: "工作人员退出 / staff logged out",
    QueueEventType.SERVICE_ASSIGNED: "事项调整窗口 / service moved",
    QueueEventType.ALERT_ACKNOWLEDGED: "告警已确认 / alert acknowledged",
    QueueEventType.NOTICE_POSTED: "发布公告 / notice posted",
    QueueEventType.NOTICE_WITHDRAWN: "公告撤下 / notice off the screens",
}


def _json(model: BaseModel) -> dict[str, Any]:
    return without_pictures(model.model_dump(mode="json"))  # type: ignore[no-any-return]


class HallView:
    def __init__(self, site: SiteConfig, on_change: Callable[[str], None]) -> None:
        self.site = site
        self._on_change = on_change
        self._lock = threading.Lock()
        self.queue: dict[str, Any] | None = None
        self.alerts: dict[str, dict[str, Any]] = {}  # alert_id -> AlertRecord, newest first
        self.feed: deque[dict[str, Any]] = deque(maxlen=FEED_LENGTH)
        self.ratings: deque[dict[str, Any]] = deque(maxlen=RATINGS_KEPT)
        self.devices: dict[str, dict[str, Any]] = {}
        self.nodes: dict[str, str] = {}
        self.screens: dict[str, dict[str, Any]] = {}
        self.presence: dict[str, dict[str, Any]] = {}
        self.crowding: dict[str, dict[str, Any]] = {}
        self.report: dict[str, Any] | None = None
        self.notice: dict[str, Any] | None = None
        self._line_ids = {line.id for line in site.lines}
        self._kiosk_ids = {kiosk.id for kiosk in site.kiosks}
        self._feed_seq = 0

    # --- what the browsers get -------------------------------------------------------------------

    def section(self, name: str) -> Any:
        with self._lock:
            if name == "hall":
                return {
                    "hall_id": self.site.hall_id, "name_zh": self.site.name_zh,
                    "timezone": self.site.timezone,
                    "name_en": self.site.name_en,
                    "services": [{"id": s.id, "name": s.name_zh, "prefix": s.prefix}
                                 for s in self.site.services],
                    "windows": [{"id": w.id, "number": w.number, "name": w.name_zh,
                                 "zone": w.zone} for w in self.site.windows],
                    "staff": {s.id: s.name for s in self.site.staff},
                }
            if name == "queue":
                return self.queue
            if name == "alerts":
                return list(self.alerts.values())
            if name == "feed":
                return list(reversed(self.feed))
            if name == "ratings":
                return list(self.ratings)
            if name == "devices":
                nodes = [{"key": f"node:{node}", "kind": "node", "name": node,
                          "online": status == ONLINE, "detail": status}
                         for node, status in sorted(self.nodes.items())]
                return nodes + sorted(self.devices.values(), key=lambda d: d["key"])
            if name == "screens":
                return sorted(self.screens.values(), key=lambda d: (d["kind"], d["key"]))
            if name == "presence":
                return {"seats": self.presence, "crowding": self.crowding}
            if name == "report":
                return self.report
            if name == "notice":
                return self.notice
        raise KeyError(name)

    # --- from the engine's answers ---------------------------------------------------------------

    def set_alerts(self, records: list[AlertRecord]) -> None:
        with self._lock:
            self.alerts = {r.alert.alert_id or "": _json(r) for r in records if r.alert.alert_id}
        self._on_change("alerts")

    def set_report(self, report: DayReportData) -> None:
        # The engine's list is the day's record (follow-ups included); events add to it between
        # two refreshes.
        with self._lock:
            self.report = _json(report)
            self.ratings.clear()
            self.ratings.extend(_json(r) for r in report.ratings)
        self._on_change("report")
        self._on_change("ratings")

    # --- from the bus ----------------------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes) -> None:
        parts = split_topic(self.site.hall_id, topic)
        if parts is None:
            return
        try:
            self._dispatch(parts, payload)
        except ValidationError as exc:
            log.warning("控制台忽略无效消息 / console ignored an invalid payload on %s: %s",
                        topic, exc.errors()[0]["msg"])
        except (ValueError, KeyError) as exc:
            log.warning("控制台忽略无效消息 / console ignored an invalid payload on %s: %s",
                        topic, exc)

    def _dispatch(self, parts: TopicParts, payload: bytes) -> None:
        node, device, kind = parts.node, parts.device, parts.kind
        if kind == "status":
            if not payload:
                return
            status = payload.decode("utf-8", "replace").strip()
            if status not in (ONLINE, OFFLINE):
                raise ValueError(f"status {status[:20]!r}")
            self._set_status(node, device, status)
        elif node == "queue" and device == "notice" and kind == "state" and payload:
            # The engine's retained notice (daemons/queue/notices.py); empty text: none.
            notice = HallNotice.model_validate_json(payload)
            with self._lock:
                self.notice = _json(notice) if notice.text_zh else None
            self._on_change("notice")
        elif node == "queue" and device is None:
            if kind == "state":
                self._on_queue_state(QueueSummaryState.model_validate_json(payload))
            elif kind == "event":
                self._on_queue_event(QueueEvent.model_validate_json(payload))
        elif node in self._line_ids and device is not None:
            if kind == "state":
                self._on_line_device(LineDeviceState.model_validate_json(payload))
            elif kind == "event":
                self._on_line_event(LineDeviceEvent.model_validate_json(payload))
        elif node == "camera" and device is not None:
            if kind == "state":
                self._on_camera_state(CameraState.model_validate_json(payload))
            elif kind == "event":
                self._on_camera_event(CameraEvent.model_validate_json(payload))
        elif node in self._kiosk_ids:
            if device == "printer" and kind == "state":
                self._on_printer(node, KioskPrinterState.model_validate_json(payload))
        elif kind == "state" and device is not None and payload:
            self._on_network_device(node, device, payload)

    def _set_status(self, node: str, device: str | None, status: str) -> None:
        with self._lock:
            if device is None:
                self.nodes[node] = status
            else:
                entry = self.devices.get(f"{node}/{device}")
                if entry is not None:
                    entry["online"] = status == ONLINE
        self._on_change("devices")

    def _add_feed(self, level: str, text: str, ts: str | None, **extra: Any) -> None:
        with self._lock:
            self._feed_seq += 1
            self.feed.append({"seq": self._feed_seq, "level": level, "text": text, "ts": ts,
                              **extra})
        self._on_change("feed")

    # --- queue -----------------------------------------------------------------------------------

    def _on_queue_state(self, state: QueueSummaryState) -> None:
        with self._lock:
            self.queue = _json(state)
        self._on_change("queue")

    def _patch_window(self, window: dict[str, Any]) -> None:
        """An event's window view goes onto the floor map at once, before the next summary."""
        with self._lock:
            if self.queue is None:
                return
            windows = self.queue["windows"]
            for index, known in enumerate(windows):
                if known["window_id"] == window["window_id"]:
                    windows[index] = window
        self._on_change("queue")

    def _on_queue_event(self, event: QueueEvent) -> None:
        if event.window is not None:
            self._patch_window(_json(event.window))
        ts = (event.at or event.ts).isoformat()
        by = {"actor": event.actor} if event.actor else {}
        if event.type is QueueEventType.SUPERVISION_ALERT and event.alert is not None:
            alert = event.alert
            if alert.alert_id:
                with self._lock:
                    record = {"alert": _json(alert), "raised_at": ts, "acknowledged_by": None,
                              "acknowledged_at": None}
                    self.alerts = {alert.alert_id: record, **self.alerts}
                self._on_change("alerts")
            self._add_feed("alert", alert.message, ts, alert_id=alert.alert_id)
        elif event.type is QueueEventType.ALERT_ACKNOWLEDGED and event.alert is not None:
            alert_id = event.alert.alert_id or ""
            with self._lock:
                known = self.alerts.get(alert_id)
                if known is not None:
                    known["acknowledged_by"] = event.actor
                    known["acknowledged_at"] = ts
            self._on_change("alerts")
            self._add_feed("info", f"{_EVENT_TEXT[event.type]}: {event.alert.message}", ts, **by)
        elif event.type is QueueEventType.RATING_GIVEN and event.rating is not None:
            rating = _json(event.rating)
            with self._lock:
                self.ratings.appendleft(rating)
            self._on_change("ratings")
            if event.rating.level.is_bad:
                self._add_feed("warn", f"差评 / bad rating {event.rating.number}: "
                               f"{event.rating.level_zh} {event.rating.reason or ''}", ts)
        elif event.type in _EVENT_TEXT:
            subject = " ".join(filter(None, (
                event.ticket.number if event.ticket else None,
                event.window.name if event.window else None,
                event.detail if event.type is not QueueEventType.STAFF_LOGIN else None,
            )))
            level = "action" if event.actor else "info"
            self._add_feed(level, f"{_EVENT_TEXT[event.type]} {subject}".strip(), ts, **by)

    # --- devices ---------------------------------------------------------------------------------

    def _on_line_device(self, state: LineDeviceState) -> None:
        key = f"{state.line_id}/{state.device_id}"
        labels = {"window_strip": "窗口条屏 / strip", "hall_screen": "大厅屏 / hall screen",
                  "caller": "呼叫器 / caller", "pad": "评价器 / pad"}
        detail = "; ".join(state.problems) or (
            f"轮询{state.polls}次，未应答{state.misses}次 / {state.misses} of {state.polls} polls "
            "unanswered" if state.supervised else "只写设备 / write-only")
        with self._lock:
            self.devices[key] = {
                "key": key, "kind": state.kind.value, "name": labels[state.kind.value],
                "window_id": state.window_id, "online": state.online, "detail": detail,
            }
            if state.kind.value in ("window_strip", "hall_screen"):
                self.screens[key] = self._screen(key, state.kind.value, state.window_id,
                                                 state.line_id, state.device_id, state.shown)
        self._on_change("devices")
        if state.kind.value in ("window_strip", "hall_screen"):
            self._on_change("screens")

    def _screen(self, key: str, kind: str, window_id: str | None, line_id: str, device_id: str,
                shown: list[str]) -> dict[str, Any]:
        previous = self.screens.get(key)
        version = (previous["version"] + (previous["lines"] != shown)) if previous else 1
        return {"key": key, "kind": kind, "window_id": window_id, "line_id": line_id,
                "device_id": device_id, "lines": list(shown), "version": version}

    # A device that goes offline, a camera fault, a crowded waiting area and a failed print are
    # raised by the engine as alerts (daemons/queue/device_alerts.py) and reach the feed as such;
    # the console adds only what the engine does not alert on.

    def _on_line_event(self, event: LineDeviceEvent) -> None:
        if event.type is LineDeviceEventType.DISPLAY_PROBLEM:
            self._add_feed("warn", f"显示问题 / display problem {event.device_id} "
                           f"{event.detail or ''}".strip(), event.ts.isoformat())

    def _on_network_device(self, node: str, device: str, payload: bytes) -> None:
        """Network pads and screens publish the line devices' state under their own node."""
        try:
            state = LineDeviceState.model_validate_json(payload)
        except ValidationError:
            return  # voice, bridge and other states: their node status is what the view shows
        self._on_line_device(state)

    def _on_camera_state(self, state: CameraState) -> None:
        with self._lock:
            self.devices[f"camera/{state.camera}"] = {
                "key": f"camera/{state.camera}", "kind": "camera",
                "name": f"摄像头 / camera {state.camera}", "window_id": None,
                "online": state.health.value in ("ok", "starting"),
                "detail": f"{state.health.value}, {state.analysed_fps:.1f} fps",
            }
            for seat in state.seats:
                self.presence[seat.window_id] = {"state": seat.state.value,
                                                 "since": seat.since.isoformat()}
            if state.waiting_area is not None:
                self.crowding[state.camera] = state.waiting_area.model_dump(mode="json")
        self._on_change("devices")
        self._on_change("presence")

    def _on_camera_event(self, event: CameraEvent) -> None:
        # The snapshot that may ride on an absence event is never looked at.
        if (event.type is CameraEventType.CROWDING_CHANGED
                and (event.level or 0) < CROWDED_ALERT_LEVEL):
            self._add_feed("info", event.message, event.ts.isoformat())

    def _on_printer(self, kiosk: str, state: KioskPrinterState) -> None:
        with self._lock:
            self.devices[f"{kiosk}/printer"] = {
                "key": f"{kiosk}/printer", "kind": "printer",
                "name": f"取号机打印机 / printer {kiosk}", "window_id": None,
                "online": state.ready, "paper": state.paper.value, "detail": state.detail,
            }
        self._on_change("devices")



def section_json(view: HallView, name: str) -> str:
    return json.dumps({"section": name, "data": view.section(name)}, ensure_ascii=False)
