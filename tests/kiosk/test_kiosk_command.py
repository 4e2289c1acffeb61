"""`hall kiosk` as a real process: offscreen, simulated printer and scanner, real engine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from bus_helpers import Collector
from kiosk_fixtures import kiosk_site
from queue_fixtures import FakeClock

from daemons.queue.service import QueueEngine
from firmware_config.site import BrokerConfig
from hall_bus.client import BusClient
from hall_bus.contract import QUEUE_ACTIONS, Appointment, ResponseStatus
from hall_bus.contract.kiosk import KioskPrinterState
from hall_bus.topics import Endpoint, queue_endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)


def test_kiosk_command_checks_in_a_scanned_appointment(
    broker_config: BrokerConfig, tmp_path: Path
) -> None:
    site = kiosk_site(broker_config, tmp_path)
    site_file = tmp_path / "site.yaml"
    site_file.write_text(yaml.safe_dump(site.model_dump(mode="json"), allow_unicode=True),
                         encoding="utf-8")
    clock = FakeClock()
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", clock)
    engine.start(wait=10)
    tester = BusClient(site.hall_id, "tester", site.broker, clean_session=True)
    states: Collector[KioskPrinterState] = Collector()
    tester.subscribe_model(Endpoint(site.hall_id, "kiosk1", "printer").state,
                           KioskPrinterState, states.add)
    statuses: Collector[bytes] = Collector()
    tester.subscribe(Endpoint(site.hall_id, "kiosk1").status, statuses.add)
    tester.start(wait=10)
    slot = clock.now + timedelta(minutes=10)
    request = QUEUE_ACTIONS["load_appointments"].request.model_validate({"appointments": [
        Appointment(code="YY0815", service_id="business", slot_start=slot,
                    slot_end=slot + timedelta(minutes=30)).model_dump(mode="json")]})
    assert tester.request(queue_endpoint(site.hall_id), "load_appointments", request,
                          timeout=5).status is ResponseStatus.OK
    data_dir = tmp_path / "kiosk-data"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONFAULTHANDLER="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "operations.cli", "kiosk", "--site", str(site_file), "--offscreen",
         "--data-dir", str(data_dir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        states.wait_for(lambda s: s.ready, timeout=30)
        fifo = data_dir / "kiosk1-scanner.fifo"
        _wait_for_path(fifo)
        assert fifo.is_fifo()
        with fifo.open("w") as scanner:
            scanner.write("YY0815\n")
        _wait_for_path(data_dir / "kiosk1-receipts" / "ticket-0001.png")
        listed = tester.request(queue_endpoint(site.hall_id), "list_tickets",
                                QUEUE_ACTIONS["list_tickets"].request(), timeout=5)
        tickets = (listed.data or {})["tickets"]
        assert [(t["number"], t["appointment_code"]) for t in tickets] == [("B001", "YY0815")]
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
        assert process.stdout is not None
        assert code == 0, process.stdout.read().decode(errors="replace")
        statuses.wait_for(lambda raw: raw == b"offline", timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate()[0].decode(errors="replace")
        tester.stop()
        engine.stop()
    assert "Traceback" not in output, output


def _wait_for_path(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def test_screenshots_command_pictures_the_main_screens(tmp_path: Path) -> None:
    import zxingcpp
    from PIL import Image

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-m", "operations.cli", "kiosk", "--screenshots", str(tmp_path)],
        env=env, capture_output=True, timeout=120, check=True,
    )
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == ["kiosk-guide.png", "kiosk-home-elderly-en.png", "kiosk-home.png",
                     "kiosk-printer-error.png", "kiosk-ticket.png", "ticket-receipt.png"]
    assert len(done.stdout.decode().split()) == 6
    for name in ("kiosk-ticket.png", "kiosk-printer-error.png", "ticket-receipt.png"):
        codes = [r.text for r in zxingcpp.read_barcodes(Image.open(tmp_path / name))]
        assert len(codes) == 1 and codes[0].startswith("https://hall.example.cn/q/demo-county/")


def test_demo_runs_the_first_kiosk_offscreen_without_a_display(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from demo.daemons import DemoContext, demo_daemons
    from firmware_config.loader import load_site
    from hall_bus.simclock import ScaledClock

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    site = load_site(None)
    context = DemoContext(site, tmp_path / "site.yaml", tmp_path,
                          ScaledClock(FakeClock().now, 60))
    (kiosk,) = [d for d in demo_daemons(context) if d.name.startswith("kiosk")]
    assert kiosk.argv[3:] == ["kiosk", "--site", str(tmp_path / "site.yaml"), "--kiosk",
                              "kiosk1", "--data-dir", str(tmp_path), "--offscreen",
                              "--prompts-dir", str(tmp_path / "kiosk")]
