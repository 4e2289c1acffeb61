"""`hall doctor [--json]`: run every check, print the report, exit 1 if anything failed."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from firmware_config.site import SiteConfig
from operations.doctor.bus_checks import printer_findings, status_findings, take_snapshot
from operations.doctor.credential_checks import credentials_finding
from operations.doctor.findings import AREA_TITLES, Finding, Level, failed
from operations.doctor.system_checks import clock_finding, disk_finding
from operations.doctor.unit_checks import unit_findings


def check_hall(site: SiteConfig, connect_s: float = 5.0, settle_s: float = 1.0) -> list[Finding]:
    broker, snapshot = take_snapshot(site, connect_s, settle_s)
    findings = [broker]
    if snapshot is not None:
        findings += status_findings(site, snapshot) + printer_findings(site, snapshot)
    credentials = credentials_finding(site.broker.credentials_dir)
    findings += [] if credentials is None else [credentials]
    return [*findings, *unit_findings(), disk_finding(site.data_dir), clock_finding()]


def render_text(site: SiteConfig, findings: list[Finding], checked_at: datetime) -> str:
    lines = [f"大厅体检 / Hall check: {site.name_zh} ({site.hall_id}), "
             f"{checked_at:%Y-%m-%d %H:%M:%S} UTC"]
    for finding in findings:
        area = AREA_TITLES.get(finding.area, finding.area)
        lines.append(f"  [{finding.level.label}] {area} {finding.name}: {finding.detail}")
    bad = failed(findings)
    warnings = sum(finding.level is Level.WARNING for finding in findings)
    if bad:
        lines.append(f"结论 / verdict: {len(bad)} 项故障 / failed, {warnings} 项警告 / warnings")
    else:
        lines.append(f"结论 / verdict: 大厅正常 / the hall is healthy ({warnings} 项警告 / "
                     "warnings)")
    return "\n".join(lines) + "\n"


def render_json(site: SiteConfig, findings: list[Finding], checked_at: datetime) -> str:
    return json.dumps({
        "hall_id": site.hall_id,
        "checked_at": checked_at.isoformat(),
        "healthy": not failed(findings),
        "findings": [finding.to_json() for finding in findings],
    }, ensure_ascii=False, indent=2) + "\n"


def add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall doctor`."""
    parser.add_argument("--site", type=Path, default=None,
                        help="site YAML (default: /etc/hall/site.yaml, else the demo hall)")
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to reach the broker")
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds to collect the retained statuses")


def run_doctor_command(args: argparse.Namespace) -> int:
    from firmware_config.loader import load_site_or_exit
    from operations.deploy.install import SITE_FILE

    # On an installed hall the site is /etc/hall/site.yaml; elsewhere the bundled demo hall.
    site = load_site_or_exit(args.site or (SITE_FILE if SITE_FILE.exists() else None))
    # The report says whether the broker answered; the client's retry warnings would only blur it.
    logging.getLogger("hall_bus.client").setLevel(logging.ERROR)
    findings = check_hall(site, connect_s=args.timeout, settle_s=args.settle)
    checked_at = datetime.now(UTC)
    render = render_json if args.json else render_text
    sys.stdout.write(render(site, findings, checked_at))
    return 1 if failed(findings) else 0
