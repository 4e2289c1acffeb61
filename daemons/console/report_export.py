"""The day's report (`day_report` from the engine) as CSV and as a printable page."""

from __future__ import annotations

import csv
import html
import io
from typing import Any

from hall_bus.contract import RATING_LABELS_ZH, RatingLevel

SECTIONS = (("services", "事项 / Service"), ("windows", "窗口 / Window"),
            ("staff", "工作人员 / Staff"))
HEADER = ["类别 / Kind", "编号 / Key", "名称 / Name", "取号 / Tickets", "办结 / Served",
          "过号 / No-shows", "平均等候(分) / Mean wait (min)",
          "平均办理(分) / Mean service (min)",
          *(f"{RATING_LABELS_ZH[level]} / {level.value}" for level in RatingLevel),
          "离岗 / Absences"]


def _minutes(seconds: int | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.1f}"


def _rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key, label in SECTIONS:
        for row in report[key]:
            rows.append([
                label, row["key"], row["name"], str(row["tickets"]), str(row["served"]),
                str(row["no_shows"]), _minutes(row["mean_wait_s"]),
                _minutes(row["mean_service_s"]),
                *(str(row["ratings"].get(level.value, 0)) for level in RatingLevel),
                str(row["absences"]),
            ])
    return rows


# A cell a spreadsheet would run as a formula (=, +, -, @, and tab or carriage return before one):
# a staff or service name from a roster must stay text when a manager opens the file.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def csv_text(report: dict[str, Any], hall: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    rows = [[f"{hall['name_zh']} 日报 / daily report", report["business_day"]], HEADER,
            *_rows(report)]
    writer.writerows([_cell(str(value)) for value in row] for row in rows)
    return out.getvalue()


def printable_html(report: dict[str, Any], hall: dict[str, Any]) -> str:
    def cells(values: list[str], tag: str) -> str:
        return "".join(f"<{tag}>{html.escape(v)}</{tag}>" for v in values)

    body = "\n".join(f"<tr>{cells(row, 'td')}</tr>" for row in _rows(report))
    bad = [r for r in report["ratings"] if r["level"] in ("dissatisfied", "very_dissatisfied")]
    bad_cells = [[r["number"], r["level_zh"], r.get("reason") or "", r.get("window_id") or "",
                  r.get("staff_id") or "", r["follow_up"]] for r in bad]
    bad_rows = "\n".join(f"<tr>{cells(row, 'td')}</tr>" for row in bad_cells)
    title = f"{html.escape(hall['name_zh'])} 日报 / Daily report {report['business_day']}"
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/static/console.css"></head>
<body class="printable">
<p class="noprint"><button id="print">打印 / Print</button>
<a href="/report.csv">下载CSV / CSV</a> <a href="/">返回 / Back</a></p>
<h1>{title}</h1>
<table class="report"><thead><tr>{cells(HEADER, 'th')}</tr></thead><tbody>
{body}
</tbody></table>
<h2>差评 / Bad ratings ({len(bad)})</h2>
<table class="report"><thead><tr>{cells(["号票 / Ticket", "评价 / Level", "原因 / Reason",
                                           "窗口 / Window", "工作人员 / Staff",
                                           "跟进 / Follow-up"], 'th')}</tr></thead>
<tbody>{bad_rows}</tbody></table>
<script src="/static/print.js"></script>
</body></html>
"""
