"""What systemd says about the hall's units, where systemd runs the machine.

The bus shows a daemon stopped; systemd says why: `failed` after the restart limit, or
`activating (auto-restart)` while it keeps dying. Without systemd as PID 1 (a laptop, a
container) there is nothing to ask and the bus checks stand alone.
"""

from __future__ import annotations

from operations.doctor.findings import Finding, Level
from operations.doctor.system_checks import ask_tool

UNIT_PATTERNS = ("hall-*", "hall.target", "mosquitto.service")


def parse_units(listing: str) -> list[Finding]:
    """Findings from `systemctl list-units --all --plain --no-legend` lines
    (`UNIT LOAD ACTIVE SUB DESCRIPTION`): one per unit in trouble, else one summary line."""
    findings = []
    active_units = 0
    for line in listing.splitlines():
        fields = line.split(None, 4)
        if len(fields) < 4:
            continue
        unit, load, active, sub = fields[:4]
        if load == "not-found":
            continue  # a unit this machine does not have (mosquitto with the embedded broker)
        if active == "failed":
            findings.append(Finding("unit", unit, Level.FAILED,
                                    f"单元失败 / unit failed ({sub}); journalctl -u {unit}"))
        elif active in {"activating", "deactivating", "reloading"}:
            findings.append(Finding("unit", unit, Level.WARNING,
                                    f"单元正在重启 / unit restarting ({active} {sub})"))
        elif active == "active":
            active_units += 1
    if not findings:
        findings.append(Finding("unit", "systemd", Level.OK,
                                f"{active_units} 个单元运行中 / units active"))
    return findings


def unit_findings() -> list[Finding]:
    listing = ask_tool(["systemctl", "list-units", "--all", "--plain", "--no-legend",
                        "--no-pager", *UNIT_PATTERNS])
    return [] if listing is None else parse_units(listing)
