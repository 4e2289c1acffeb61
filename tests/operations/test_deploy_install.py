"""`hall install --root`: what it writes, and that every unit it writes passes systemd-analyze."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import repo_paths
from test_udev_rules import usb_site

from bench.engine_process import write_site
from firmware_config.site import SiteConfig
from operations.deploy.udev_rules import render_rules
from operations.deploy.units import UnitSettings, render_units, wanted_units, write_units

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

REPO = repo_paths.REPO
HALL_BIN = Path(sys.executable).parent / "hall"
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def _site(_tmp_path: Path) -> SiteConfig:
    return usb_site().model_copy(update={"data_dir": Path("/var/lib/hall")})


def _install(site_path: Path, root: Path | None, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "operations.cli", "install", "--site", str(site_path), *extra]
    if root is not None:
        argv += ["--root", str(root)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=REPO)


def _verify(unit_dir: Path, units: list[str]) -> subprocess.CompletedProcess[str]:
    # The unit folder first, then the machine's own (for mosquitto.service and system targets).
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{unit_dir}:", "SYSTEMD_LOG_COLOR": "0"}
    return subprocess.run([ANALYZE, "verify", "--man=no", *units], capture_output=True,
                          text=True, timeout=120, env=env, cwd=unit_dir)


ALL_UNITS = ["hall.target", "hall-broker.service", "hall-queue.service", "hall-voice.service",
             "hall-bridge.service", "hall-kiosk.service", "hall-console.service",
             "hall-metrics.service",
             "hall-line@line1.service", "hall-camera@desk-w01-w02.service", "mosquitto.service"]


def test_install_into_a_staging_root_writes_units_links_rules_and_broker_config(
    tmp_path: Path,
) -> None:
    site = _site(tmp_path)
    site_path = write_site(site, tmp_path / "site.yaml")
    root = tmp_path / "root"
    done = _install(site_path, root, "--kiosk")
    assert done.returncode == 0, done.stderr
    assert "(跳过：暂存目录 / skipped: staging root)" in done.stdout  # no useradd, no systemctl

    etc = root / "etc"
    units = etc / "systemd" / "system"
    installed = (etc / "hall" / "site.yaml")
    assert installed.read_bytes() == site_path.read_bytes()
    assert installed.stat().st_mode & 0o777 == 0o640
    assert (root / "var" / "lib" / "hall").is_dir()

    settings = UnitSettings(hall_bin=HALL_BIN, site_file=Path("/etc/hall/site.yaml"),
                            data_dir=Path("/var/lib/hall"))
    for relative, text in render_units(settings).items():
        assert (units / relative).read_text(encoding="utf-8") == text
    assert f"ExecStart={HALL_BIN} line --site /etc/hall/site.yaml --port %i" in (
        units / "hall-line@.service").read_text()
    assert (units / "hall-.service.d" / "20-broker.conf").read_text().endswith(
        "[Unit]\nWants=mosquitto.service\n")
    common = (units / "hall-.service.d" / "10-hall.conf").read_text()
    assert "ReadWritePaths=/var/lib/hall" in common and "User=hall" in common

    wants = units / "hall.target.wants"
    links = {link.name: os.readlink(link) for link in wants.iterdir()}
    assert links == {
        "mosquitto.service": "/lib/systemd/system/mosquitto.service",
        "hall-queue.service": "/etc/systemd/system/hall-queue.service",
        "hall-voice.service": "/etc/systemd/system/hall-voice.service",
        "hall-console.service": "/etc/systemd/system/hall-console.service",
        "hall-metrics.service": "/etc/systemd/system/hall-metrics.service",
        "hall-kiosk.service": "/etc/systemd/system/hall-kiosk.service",
        "hall-line@line1.service": "/etc/systemd/system/hall-line@.service",
        "hall-line@line2.service": "/etc/systemd/system/hall-line@.service",
        "hall-camera@desk-w01-w02.service": "/etc/systemd/system/hall-camera@.service",
    }
    assert os.readlink(units / "multi-user.target.wants" / "hall.target") == \
        "/etc/systemd/system/hall.target"

    assert (etc / "udev" / "rules.d" / "70-hall.rules").read_text() == render_rules(site)

    conf = (etc / "mosquitto" / "hall" / "hall.conf").read_text()
    assert str(root) not in conf  # paths of the real machine, not of the staging folder
    assert "password_file /etc/mosquitto/hall/hall.passwd" in conf
    assert "persistence_location /var/lib/mosquitto/" in conf
    assert (units / "mosquitto.service.d" / "hall.conf").read_text().count(
        "ExecStart=/usr/sbin/mosquitto -c /etc/mosquitto/hall/hall.conf") == 1


def test_every_installed_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    site_path = write_site(_site(tmp_path), tmp_path / "site.yaml")
    root = tmp_path / "root"
    assert _install(site_path, root, "--kiosk").returncode == 0
    done = _verify(root / "etc" / "systemd" / "system", ALL_UNITS)
    # Warnings (an unknown key, a bad value) leave the exit code 0 but print: both must be clean.
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_verify_does_fail_on_a_broken_unit(tmp_path: Path) -> None:
    unit_dir = tmp_path / "units"
    write_units(UnitSettings(hall_bin=tmp_path / "no-such-hall", site_file=tmp_path / "s.yaml",
                             data_dir=tmp_path), unit_dir)
    unit_file = unit_dir / "hall-queue.service"
    broken_line = len(unit_file.read_text(encoding="utf-8").splitlines()) + 3
    with unit_file.open("a") as unit:
        unit.write("\n[Service]\nRestartSec=soon\n")
    done = _verify(unit_dir, ["hall-queue.service"])
    assert done.returncode != 0
    assert "no-such-hall is not executable" in done.stderr
    assert f"hall-queue.service:{broken_line}: Failed to parse sec value" in done.stderr


def test_reinstall_follows_the_site_and_the_embedded_broker_replaces_mosquitto(
    tmp_path: Path,
) -> None:
    site = _site(tmp_path)
    root = tmp_path / "root"
    assert _install(write_site(site, tmp_path / "site.yaml"), root).returncode == 0
    smaller = site.model_copy(update={"lines": site.lines[:1], "cameras": []})
    done = _install(write_site(smaller, tmp_path / "smaller.yaml"), root, "--broker", "embedded",
                    "--no-console", "--no-metrics")
    assert done.returncode == 0, done.stderr
    wants = root / "etc" / "systemd" / "system" / "hall.target.wants"
    assert sorted(link.name for link in wants.iterdir()) == sorted(
        wanted_units(smaller, broker="embedded", console=False, metrics=False)
    ) == ["hall-broker.service", "hall-line@line1.service", "hall-queue.service",
          "hall-voice.service"]
    unit_dir = root / "etc" / "systemd" / "system"
    assert (unit_dir / "hall-.service.d" / "20-broker.conf").read_text().endswith(
        "Wants=hall-broker.service\n")
    assert not (unit_dir / "mosquitto.service.d" / "hall.conf").exists()
    # The embedded broker's unit wants itself through the shared drop-in: systemd accepts that.
    verified = _verify(unit_dir, ["hall-broker.service", "hall-queue.service", "hall.target"])
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    site_path = write_site(_site(tmp_path), tmp_path / "site.yaml")
    root = tmp_path / "root"
    done = _install(site_path, root, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert not root.exists()
    plan = done.stdout
    assert "create system user hall" in plan
    assert "systemctl daemon-reload, enable hall.target" in plan
    assert plan.count("(计划 / planned)") == len(plan.strip().splitlines())


@pytest.mark.parametrize("checkout", ["/home/staff/hall/.venv/bin/hall", "/root/h/.venv/bin/hall"])
def test_a_checkout_the_units_would_hide_is_refused(tmp_path: Path, checkout: str) -> None:
    site_path = write_site(_site(tmp_path), tmp_path / "site.yaml")
    done = _install(site_path, tmp_path / "root", "--hall-bin", checkout)
    assert done.returncode == 1
    assert "is under /home or /root" in done.stderr


def test_per_daemon_passwords_are_made_inside_the_staging_root(tmp_path: Path) -> None:
    site = _site(tmp_path)
    secured = site.model_copy(update={"broker": site.broker.model_copy(
        update={"credentials_dir": Path("/etc/hall/credentials-staging-test")})})
    root = tmp_path / "root"
    done = _install(write_site(secured, tmp_path / "site.yaml"), root)
    assert done.returncode == 0, done.stderr
    assert not Path("/etc/hall/credentials-staging-test").exists()
    made = root / "etc" / "hall" / "credentials-staging-test"
    assert {"queue.password", "metrics.password", "line1.password"} <= {
        path.name for path in made.iterdir()}
    assert "broker passwords in /etc/hall/credentials-staging-test: root only" in done.stdout
    # Root's alone: each daemon's unit loads its own (tests/test_unit_credentials.py).
    assert made.stat().st_mode & 0o777 == 0o700
    assert {path.stat().st_mode & 0o777 for path in made.iterdir()} == {0o600}
    if os.getuid() == 0:
        assert {path.stat().st_uid for path in [made, *made.iterdir()]} == {0}
    # Mosquitto's password file has those accounts, not the shared development login.
    accounts = {line.split(":", 1)[0] for line in
                (root / "etc" / "mosquitto" / "hall" / "hall.passwd").read_text().splitlines()}
    assert {"queue", "metrics", "line1", "kiosk1"} <= accounts


def test_every_daemon_unit_is_sandboxed(tmp_path: Path) -> None:
    """systemd's own exposure score (0 best, 10 worst) of each unit, offline: at most 2.0."""
    site_path = write_site(_site(tmp_path), tmp_path / "site.yaml")
    root = tmp_path / "root"
    assert _install(site_path, root, "--kiosk").returncode == 0
    unit_dir = root / "etc" / "systemd" / "system"
    daemons = [unit for unit in ALL_UNITS if unit.startswith("hall-")]
    done = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--threshold=20", "--no-pager", *daemons],
        capture_output=True, text=True, timeout=120, cwd=unit_dir,
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{unit_dir}:"},
    )
    scores = [line for line in done.stdout.splitlines() if "Overall exposure level" in line]
    assert len(scores) == len(daemons), done.stdout + done.stderr
    assert done.returncode == 0, "\n".join(scores)


def test_relative_paths_in_the_site_are_refused_with_their_key_paths(tmp_path: Path) -> None:
    site = _site(tmp_path).model_copy(update={"citizen_id_key_file": Path("keys/citizen.key")})
    kiosk = site.kiosks[0].model_copy(update={"printer_port": "sim"})
    done = _install(write_site(site.model_copy(update={"kiosks": [kiosk]}),
                               tmp_path / "site.yaml"), tmp_path / "root")
    assert done.returncode == 1
    assert "paths in the site must be absolute on the hall's machine: " \
        "citizen_id_key_file: keys/citizen.key" in done.stderr
    assert not (tmp_path / "root").exists()


def test_systemctl_sees_what_the_install_enabled(tmp_path: Path) -> None:
    """`systemctl --root` reads a staged tree offline: our links are what `enable` would make."""
    site = _site(tmp_path)
    root = tmp_path / "root"
    assert _install(write_site(site, tmp_path / "site.yaml"), root).returncode == 0
    systemctl = shutil.which("systemctl") or "/usr/bin/systemctl"

    def state(unit: str) -> str:
        done = subprocess.run([systemctl, f"--root={root}", "is-enabled", unit],
                              capture_output=True, text=True, timeout=30)
        return done.stdout.strip()

    assert {unit: state(unit) for unit in [
        "hall.target", "hall-queue.service", "hall-line@line1.service",
        "hall-line@line9.service", "hall-kiosk.service", "hall-broker.service",
    ]} == {
        "hall.target": "enabled", "hall-queue.service": "enabled",
        "hall-line@line1.service": "enabled", "hall-line@line9.service": "disabled",
        "hall-kiosk.service": "disabled", "hall-broker.service": "disabled",
    }


def test_on_the_machine_itself_a_missing_hall_program_is_refused(tmp_path: Path) -> None:
    site_path = write_site(_site(tmp_path), tmp_path / "site.yaml")
    done = _install(site_path, None, "--dry-run", "--hall-bin", str(tmp_path / "no-hall"))
    assert done.returncode == 1
    assert f"{tmp_path / 'no-hall'} 不可执行 / is not an executable `hall`" in done.stderr
