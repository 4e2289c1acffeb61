"""What the machine says: room on the state folder's disk, and whether the clock is synchronised
(tickets, waiting times and the backend's records all carry the hall's time)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from operations.doctor.findings import Finding, Level

GIB = 1024**3
# SQLite, the bridge's outbox and the voice pack live here; below these the hall stops writing.
DISK_WARN_FREE = (0.10, 2 * GIB)  # warn below 10 % or 2 GiB free, whichever is larger
DISK_FAIL_FREE = (0.02, 256 * 1024**2)


def disk_finding(folder: Path) -> Finding:
    try:
        usage = shutil.disk_usage(folder)
    except OSError as exc:
        return Finding("disk", str(folder), Level.FAILED,
                       f"状态目录不可用 / state folder unusable: {exc.strerror or exc}")
    free_gib = usage.free / GIB
    text = f"剩余 / free {free_gib:.1f} GiB ({usage.free / usage.total:.0%})"

    def below(limits: tuple[float, int]) -> bool:
        return usage.free < max(limits[0] * usage.total, limits[1])

    if below(DISK_FAIL_FREE):
        return Finding("disk", str(folder), Level.FAILED, f"磁盘将满 / disk nearly full: {text}")
    if below(DISK_WARN_FREE):
        return Finding("disk", str(folder), Level.WARNING, f"磁盘空间不足 / disk low: {text}")
    return Finding("disk", str(folder), Level.OK, text)


def ask_tool(argv: list[str]) -> str | None:
    """A tool's answer, or None when it is missing or cannot answer (no systemd as PID 1)."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def clock_finding() -> Finding:
    synced = ask_tool(["timedatectl", "show", "--property=NTPSynchronized", "--value"])
    # chrony is asked only when timedatectl cannot tell (no systemd as PID 1).
    tracking = None if synced is not None else ask_tool(["chronyc", "-n", "tracking"])
    return clock_from(synced, tracking)


def clock_from(timedatectl: str | None, chrony_tracking: str | None) -> Finding:
    """The verdict from `timedatectl show --property=NTPSynchronized --value` (yes/no) or from
    `chronyc tracking` (its "Leap status" line), whichever answered."""
    if timedatectl is not None and timedatectl.strip() in {"yes", "no"}:
        if timedatectl.strip() == "yes":
            return Finding("clock", "timedatectl", Level.OK, "已同步 / synchronised")
        return Finding("clock", "timedatectl", Level.FAILED, "未同步 / not synchronised")
    if chrony_tracking is not None:
        status = next((line.split(":", 1)[1].strip() for line in chrony_tracking.splitlines()
                       if line.startswith("Leap status")), "")
        if status == "Normal":
            return Finding("clock", "chrony", Level.OK, "已同步 / synchronised")
        return Finding("clock", "chrony", Level.FAILED,
                       f"未同步 / not synchronised (leap status {status or 'missing'})")
    return Finding("clock", "-", Level.UNKNOWN,
                   "无法确定 / unknown: neither timedatectl nor chronyc could tell")
