"""`hall kiosk --screenshots DIR`: pictures of the main kiosk screens for the README.

A whole small hall runs in this process — the embedded broker, the real queue engine on a
temporary database, the kiosk with its simulated printer — so the pictures show what a citizen
sees, not a mock-up. The clock is fixed so that the pictures do not change from run to run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from daemons.broker.embedded import EmbeddedBroker
from daemons.queue.service import QueueEngine
from firmware_config.kiosk import KioskConfig
from firmware_config.loader import load_site_or_exit
from firmware_config.site import SiteConfig
from hall_bus.client import BusClient
from hall_bus.netutil import free_port
from kiosk.runner import pick_kiosk

log = logging.getLogger("hall.kiosk")

SIZE = (900, 1400)
FIXED_NOW = datetime(2024, 3, 4, 1, 5, tzinfo=UTC)  # 09:05 in Shanghai


def take_screenshots(site: SiteConfig, kiosk: KioskConfig, out_dir: Path) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from kiosk.app import KioskWindow
    from kiosk.printing import KioskPrinter
    from kiosk.ticketing import TicketDesk

    out_dir.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    work = Path(tempfile.mkdtemp(prefix="hall-screenshots-"))
    port = free_port()
    broker_config = site.broker.model_copy(update={"host": "127.0.0.1", "port": port})
    site = site.model_copy(update={"broker": broker_config})
    broker = EmbeddedBroker("127.0.0.1", port, {broker_config.username: broker_config.password})
    broker.start()
    engine = QueueEngine(site, work / "queue.sqlite3", lambda: FIXED_NOW)
    engine.start(wait=10)
    bus = BusClient(site.hall_id, kiosk.id, site.broker)
    desk = TicketDesk(site, kiosk, bus)
    bus.start(wait=10)
    printer = KioskPrinter(site, kiosk, bus, receipts_dir=work / "receipts")
    window = KioskWindow(site, kiosk, desk, printer)
    window.allow_close = True
    window.resize(*SIZE)
    window.show()
    saved: list[Path] = []

    def shot(name: str) -> None:
        app.processEvents()
        path = out_dir / f"kiosk-{name}.png"
        window.grab().save(str(path))
        saved.append(path)

    def wait(condition: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the kiosk did not reach the expected screen")
            app.processEvents()
            time.sleep(0.01)

    try:
        printer.start()
        wait(lambda: printer.driver.last_status.ready)
        first_service = site.services[0].id
        shot("home")
        window.choose_service(first_service)
        shot("guide")
        window.take_ticket()
        wait(lambda: window.page_name() == "ticket")
        shot("ticket")
        assert printer.simulator is not None
        receipts = printer.simulator.wait_receipts(1, timeout=5)
        if receipts and receipts[0].image is not None:
            path = out_dir / "ticket-receipt.png"
            receipts[0].image.save(path)
            saved.append(path)
        window.reset_to_home()
        printer.simulator.faults.paper_out = True
        window.choose_service(first_service)
        window.take_ticket()
        wait(lambda: window.page_name() == "printer_error")
        shot("printer-error")
        printer.simulator.faults.paper_out = False
        printer.driver.status()
        window.reset_to_home()
        window.set_language("en")
        window.set_elderly(True)
        shot("home-elderly-en")
    finally:
        window.close()
        printer.stop()
        bus.stop()
        engine.stop()
        broker.stop()
        window.deleteLater()  # in Qt's order, before Python's exit (see kiosk/runner.py)
        app.sendPostedEvents(None, 0)
        app.processEvents()
    return saved


def run_pictures_command(args: argparse.Namespace) -> int:
    """`hall kiosk --screenshots DIR`: print the path of every picture made."""
    site = load_site_or_exit(args.site)
    kiosk = pick_kiosk(site, args.kiosk)
    if kiosk is None:
        print(f"没有这台取号机 / no kiosk {args.kiosk!r} in the site config", file=sys.stderr)
        return 2
    for path in take_screenshots(site, kiosk, args.screenshots):
        print(path)
    return 0
