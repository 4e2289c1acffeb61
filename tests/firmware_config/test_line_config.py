"""Line configuration: every device profile loads; the validator refuses what cannot work."""

from __future__ import annotations

import pytest

from firmware_config.line import load_profile, profile_names
from firmware_config.loader import ConfigError, default_site_path, parse_site

# The demo site without its own `lines:` section (its last one), so each test sets its lines.
DEMO = default_site_path().read_text(encoding="utf-8").split("\nlines:\n")[0]


def _with_lines(lines_yaml: str) -> str:
    return DEMO + "\nlines:\n" + lines_yaml


ONE_LINE = """\
  - id: line1
    port: /dev/ttyUSB0
    devices:
      - {id: w01-strip, profile: strip-hl1-32x1, address: 1, window: w01}
      - {id: w01-caller, profile: caller-hl1, address: 2, window: w01}
"""


def test_every_profile_loads() -> None:
    names = profile_names()
    assert {"strip-hl1-32x1", "strip-onbon-bx5", "strip-aa-32x1", "caller-hl1", "pad-hl1",
            "hall-screen-hl1-64x6"} <= set(names)
    for name in names:
        assert load_profile(name).address_max >= load_profile(name).address_min


def test_the_demo_lines_load() -> None:
    site = parse_site(default_site_path().read_text(encoding="utf-8"), "demo.yaml")
    assert [line.id for line in site.lines] == ["line1", "line2"]
    assert sum(len(line.devices) for line in site.lines) == 16 * 3 + 1


def test_a_valid_line_loads() -> None:
    site = parse_site(_with_lines(ONE_LINE), "demo.yaml")
    assert [d.id for d in site.lines[0].devices] == ["w01-strip", "w01-caller"]


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_site(text, "demo.yaml")
    return str(caught.value)


def test_two_devices_with_one_address_are_refused_with_the_yaml_line() -> None:
    text = _with_lines(ONE_LINE.replace("address: 2", "address: 1"))
    message = _error(text)
    assert "lines.0.devices.1.address" in message and "w01-strip" in message
    line_no = text.splitlines().index(
        "      - {id: w01-caller, profile: caller-hl1, address: 1, window: w01}") + 1
    assert f":{line_no}" in message


def test_one_port_for_two_lines_is_refused() -> None:
    second = ONE_LINE.replace("line1", "line2").replace("w01", "w02")
    assert "one daemon owns one port" in _error(_with_lines(ONE_LINE + second))


def test_profile_window_and_speed_mismatches_are_refused() -> None:
    assert "unknown device profile" in _error(_with_lines(ONE_LINE.replace(
        "caller-hl1", "caller-xyz")))
    assert "unknown window" in _error(_with_lines(ONE_LINE.replace("window: w01}", "window: w99}")))
    assert "runs at 9600" in _error(_with_lines(ONE_LINE.replace(
        "    port: /dev/ttyUSB0\n", "    port: /dev/ttyUSB0\n    baud: 19200\n")))
    no_window = ONE_LINE.replace(", window: w01}", "}", 1)
    assert "belongs to a window" in _error(_with_lines(no_window))
