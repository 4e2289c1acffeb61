"""The business day: the key that ticket counters, summaries and statistics are grouped by.

A hall's day does not start at midnight but when the doors open: a ticket taken at 07:50 before an
08:30 opening still belongs to the previous business day, so the counter resets exactly once, at
opening time, and a clock that is a little early never starts a second A001 the same morning.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def business_date(moment: datetime, zone: ZoneInfo, opening: time) -> date:
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    local = moment.astimezone(zone)
    day = local.date()
    if local.time() < opening:
        day -= timedelta(days=1)
    return day


def business_day(moment: datetime, zone: ZoneInfo, opening: time) -> str:
    """`YYYY-MM-DD` of the business day that `moment` belongs to."""
    return business_date(moment, zone, opening).isoformat()


def day_start(day: str, zone: ZoneInfo, opening: time) -> datetime:
    """The UTC instant the business day `day` begins (its opening time in the hall's zone)."""
    local = datetime.combine(date.fromisoformat(day), opening, tzinfo=zone)
    return local.astimezone(UTC)
