"""Prometheus text exposition format 0.0.4, written here rather than pulled in as a library.

A family has one HELP and one TYPE line and then its samples; label values are escaped
(backslash, double quote, newline), HELP text too (backslash, newline). Histograms are cumulative
`_bucket{le=...}` counts ending at `+Inf`, then `_sum` and `_count`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Labels = tuple[tuple[str, str], ...]


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def labels_of(values: Mapping[str, str]) -> Labels:
    return tuple(sorted(values.items()))


def _sample(name: str, labels: Labels, value: float) -> str:
    if labels:
        inner = ",".join(f'{key}="{escape_label(val)}"' for key, val in labels)
        return f"{name}{{{inner}}} {format_value(value)}"
    return f"{name} {format_value(value)}"


@dataclass
class Family:
    name: str
    help: str
    type: Literal["counter", "gauge"]
    samples: dict[Labels, float] = field(default_factory=dict)

    def set(self, value: float, **labels: str) -> None:
        self.samples[labels_of(labels)] = value

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = labels_of(labels)
        self.samples[key] = self.samples.get(key, 0.0) + amount

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {escape_help(self.help)}", f"# TYPE {self.name} {self.type}"]
        lines += [_sample(self.name, labels, value)
                  for labels, value in sorted(self.samples.items())]
        return lines


@dataclass
class _Series:
    buckets: list[int]
    total: float = 0.0
    count: int = 0


@dataclass
class Histogram:
    name: str
    help: str
    bounds: Sequence[float]
    series: dict[Labels, _Series] = field(default_factory=dict)

    def observe(self, value: float, **labels: str) -> None:
        key = labels_of(labels)
        series = self.series.setdefault(key, _Series([0] * len(self.bounds)))
        for index, bound in enumerate(self.bounds):
            if value <= bound:
                series.buckets[index] += 1
        series.total += value
        series.count += 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {escape_help(self.help)}",
                 f"# TYPE {self.name} histogram"]
        for labels, series in sorted(self.series.items()):
            for bound, count in zip(self.bounds, series.buckets, strict=True):
                lines.append(_sample(f"{self.name}_bucket",
                                     (*labels, ("le", format_value(bound))), count))
            lines.append(_sample(f"{self.name}_bucket", (*labels, ("le", "+Inf")), series.count))
            lines.append(_sample(f"{self.name}_sum", labels, series.total))
            lines.append(_sample(f"{self.name}_count", labels, series.count))
        return lines


def render(families: Iterable[Family | Histogram]) -> str:
    return "".join(line + "\n" for family in families for line in family.render())
