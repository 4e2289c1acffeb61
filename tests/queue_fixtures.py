"""A small hall for queue tests, built in code so the tests do not depend on sample YAML files.

Three services, four windows (one comprehensive window serving all three), four staff. Priority
bonuses are short so that starvation scenarios play out in few calls.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from firmware_config.site import (
    PriorityPolicy,
    ServiceConfig,
    SiteConfig,
    StaffConfig,
    Thresholds,
    WindowConfig,
    WindowServiceConfig,
)
from hall_bus.contract.queue import LIST_PAGE_MAX

# 2024-03-04 09:00 in Shanghai: an hour into the business day (opening 08:30 local).
START = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)
DAY = "2024-03-04"


def make_site(daily_limit: int = 999) -> SiteConfig:
    return SiteConfig(
        hall_id="test-hall",
        name_zh="测试政务服务大厅",
        name_en="Test service hall",
        opening_time=time(8, 30),
        closing_time=time(17, 30),
        services=[
            ServiceConfig(id="household", prefix="A", name_zh="户籍办理", name_en="Household",
                          expected_service_min=6, daily_limit=daily_limit),
            ServiceConfig(id="business", prefix="B", name_zh="企业开办", name_en="Business",
                          expected_service_min=12),
            ServiceConfig(id="tax", prefix="C", name_zh="税务", name_en="Tax",
                          expected_service_min=10),
        ],
        windows=[
            WindowConfig(id="w1", number=1, name_zh="1号窗口", name_en="Window 1",
                         services=[WindowServiceConfig(service="household")]),
            WindowConfig(id="w2", number=2, name_zh="2号窗口", name_en="Window 2",
                         services=[WindowServiceConfig(service="business")]),
            WindowConfig(id="w3", number=3, name_zh="3号窗口", name_en="Window 3",
                         services=[WindowServiceConfig(service="tax")]),
            WindowConfig(id="w9", number=9, name_zh="9号综合窗口", name_en="Window 9",
                         services=[WindowServiceConfig(service="household", priority=1),
                                   WindowServiceConfig(service="business", priority=2),
                                   WindowServiceConfig(service="tax", priority=3)]),
        ],
        staff=[
            StaffConfig(id="s001", name="张敏", windows=["w1", "w9"]),
            StaffConfig(id="s002", name="李强", windows=["w2"]),
            StaffConfig(id="s003", name="王芳"),
            StaffConfig(id="s004", name="赵磊"),
        ],
        priority=PriorityPolicy(appointment_bonus_s=300, elderly_disabled_bonus_s=300,
                                green_channel_bonus_s=600, window_priority_step_s=300),
        thresholds=Thresholds(long_wait_min=30, long_service_min=20, window_idle_min=5),
    )


class FakeClock:
    """A settable aware-UTC clock."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def every_ticket(list_page: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
    """Every ticket `list_tickets` has, page by page (`list_page(**fields)` returns its data)."""
    tickets: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = list_page(limit=LIST_PAGE_MAX, **({"after": after} if after else {}))
        tickets += page["tickets"]
        after = page.get("next_after")
        if after is None:
            return tickets

