"""One finding of `hall doctor` and the verdict over all of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"
    UNKNOWN = "unknown"  # could not be found out here; not a fault of the hall

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Level.OK: "正常 OK  ",
    Level.WARNING: "警告 WARN",
    Level.FAILED: "故障 FAIL",
    Level.UNKNOWN: "未知 ?   ",
}


@dataclass(frozen=True)
class Finding:
    area: str  # broker, daemon, device, printer, credentials, unit, disk, clock
    name: str  # what was checked: a node, a device, a folder
    level: Level
    detail: str  # Chinese first, then English

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "level": self.level.value}


AREA_TITLES = {
    "broker": "消息代理 / broker",
    "daemon": "守护进程 / daemon",
    "device": "设备 / device",
    "printer": "打印机 / printer",
    "unit": "系统单元 / unit",
    "credentials": "账号密码 / broker passwords",
    "disk": "磁盘 / disk",
    "clock": "时钟同步 / clock",
}


def failed(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.level is Level.FAILED]
