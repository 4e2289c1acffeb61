"""The day's report as CSV: a name a spreadsheet would run as a formula stays text."""

from __future__ import annotations

import csv
import io

import pytest

from daemons.console.report_export import csv_text
from hall_bus.contract import RatingLevel


def _row(key: str, name: str) -> dict[str, object]:
    return {"key": key, "name": name, "tickets": 3, "served": 2, "no_shows": 1,
            "mean_wait_s": 600, "mean_service_s": 300,
            "ratings": {RatingLevel.SATISFIED.value: 2}, "absences": 0}


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)",
                                  "\t=1", "\r=1"])
def test_a_formula_like_name_is_escaped(name: str) -> None:
    report = {"business_day": "2026-12-07", "services": [], "windows": [],
              "staff": [_row("s001", name)]}
    rows = list(csv.reader(io.StringIO(csv_text(report, {"name_zh": "测试大厅"}))))
    staff = rows[2]
    assert staff[2] == "'" + name
    assert staff[1] == "s001" and staff[3] == "3"  # ordinary cells are untouched
