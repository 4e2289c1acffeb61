"""Machine-readable error codes of bus responses, with their meaning.

A failed request is answered with `Response.fail(id, code, error)`: `code` is one of the keys of
`ERROR_CODES` so that clients (kiosk, consoles, the bridge) can branch on it, and `error` is the
human text for that particular case. docs/bus.md lists this table, so adding a code here documents
it. The constants exist so that a misspelt code is a NameError rather than a silent new code.
"""

from __future__ import annotations

# Envelope and transport
INVALID_PAYLOAD = "invalid_payload"
UNKNOWN_ACTION = "unknown_action"
DEADLINE_EXPIRED = "deadline_expired"
INTERNAL_ERROR = "internal_error"
RESPONSE_TOO_LARGE = "response_too_large"

# Unknown references
UNKNOWN_SERVICE = "unknown_service"
UNKNOWN_WINDOW = "unknown_window"
UNKNOWN_STAFF = "unknown_staff"
UNKNOWN_TICKET = "unknown_ticket"
UNKNOWN_APPOINTMENT = "unknown_appointment"

# Window and staff state
WINDOW_CLOSED = "window_closed"
WINDOW_PAUSED = "window_paused"
WINDOW_NOT_PAUSED = "window_not_paused"
WINDOW_BUSY = "window_busy"
WINDOW_OCCUPIED = "window_occupied"
NO_CURRENT_TICKET = "no_current_ticket"
STAFF_NOT_ALLOWED = "staff_not_allowed"
STAFF_ELSEWHERE = "staff_elsewhere"

# Tickets
DAILY_LIMIT_REACHED = "daily_limit_reached"
INVALID_STATE = "invalid_state"
SAME_SERVICE = "same_service"
NOT_NO_SHOW = "not_no_show"
ALREADY_REACTIVATED = "already_reactivated"
TICKET_NOT_TODAY = "ticket_not_today"

# Ratings
NOT_SERVED = "not_served"
ALREADY_RATED = "already_rated"
REASON_REQUIRED = "reason_required"
RATING_EXPIRED = "rating_expired"

# Appointments
APPOINTMENT_USED = "appointment_used"
APPOINTMENT_NOT_TODAY = "appointment_not_today"

ERROR_CODES: dict[str, str] = {
    INVALID_PAYLOAD: "请求内容不符合格式 / the request payload failed validation",
    UNKNOWN_ACTION: "没有这个操作 / no such action",
    DEADLINE_EXPIRED: "请求已过期，未执行 / the request arrived past its deadline and was not run",
    INTERNAL_ERROR: "内部错误，已记录日志 / internal error; details are in the log",
    RESPONSE_TOO_LARGE: "应答超出总线包大小，请分页或减少数量 / the answer would not fit the bus's "
    "packet limit; ask for less (a smaller limit, the next page)",
    UNKNOWN_SERVICE: "没有这个事项 / no such service",
    UNKNOWN_WINDOW: "没有这个窗口 / no such window",
    UNKNOWN_STAFF: "没有这个工作人员 / no such staff member",
    UNKNOWN_TICKET: "没有这张票 / no such ticket",
    UNKNOWN_APPOINTMENT: "没有这个预约 / no such appointment",
    WINDOW_CLOSED: "窗口未开放（无人登录） / the window is closed (nobody logged in)",
    WINDOW_PAUSED: "窗口已暂停 / the window is paused",
    WINDOW_NOT_PAUSED: "窗口未暂停 / the window is not paused",
    WINDOW_BUSY: "窗口正在叫号或办理，请先办结 / the window has a current ticket; finish it first",
    WINDOW_OCCUPIED: "该窗口已有其他人员登录 / someone else is logged in at the window",
    NO_CURRENT_TICKET: "窗口当前没有票 / the window has no current ticket",
    STAFF_NOT_ALLOWED: "该人员不能在此窗口登录 / this staff member may not log in at this window",
    STAFF_ELSEWHERE: "该人员已在其他窗口登录 / this staff member is logged in at another window",
    DAILY_LIMIT_REACHED: "该事项今日号已取完 / the service's tickets for today are used up",
    INVALID_STATE: "票的当前状态不允许此操作 / the ticket's state does not allow this action",
    SAME_SERVICE: "不能转到同一事项 / cannot transfer a ticket to its own service",
    NOT_NO_SHOW: "该票不是过号状态 / the ticket is not a no-show",
    ALREADY_REACTIVATED: "过号票只能恢复一次 / a no-show ticket can be re-activated only once",
    TICKET_NOT_TODAY: "该号票不是今天的 / the ticket is not from today's business day",
    NOT_SERVED: "该票尚未办结，不能评价 / the ticket has not been served, so it cannot be rated",
    ALREADY_RATED: "该票已评价 / the ticket has already been rated",
    REASON_REQUIRED: "不满意、非常不满意须填写原因 / a bad rating needs a reason",
    RATING_EXPIRED: "已超过评价期限 / the time allowed for rating has passed",
    APPOINTMENT_USED: "该预约已签到 / the appointment has already been checked in",
    APPOINTMENT_NOT_TODAY: "该预约不是今天的 / the appointment is not for today",
}
