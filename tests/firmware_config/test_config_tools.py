"""`hall config show | diff | migrate | check` and the whole-site cross-check."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import repo_paths

from firmware_config.config_tools import MASK, diff_sites
from firmware_config.loader import ConfigError, read_site, read_site_text
from firmware_config.site_check import check_site

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

SITES = repo_paths.REPO / "firmware_config" / "sites"
TOWNSHIP = SITES / "township.yaml"

SMALL = """\
hall_id: small
name_zh: 小厅
name_en: Small hall
services:
  - {id: s, prefix: A, name_zh: 事项, name_en: Service}
windows:
  - {id: w1, number: 1, name_zh: 一号, name_en: One, services: [{service: s}]}
  - {id: w2, number: 2, name_zh: 二号, name_en: Two, services: [{service: s}]}
"""

LINE = """\
lines:
  - id: line1
    port: /dev/ttyUSB0
    devices:
      - {id: w1-strip, profile: strip-hl1-32x1, address: 1, window: w1}
      - {id: w1-caller, profile: caller-hl1, address: 2, window: w1}
      - {id: w1-pad, profile: pad-hl1, address: 3, window: w1}
      - {id: w2-strip, profile: strip-hl1-32x1, address: 4, window: w2}
      - {id: w2-caller, profile: caller-hl1, address: 5, window: w2}
"""
NETWORK_PAD = """\
network_devices:
  - {id: pad-w2, kind: pad, window: w2}
"""


def hall(cli: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "operations.cli", *cli], capture_output=True,
                          text=True, timeout=60, check=False)


def issues_of(text: str) -> list[str]:
    return [str(issue) for issue in check_site(read_site_text(text, "site.yaml"))]


def load_error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        read_site_text(text, "site.yaml")
    return str(caught.value)


# --- check --------------------------------------------------------------------------------------


def test_every_sample_site_passes_the_cross_check() -> None:
    samples = sorted(SITES.glob("*.yaml"))
    assert len(samples) >= 2
    for sample in samples:
        assert check_site(read_site(sample)) == [], sample.name
    done = hall(["config", "check", *map(str, samples)])
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("OK: ") == len(samples)


def test_a_complete_small_site_passes() -> None:
    assert issues_of(SMALL + LINE + NETWORK_PAD) == []


def test_a_window_without_its_pad_is_named_with_its_line() -> None:
    assert issues_of(SMALL + LINE) == [
        "site.yaml:8: windows.1: 窗口 w2 缺少评价器 / window 'w2' has no evaluation pad"]


def test_a_site_without_devices_lists_every_window() -> None:
    issues = issues_of(SMALL)
    assert len(issues) == 6
    assert issues[0] == ("site.yaml:7: windows.0: 窗口 w1 缺少叫号条屏 / window 'w1' has no call "
                         "display (window_strip)")


def test_two_pads_at_one_window_point_at_the_second() -> None:
    text = SMALL + LINE + "      - {id: w2-pad, profile: pad-hl1, address: 6, window: w2}\n" + \
        "      - {id: w2-pad2, profile: pad-hl1, address: 7, window: w2}\n"
    assert issues_of(text) == [
        "site.yaml:19: lines.0.devices.6: 窗口 w2 已有评价器（lines.0.devices.5） / window 'w2' "
        "already has a pad at lines.0.devices.5"]


def test_a_node_name_taken_by_a_daemon_or_a_line_is_refused() -> None:
    text = SMALL + LINE + "network_devices:\n  - {id: line1, kind: pad, window: w2}\n" + \
        "  - {id: bridge, kind: hall_screen}\n"
    assert issues_of(text) == [
        "site.yaml:19: network_devices.0.id: 节点名称冲突 / bus node 'line1' is taken by "
        "lines.0.id",
        "site.yaml:20: network_devices.1.id: 节点名称冲突 / bus node 'bridge' is taken by a "
        "daemon of the hall",
    ]


def test_a_kiosk_printer_on_a_line_port_is_refused(tmp_path: Path) -> None:
    text = SMALL + LINE + NETWORK_PAD + (
        "kiosks:\n  - id: kiosk1\n    printer_port: /dev/ttyUSB0\n"
        "    ticket_url_template: 'https://x.cn/{ticket_id}'\n")
    assert issues_of(text) == [
        "site.yaml:22: kiosks.0.printer_port: 打印机端口已被线路 line1 使用 / /dev/ttyUSB0 is "
        "line 'line1''s port"]


@pytest.mark.parametrize(("broken", "expected"), [
    # the same serial port on two lines
    (LINE + "  - id: line2\n    port: /dev/ttyUSB0\n    devices:\n"
     "      - {id: w2-pad, profile: pad-hl1, address: 6, window: w2}\n",
     "site.yaml:19: lines.1.port: "),
    # a line at 19200 baud with 9600-baud devices
    (LINE.replace("    port: /dev/ttyUSB0\n", "    port: /dev/ttyUSB0\n    baud: 19200\n"),
     "site.yaml:14: lines.0.devices.0.profile: "),
    # an address outside the profile's range
    (LINE.replace("address: 5,", "address: 300,"), "site.yaml:17: lines.0.devices.4.address: "),
    # a camera watching a window the site does not have
    ("cameras:\n  - name: cam1\n    source: usb:0\n    seats:\n      - window: w9\n"
     "        polygon: [[0, 0], [1, 0], [1, 1]]\n", "site.yaml:13: cameras.0.seats.0.window: "),
])
def test_broken_sites_fail_with_key_path_and_line(broken: str, expected: str) -> None:
    message = load_error(SMALL + broken)
    assert message.startswith(expected), message


# --- show and diff ------------------------------------------------------------------------------


def test_show_fills_defaults_and_masks_the_password() -> None:
    done = hall(["config", "show", "--site", str(TOWNSHIP), "--json"])
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["version"] == 2
    assert data["thresholds"]["check_interval_s"] == 5  # not written in the file: the default
    assert data["thresholds"]["long_wait_min"] == 45
    assert data["broker"]["password"] == MASK
    assert "hall-demo" not in done.stdout
    as_yaml = hall(["config", "show", "--site", str(TOWNSHIP)])
    assert as_yaml.returncode == 0 and "late_rating_limit_h: 72.0" in as_yaml.stdout


def test_diff_names_list_items_by_id(tmp_path: Path) -> None:
    changed = tmp_path / "changed.yaml"
    changed.write_text(TOWNSHIP.read_text(encoding="utf-8")
                       .replace("name_zh: 农业农村窗口", "name_zh: 农业窗口")
                       .replace("  - {id: pad-w2, kind: pad, window: w2}\n", "")
                       .replace("  staff_absent_min: 15", "  staff_absent_min: 20"),
                       encoding="utf-8")
    assert diff_sites(read_site(TOWNSHIP).site, read_site(changed).site) == [
        '~ windows[id=w3].name_zh: "农业农村窗口" → "农业窗口"',
        '~ thresholds.staff_absent_min: 15.0 → 20.0',
        '- network_devices[id=pad-w2]: {"id": "pad-w2", "kind": "pad", "window": "w2"}',
    ]
    done = hall(["config", "diff", str(TOWNSHIP), str(changed)])
    assert done.returncode == 1 and done.stdout.count("\n") == 3
    same = hall(["config", "diff", str(TOWNSHIP), str(TOWNSHIP)])
    assert same.returncode == 0 and "no differences" in same.stdout


# --- versions -----------------------------------------------------------------------------------

OLD = """\
# 旧站点 / an old site
version: 1
hall_id: old
name_zh: 旧厅
name_en: Old hall
services:
  - {id: s, prefix: A, name_zh: 事项, name_en: Service}
windows:
  - {id: w1, number: 1, name_zh: 一号, name_en: One, services: [{service: s}]}
ratings:
  # 补评时限 / late ratings
  time_limit_h: 24
"""


def test_an_older_version_is_migrated_in_memory_with_a_warning(
    caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hall.config"):
        document = read_site_text(OLD, "old.yaml")
    assert document.site.ratings.late_rating_limit_h == 24
    assert [str(issue) for issue in document.migrated] == [
        "old.yaml:12: ratings.time_limit_h: 改名为 / renamed to ratings.late_rating_limit_h",
        "old.yaml:2: version: 1 → 2",
    ]
    assert "old.yaml:12: ratings.time_limit_h" in caplog.text


def test_migrate_write_keeps_comments_and_a_backup(tmp_path: Path) -> None:
    site = tmp_path / "old.yaml"
    site.write_text(OLD, encoding="utf-8")
    dry = hall(["config", "migrate", str(site)])
    assert dry.returncode == 0 and "--write" in dry.stdout
    assert site.read_text(encoding="utf-8") == OLD
    done = hall(["config", "migrate", str(site), "--write"])
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "old.yaml.bak").read_text(encoding="utf-8") == OLD
    assert site.read_text(encoding="utf-8") == OLD.replace("version: 1", "version: 2").replace(
        "time_limit_h:", "late_rating_limit_h:")
    assert read_site(site).migrated == []
    again = hall(["config", "migrate", str(site)])
    assert again.returncode == 0 and "already config version 2" in again.stdout


def test_a_newer_version_is_refused_clearly() -> None:
    message = load_error(SMALL + "version: 3\n")
    assert message == ("site.yaml:9: version: 此文件为配置版本 3，本软件只支持到 2，"
                       "请先升级软件 / the file is config version 3; this software knows "
                       "versions up to 2: update the software first")
