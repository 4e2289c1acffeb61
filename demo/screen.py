"""The demo's live one-screen summary, drawn from the retained queue state."""

from __future__ import annotations

from collections import deque
from datetime import datetime

from hall_bus.contract import QueueEvent, QueueEventType, QueueSummaryState, WindowMode

_MODE_LABELS = {
    WindowMode.CLOSED: "关闭",
    WindowMode.IDLE: "空闲",
    WindowMode.CALLING: "呼叫",
    WindowMode.SERVING: "办理",
    WindowMode.PAUSED: "暂停",
}
CLEAR = "\x1b[H\x1b[2J"


def _fit(text: str, width: int) -> str:
    """Pad or cut to a display width, counting CJK characters as two columns."""
    out, used = "", 0
    for char in text:
        cost = 2 if ord(char) > 0x2E7F else 1
        if used + cost > width:
            break
        out, used = out + char, used + cost
    return out + " " * (width - used)


def render(
    state: QueueSummaryState | None, recent: deque[QueueEvent], sim_now: datetime, title: str
) -> str:
    lines = [f"{title}    模拟时间 / simulated time {sim_now:%H:%M}", ""]
    if state is None:
        return "\n".join([*lines, "等待排队引擎… / waiting for the queue engine…"])
    lines.append(
        f"今日取号 issued {state.issued_today}   办结 done {state.done_today}   "
        f"过号 no-show {state.no_show_today}   等候 waiting {state.waiting}"
    )
    lines.append("")
    lines.append(_fit("事项 service", 26) + "等候 wait  预计 est.  最近叫号 last")
    for service in state.services:
        lines.append(
            _fit(f"{service.prefix} {service.name}", 26)
            + f"{service.waiting:>7}  {service.estimated_wait_s // 60:>5} min  "
            + (service.last_called or "-")
        )
    lines.append("")
    cells = [
        _fit(
            f"{w.number:>2} {_MODE_LABELS[w.mode]} {w.current_ticket or ''} {w.staff_name or ''}",
            24,
        )
        for w in state.windows
    ]
    for row in range(0, len(cells), 4):
        lines.append(" ".join(cells[row : row + 4]))
    lines.append("")
    for event in list(recent)[-6:]:
        lines.append(describe_event(event))
    return "\n".join(lines)


_EVENT_LABELS = {
    QueueEventType.TICKET_ISSUED: "取号 / ticket issued",
    QueueEventType.TICKET_RECALLED: "重呼 / recalled",
    QueueEventType.SERVICE_STARTED: "开始办理 / service started",
    QueueEventType.TICKET_FINISHED: "办结 / finished",
    QueueEventType.TICKET_SKIPPED: "过号 / no-show",
    QueueEventType.TICKET_TRANSFERRED: "转移 / transferred",
    QueueEventType.TICKET_REACTIVATED: "过号重排 / back in the queue",
    QueueEventType.TICKET_CANCELLED: "取消 / cancelled",
    QueueEventType.APPOINTMENT_CHECKED_IN: "预约签到 / appointment check-in",
    QueueEventType.WINDOW_PAUSED: "窗口暂停 / window paused",
    QueueEventType.WINDOW_RESUMED: "窗口恢复 / window resumed",
    QueueEventType.STAFF_LOGIN: "登录 / staff logged in",
    QueueEventType.STAFF_LOGOUT: "退出 / staff logged out",
    QueueEventType.BUSINESS_DAY_STARTED: "新的营业日 / business day started",
}


def describe_event(event: QueueEvent) -> str:
    if event.type is QueueEventType.TICKET_CALLED and event.ticket and event.window:
        return f"请 {event.ticket.number} 号到 {event.window.number} 号窗口 / calling"
    if event.type is QueueEventType.SUPERVISION_ALERT and event.alert:
        return f"⚠ {event.alert.message}"
    if event.type is QueueEventType.RATING_GIVEN and event.rating:
        return f"评价 rating {event.rating.number}: {event.rating.level_zh}"
    label = _EVENT_LABELS.get(event.type, event.type.value)
    subject = event.ticket.number if event.ticket else ""
    if event.window is not None:
        subject = f"{subject} {event.window.number} 号窗口".strip()
    return f"{label} {subject}".rstrip()
