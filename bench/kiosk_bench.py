"""Kiosk figures: touch → ticket bytes written to the printer pty, start-up, memory.

    python bench/kiosk_bench.py [--tickets 100] [--starts 5]

A private Mosquitto and the queue engine as its own process; the kiosk window offscreen in
this process, with the simulated printer on a real pty. "Touch → bytes" runs from the click on
"take a ticket" until the simulator has received the ticket's cut command, i.e. the whole
ticket went through the pty. Start-up runs `hall kiosk --offscreen` as a fresh process and
measures until its event loop has shown the first frame (the "ready" line it logs then).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from common import bench_site, percentile

from bench.engine_process import EngineProcess, write_site
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus.client import BusClient
from tests.mosquitto import Mosquitto


def rss_mib(pid: int | str = "self") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def wait_engine(site: SiteConfig) -> None:
    from hall_bus.client import BusTimeout
    from hall_bus.contract import DescribeRequest
    from hall_bus.topics import queue_endpoint

    with BusClient(site.hall_id, "bench-probe", site.broker, clean_session=True) as probe:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                probe.request(queue_endpoint(site.hall_id), "describe", DescribeRequest(),
                              timeout=1)
                return
            except BusTimeout:
                continue
    raise RuntimeError("the queue engine did not answer")


def bench_touch_to_bytes(site: SiteConfig, workdir: Path, tickets: int) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from kiosk.app import KioskWindow
    from kiosk.printing import KioskPrinter
    from kiosk.ticketing import TicketDesk

    app = QApplication.instance() or QApplication([])
    kiosk = site.kiosks[0]
    bus = BusClient(site.hall_id, kiosk.id, site.broker)
    desk = TicketDesk(site, kiosk, bus)
    bus.start(wait=10)
    printer = KioskPrinter(site, kiosk, bus, receipts_dir=workdir / "receipts")
    simulator = printer.simulator
    assert simulator is not None
    simulator.out_dir = None  # measure the pty, not PNG encoding
    window = KioskWindow(site, kiosk, desk, printer)
    window.allow_close = True
    window.resize(900, 1400)
    window.show()
    rss_before = rss_mib()
    samples: list[float] = []
    rss_steps: list[str] = []
    services = [s.id for s in site.services]
    for index in range(tickets):
        window.choose_service(services[index % len(services)])
        app.processEvents()
        expected = simulator.printed + 1
        started = time.perf_counter()
        QTest.mouseClick(window.guide.take, Qt.MouseButton.LeftButton)
        while simulator.printed < expected:
            app.processEvents()
            simulator.wait_receipts(expected, timeout=0.001)
            if time.perf_counter() - started > 30:
                raise RuntimeError("no ticket within 30 s")
        samples.append((time.perf_counter() - started) * 1000)
        # Let the screen settle on the ticket before the next citizen.
        deadline = time.monotonic() + 10
        while window.page_name() != "ticket" and time.monotonic() < deadline:
            app.processEvents()
        window.reset_to_home()
        if (index + 1) % 100 == 0:
            rss_steps.append(f"{rss_mib():.0f}")
    rss_after = rss_mib()
    print(f"touch → ticket bytes on the pty ({tickets} tickets): "
          f"p50 {percentile(samples, 0.5):.1f} ms, p99 {percentile(samples, 0.99):.1f} ms, "
          f"max {max(samples):.1f} ms")
    print(f"bench process RSS (kiosk window + bus + printer simulator): {rss_before:.0f} MiB "
          f"before, {rss_after:.0f} MiB after {tickets} tickets "
          f"(every 100 tickets: {', '.join(rss_steps)} MiB)")
    window.close()
    printer.stop()
    bus.stop()
    window.deleteLater()
    app.sendPostedEvents(None, 0)
    app.processEvents()


def bench_start(site_path: Path, workdir: Path, starts: int) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    timings: list[float] = []
    memory: list[float] = []
    for attempt in range(starts):
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "operations.cli", "kiosk", "--site", str(site_path),
             "--offscreen", "--data-dir", str(workdir / f"start-{attempt}")],
            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
        )
        assert process.stderr is not None
        for line in process.stderr:
            if "kiosk kiosk1 ready" in line.decode(errors="replace"):
                timings.append((time.perf_counter() - started) * 1000)
                break
        time.sleep(2)  # let the printer poll and the bus settle before reading memory
        memory.append(rss_mib(process.pid))
        process.terminate()
        process.wait(timeout=15)
    print(f"kiosk start → first frame ({starts} starts): "
          f"median {percentile(timings, 0.5):.0f} ms, max {max(timings):.0f} ms")
    print(f"kiosk process RSS when idle: median {percentile(memory, 0.5):.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "mosquitto").mkdir()
        broker = Mosquitto(workdir / "mosquitto").start()
        config = BrokerConfig(port=broker.port, username=broker.user, password=broker.password)
        site = bench_site(config)
        site_path = write_site(site, workdir / "site.yaml")
        engine = EngineProcess(site_path, workdir / "queue.sqlite3", workdir / "engine.log")
        engine.start()
        try:
            wait_engine(site)
            bench_touch_to_bytes(site, workdir, args.tickets)
            bench_start(site_path, workdir, args.starts)
        finally:
            engine.terminate()
            broker.stop()


if __name__ == "__main__":
    main()
