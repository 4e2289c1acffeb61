"""Site YAML loading: every bundled sample loads, and every kind of mistake names its line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import time
from pathlib import Path

import pytest
import repo_paths

from firmware_config.loader import ConfigError, default_site_path, load_site, parse_site

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

REPO = repo_paths.REPO
# Device profiles under firmware_config/profiles/ are not sites; test_line_config.py loads them.
SAMPLES = sorted(p for p in (REPO / "firmware_config").glob("**/*.yaml")
                 if "profiles" not in p.relative_to(REPO).parts)

# A minimal valid site; tests append or alter lines and assert on their line numbers.
MINIMAL = textwrap.dedent(
    """\
    hall_id: test-hall
    name_zh: 测试大厅
    name_en: Test hall
    services:
      - id: tax
        prefix: A
        name_zh: 税务
        name_en: Taxation
    windows:
      - id: w1
        number: 1
        name_zh: 一号窗口
        name_en: Window 1
        services:
          - service: tax
    """
)


def write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    return str(caught.value)


def test_samples_exist() -> None:
    names = {path.name for path in SAMPLES}
    assert {"demo.yaml", "township.yaml"} <= names


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: str(path.relative_to(REPO)))
def test_every_sample_loads(path: Path) -> None:
    site = load_site(path)
    assert site.services and site.windows


def test_default_is_the_demo_county_hall() -> None:
    assert default_site_path() == REPO / "firmware_config" / "sites" / "demo.yaml"
    site = load_site()
    assert site.hall_id == "demo-county"
    assert 11 <= len(site.services) <= 14
    assert len(site.windows) == 16
    assert sorted(w.number for w in site.windows) == list(range(1, 17))
    assert {w.zone for w in site.windows} == {"floor1", "floor2"}
    comprehensive = [w for w in site.windows if w.comprehensive]
    assert len(comprehensive) >= 3
    assert any(len(w.services) >= 3 for w in comprehensive)
    assert 15 <= len(site.staff) <= 25
    assert any(person.windows for person in site.staff)
    assert (site.opening_time, site.closing_time) == (time(8, 30), time(17, 30))
    assert site.timezone == "Asia/Shanghai"
    assert site.broker.port == 18830
    assert all(5 <= s.expected_service_min <= 25 for s in site.services)


def test_township_is_small() -> None:
    site = load_site(REPO / "firmware_config" / "sites" / "township.yaml")
    assert (len(site.services), len(site.windows), len(site.staff)) == (4, 3, 4)


def test_minimal_site_is_valid() -> None:
    assert parse_site(MINIMAL).hall_id == "test-hall"


def test_unknown_key_names_path_and_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("    prefix: A\n", "    prefix: A\n    prefx: B\n")
    message = errors_of(write(tmp_path, text))
    assert f"{tmp_path / 'site.yaml'}:7: services.0.prefx:" in message
    assert "unknown key" in message and "未知的键" in message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = errors_of(write(tmp_path, MINIMAL + "thresholds:\n  long_wait: 10\n"))
    assert ":17: thresholds.long_wait:" in message


def test_wrong_type(tmp_path: Path) -> None:
    text = MINIMAL.replace("number: 1", "number: one")
    message = errors_of(write(tmp_path, text))
    assert ":11: windows.0.number:" in message
    assert "'one'" in message


def test_unquoted_numeric_staff_id_gets_a_hint(tmp_path: Path) -> None:
    message = errors_of(write(tmp_path, MINIMAL + "staff:\n  - id: 1001\n    name: 王芳\n"))
    assert ":17: staff.0.id:" in message
    assert "加引号" in message


@pytest.mark.parametrize(
    ("extra", "line", "path"),
    [
        ("broker:\n  port: 70000\n", 17, "broker.port"),
        ("thresholds:\n  long_wait_min: 0\n", 17, "thresholds.long_wait_min"),
        ("version: 99\n", 16, "version"),
    ],
)
def test_bound_violations(tmp_path: Path, extra: str, line: int, path: str) -> None:
    message = errors_of(write(tmp_path, MINIMAL + extra))
    assert f":{line}: {path}:" in message


def test_missing_key_points_at_its_parent(tmp_path: Path) -> None:
    text = MINIMAL.replace("    name_en: Window 1\n", "")
    message = errors_of(write(tmp_path, text))
    # The list item that lacks the key starts on line 10.
    assert ":10: windows.0.name_en:" in message
    assert "缺少必填项" in message


def test_every_error_is_listed(tmp_path: Path) -> None:
    text = MINIMAL.replace("prefix: A", "prefix: a").replace("number: 1", "number: 0")
    message = errors_of(write(tmp_path, text))
    assert ":6: services.0.prefix:" in message
    assert ":11: windows.0.number:" in message
    assert len(message.splitlines()) == 2


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    text = MINIMAL.replace("    number: 1\n", "    number: 1\n    number: 2\n")
    message = errors_of(write(tmp_path, text))
    assert ":12: windows.0.number:" in message
    assert "'number'" in message and "line 11" in message


def test_unknown_service_in_a_window_points_at_the_entry(tmp_path: Path) -> None:
    text = MINIMAL + "      - service: passport\n"
    message = errors_of(write(tmp_path, text))
    assert ":16: windows.0.services.1.service:" in message
    assert "passport" in message


def test_unknown_window_of_staff(tmp_path: Path) -> None:
    text = MINIMAL + "staff:\n  - id: ZW01\n    name: 李娜\n    windows: [w1, w9]\n"
    message = errors_of(write(tmp_path, text))
    assert ":19: staff.0.windows.1:" in message


def test_duplicate_window_number(tmp_path: Path) -> None:
    text = MINIMAL + (
        "  - id: w2\n    number: 1\n    name_zh: 二号窗口\n    name_en: Window 2\n"
        "    services: [{service: tax}]\n"
    )
    message = errors_of(write(tmp_path, text))
    assert ":17: windows.1.number:" in message


def test_unserved_service_points_at_the_service(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "windows:\n",
        "  - id: land\n    prefix: B\n    name_zh: 不动产\n    name_en: Real estate\nwindows:\n",
    )
    message = errors_of(write(tmp_path, text))
    assert ":9: services.1:" in message and "land" in message


def test_times_need_no_quotes(tmp_path: Path) -> None:
    # YAML 1.1 reads 17:30 as the base-60 integer 1050; the loader must not.
    site = load_site(write(tmp_path, MINIMAL + "opening_time: 08:00\nclosing_time: 17:30\n"))
    assert (site.opening_time, site.closing_time) == (time(8, 0), time(17, 30))


def test_opening_after_closing(tmp_path: Path) -> None:
    message = errors_of(
        write(tmp_path, MINIMAL + "opening_time: '18:00'\nclosing_time: '17:30'\n")
    )
    assert ":16: opening_time:" in message


def test_yaml_syntax_error_has_its_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("    name_zh: 税务\n", "    name_zh: 税务\n  bad: [unclosed\n")
    message = errors_of(write(tmp_path, text))
    assert "YAML" in message
    first = message.splitlines()[0]
    line = int(first.split(":")[1])
    assert 7 <= line <= 9


def test_empty_file(tmp_path: Path) -> None:
    message = errors_of(write(tmp_path, "# only a comment\n"))
    assert "empty" in message and "\n" not in message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    message = errors_of(write(tmp_path, "- a\n- b\n"))
    assert ":1:" in message and "mapping" in message and "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    message = errors_of(tmp_path / "nope.yaml")
    assert "not found" in message and "\n" not in message


def test_config_error_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_site(write(tmp_path, "hall_id: x\n"))


def hall(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "operations.cli", *args],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
    )


def test_validate_command_accepts_the_demo() -> None:
    result = hall("config", "validate", str(default_site_path()))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: ")
    assert "demo-county" in result.stdout and "16 windows" in result.stdout


def test_validate_command_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("number: 1", "number: 1\n    colour: red"))
    result = hall("config", "validate", str(path))
    assert result.returncode == 1
    assert f"{path}:12: windows.0.colour:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_validate_command_on_a_missing_file(tmp_path: Path) -> None:
    result = hall("config", "validate", str(tmp_path / "missing.yaml"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
