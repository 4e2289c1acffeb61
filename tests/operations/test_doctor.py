"""`hall doctor` against a simulated hall: a real Mosquitto, the queue engine, a line daemon and
the voice announcer as processes, a line of simulated devices, and a kiosk's simulated printer."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import repo_paths
from line_fixtures import make_line, wait_until
from queue_fixtures import make_site

from bench.engine_process import write_site
from firmware_config.kiosk import KioskConfig
from firmware_config.site import BrokerConfig
from hall_bus.client import BusClient
from kiosk.printing import KioskPrinter
from operations.doctor.findings import Level
from operations.doctor.system_checks import clock_finding

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

REPO = repo_paths.REPO
LINE_DEVICES = ["w1-strip", "w1-caller", "w1-pad", "hall-screen", "w2-strip", "w3-strip"]


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "operations.cli", *args], cwd=REPO,
                                stdout=out, stderr=out)


def _doctor(site_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "operations.cli", "doctor", "--site", str(site_path), *extra],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )


def _by_name(report: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str]]:
    return {(f["area"], f["name"]): (f["level"], f["detail"]) for f in report["findings"]}


def test_doctor_reports_a_stopped_daemon_and_a_paper_out_printer(
    broker_config: BrokerConfig, tmp_path: Path
) -> None:
    line, sim = make_line(tmp_path / "ttyLINE1")
    site = make_site().model_copy(update={
        "broker": broker_config, "data_dir": tmp_path / "data", "lines": [line],
        "kiosks": [KioskConfig(id="kiosk1", printer_port="sim")],
    })
    site_path = write_site(site, tmp_path / "site.yaml")
    sim.line.start()
    processes = {
        "queue": _spawn(["queue", "--site", str(site_path)], tmp_path / "queue.log"),
        "line1": _spawn(["line", "--site", str(site_path), "--port", "line1"],
                        tmp_path / "line.log"),
        "voice": _spawn(["voice", "--site", str(site_path)], tmp_path / "voice.log"),
    }
    kiosk_bus = BusClient(site.hall_id, "kiosk1", site.broker)
    printer = KioskPrinter(site, site.kiosks[0], kiosk_bus, receipts_dir=tmp_path / "receipts")
    assert printer.simulator is not None
    kiosk_bus.start(wait=10)
    printer.start()
    clock_failed = clock_finding().level is Level.FAILED  # this machine's, not the hall's fault
    try:
        def healthy() -> bool:
            done = _doctor(site_path, "--json", "--settle", "0.5")
            report = json.loads(done.stdout)
            return all(level == "ok" for (area, _), (level, _) in _by_name(report).items()
                       if area != "clock")

        wait_until(healthy, timeout=40, what="every daemon, device and the printer ok")
        done = _doctor(site_path, "--json")
        assert done.returncode == (1 if clock_failed else 0), done.stdout
        seen = _by_name(json.loads(done.stdout))
        for daemon in ("queue", "voice", "line1", "kiosk1"):
            assert seen[("daemon", daemon)] == ("ok", "在线 / online")
        for device in LINE_DEVICES:
            assert seen[("device", f"line1/{device}")] == ("ok", "在线 / online")
        assert seen[("printer", "kiosk1")][0] == "ok"

        # The voice announcer stops; the printer runs out of paper.
        voice = processes["voice"]
        voice.send_signal(signal.SIGTERM)
        assert voice.wait(timeout=15) == 0
        printer.simulator.faults.paper_out = True

        def printer_failed() -> bool:  # the kiosk polls its printer every 5 s
            report = json.loads(_doctor(site_path, "--json", "--settle", "0.3").stdout)
            return _by_name(report)[("printer", "kiosk1")][0] == "failed"

        wait_until(printer_failed, timeout=20, what="the paper-out state on the bus")

        done = _doctor(site_path, "--json")
        assert done.returncode == 1
        report = json.loads(done.stdout)
        assert report["healthy"] is False
        seen = _by_name(report)
        assert seen[("daemon", "voice")] == ("failed", "已停止 / stopped")
        assert seen[("printer", "kiosk1")][0] == "failed"
        assert seen[("printer", "kiosk1")][1].startswith("缺纸 / paper out")
        failures = {key for key, (level, _) in seen.items() if level == "failed"}
        assert {key for key in failures if key[0] not in {"clock", "unit"}} == {
            ("daemon", "voice"), ("printer", "kiosk1")
        }

        text = _doctor(site_path)
        assert text.returncode == 1
        assert "[故障 FAIL] 守护进程 / daemon voice: 已停止 / stopped" in text.stdout
        assert "[故障 FAIL] 打印机 / printer kiosk1: 缺纸 / paper out" in text.stdout
        assert "[正常 OK  ] 守护进程 / daemon queue: 在线 / online" in text.stdout
        assert "结论 / verdict: " in text.stdout and "项故障 / failed" in text.stdout
    finally:
        printer.stop()
        kiosk_bus.stop()
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        sim.line.stop()


def test_doctor_says_the_broker_is_unreachable(tmp_path: Path) -> None:
    site = make_site().model_copy(update={
        "broker": BrokerConfig(host="127.0.0.1", port=1, reconnect_min_s=0.1,
                               reconnect_max_s=0.2),
        "data_dir": tmp_path,
    })
    done = _doctor(write_site(site, tmp_path / "site.yaml"), "--json", "--timeout", "1")
    assert done.returncode == 1
    findings = json.loads(done.stdout)["findings"]
    assert findings[0]["area"] == "broker" and findings[0]["level"] == "failed"
    assert findings[0]["detail"].startswith("无法连接 / unreachable")
    # Without the bus, the machine's own checks still run.
    # ("unit" too where systemd runs the machine.)
    assert [f["area"] for f in findings if f["area"] != "unit"] == ["broker", "disk", "clock"]


def test_state_folder_missing_is_a_failure_and_a_present_one_reports_free_space(
    tmp_path: Path,
) -> None:
    from operations.doctor.system_checks import disk_finding

    missing = disk_finding(tmp_path / "nowhere")
    assert missing.level is Level.FAILED and "state folder unusable" in missing.detail
    present = disk_finding(tmp_path)
    assert present.level in (Level.OK, Level.WARNING, Level.FAILED)
    assert "GiB" in present.detail


def test_printer_states_map_to_levels() -> None:
    from hall_bus.contract.kiosk import KioskPrinterState, PrinterPaper
    from operations.doctor.bus_checks import RetainedSnapshot, printer_findings

    site = make_site().model_copy(update={"kiosks": [KioskConfig(id="k1"), KioskConfig(id="k2"),
                                                     KioskConfig(id="k3")]})
    snapshot = RetainedSnapshot()

    def state(paper: PrinterPaper, cover_open: bool | None = False) -> bytes:
        return KioskPrinterState(ready=paper is PrinterPaper.OK, online=True, paper=paper,
                                 cover_open=cover_open, port="/dev/hall/printer-k1",
                                 profile="p", detail="").model_dump_json().encode()

    snapshot.add(f"hall/{site.hall_id}/k1/printer/state", state(PrinterPaper.NEAR_END))
    snapshot.add(f"hall/{site.hall_id}/k2/printer/state", state(PrinterPaper.OK, cover_open=True))
    found = {f.name: (f.level, f.detail) for f in printer_findings(site, snapshot)}
    assert found == {
        "k1": (Level.WARNING, "纸将用完 / paper near end (/dev/hall/printer-k1)"),
        "k2": (Level.FAILED, "纸张正常 / paper ok; 纸仓盖打开 / cover open (/dev/hall/printer-k1)"),
        "k3": (Level.FAILED, "无打印机状态 / no printer state on the bus"),
    }


def test_console_and_metrics_are_checked_only_once_seen_on_the_bus() -> None:
    from operations.doctor.bus_checks import RetainedSnapshot, status_findings

    site = make_site()
    snapshot = RetainedSnapshot()
    snapshot.add(f"hall/{site.hall_id}/queue/status", b"online")
    snapshot.add(f"hall/{site.hall_id}/console/status", b"offline")
    found = {f.name: (f.level, f.detail) for f in status_findings(site, snapshot)}
    assert found == {
        "queue": (Level.OK, "在线 / online"),
        "voice": (Level.FAILED, "从未上线 / never seen on the bus"),
        "console": (Level.FAILED, "已停止 / stopped"),
    }


def test_doctor_reads_a_secured_hall_with_its_own_read_only_account(tmp_path: Path) -> None:
    """With `broker.credentials_dir` every daemon has its own login and ACL; the doctor logs in
    as the read-only metrics account and still sees every status."""
    import os

    from test_mosquitto_config import Mosquitto

    from daemons.queue.service import QueueEngine
    from firmware_config.mosquitto_config import render_mosquitto_config
    from hall_bus.netutil import free_port

    broker = BrokerConfig(host="127.0.0.1", port=free_port(), keepalive_s=5,
                          reconnect_min_s=0.1, reconnect_max_s=1.0,
                          credentials_dir=tmp_path / "credentials")
    site = make_site().model_copy(update={"broker": broker, "data_dir": tmp_path / "data"})
    conf = render_mosquitto_config(site, tmp_path / "conf", data_dir=tmp_path / "mosquitto",
                                   run_user="root" if os.geteuid() == 0 else "mosquitto")
    mosquitto = Mosquitto(conf, broker.port, tmp_path / "mosquitto.log")
    mosquitto.start()
    engine = QueueEngine(site, tmp_path / "queue.sqlite3")
    try:
        engine.start(wait=10)
        site_path = write_site(site, tmp_path / "site.yaml")
        report = json.loads(_doctor(site_path, "--json").stdout)
        seen = _by_name(report)
        assert seen[("broker", f"127.0.0.1:{broker.port}")][0] == "ok"
        assert seen[("daemon", "queue")] == ("ok", "在线 / online")
        assert seen[("daemon", "voice")] == ("failed", "从未上线 / never seen on the bus")

        # Without the doctor's password the broker is not reached, and the report says why.
        (tmp_path / "credentials" / "metrics.password").unlink()
        done = _doctor(site_path, "--json")
        assert done.returncode == 1
        broker_finding = json.loads(done.stdout)["findings"][0]
        assert broker_finding["level"] == "failed" and "metrics" in broker_finding["detail"]
    finally:
        engine.stop()
        mosquitto.stop()


def test_systemd_unit_listing_names_failed_and_restarting_units() -> None:
    """systemctl's listing format (no systemd as PID 1 here to produce it live)."""
    from operations.doctor.unit_checks import parse_units

    listing = (
        "hall-queue.service loaded active running 政务大厅排队引擎 / Hall queue engine\n"
        "hall-line@line1.service loaded failed failed 政务大厅 RS-485 线路 line1\n"
        "hall-voice.service loaded activating auto-restart 政务大厅语音叫号 / Hall voice\n"
        "hall-broker.service not-found inactive dead hall-broker.service\n"
        "hall.target loaded active active 政务服务大厅控制器 / Service hall controller\n"
    )
    found = [(f.name, f.level, f.detail) for f in parse_units(listing)]
    assert found == [
        ("hall-line@line1.service", Level.FAILED,
         "单元失败 / unit failed (failed); journalctl -u hall-line@line1.service"),
        ("hall-voice.service", Level.WARNING,
         "单元正在重启 / unit restarting (activating auto-restart)"),
    ]
    healthy = parse_units("hall-queue.service loaded active running q\n"
                          "hall.target loaded active active t\n")
    assert [(f.level, f.detail) for f in healthy] == [(Level.OK, "2 个单元运行中 / units active")]


def test_clock_verdicts_from_timedatectl_or_chrony() -> None:
    """The tools' output formats (neither can answer in this container: no systemd, no chronyd)."""
    from operations.doctor.system_checks import clock_from

    tracking = ("Reference ID    : C0A80101 (192.168.1.1)\nStratum         : 3\n"
                "System time     : 0.000012 seconds fast of NTP time\n"
                "Leap status     : {}\n")
    verdicts = [(f.name, f.level) for f in (
        clock_from("yes\n", None), clock_from("no\n", None),
        clock_from(None, tracking.format("Normal")),
        clock_from(None, tracking.format("Not synchronised")),
        clock_from(None, None),
    )]
    assert verdicts == [("timedatectl", Level.OK), ("timedatectl", Level.FAILED),
                        ("chrony", Level.OK), ("chrony", Level.FAILED), ("-", Level.UNKNOWN)]
    assert "leap status Not synchronised" in clock_from(
        None, tracking.format("Not synchronised")).detail
