"""`hall console --screenshots DIR`: pictures of the console's main views for the README.

A whole hall runs in this process: the embedded broker, the real queue engine on a temporary
database, the site's simulated RS-485 lines with their line daemons, and the console. A scripted
morning goes through the engine on a settable clock (tickets spread over the hours, calls, a
transfer, ratings with a bad one, a paused window, a camera's absence report, a printer running
low), and headless Chromium (Debian's, through Playwright) logs in and photographs each view.
"""

from __future__ import annotations

import argparse
import logging
import random
import secrets
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from daemons.broker.embedded import EmbeddedBroker
from daemons.console.auth import hash_password
from daemons.console.daemon import ConsoleDaemon
from daemons.line.daemon import LineDaemon
from daemons.queue.service import QueueEngine
from drivers.line.simulator import simulate_line
from firmware_config.console import ConsoleConfig, ManagerAccount
from firmware_config.loader import load_site_or_exit
from firmware_config.site import SiteConfig
from hall_bus.client import BusClient
from hall_bus.contract import (
    QUEUE_ACTIONS,
    CameraEvent,
    CameraEventType,
    KioskPrinterState,
    PrinterPaper,
    ResponseStatus,
    channels,
)
from hall_bus.netutil import free_port
from hall_bus.topics import queue_endpoint

log = logging.getLogger("hall.console.screenshots")

VIEWS = ("floor", "ratings", "devices", "charts", "screens", "report", "actions")
CHROMIUM = "/usr/bin/chromium"


class SettableClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class _Morning:
    """The scripted traffic: everything through the engine, as the hall's devices would do it."""

    def __init__(self, site: SiteConfig, bus: BusClient, clock: SettableClock) -> None:
        self.site = site
        self.bus = bus
        self.clock = clock
        self.endpoint = queue_endpoint(site.hall_id)
        self.random = random.Random(7)

    def ask(self, action: str, **fields: Any) -> dict[str, Any]:
        response = self.bus.request(self.endpoint, action, QUEUE_ACTIONS[action].request(**fields))
        if response.status is not ResponseStatus.OK:
            log.info("%s refused: %s", action, response.error)
            return {}
        return response.data or {}

    def play(self) -> None:
        windows = self.site.windows[:12]
        free = list(self.site.staff)
        for window in windows:
            staff = next((p for p in free if window.id in p.windows), None) or next(
                (p for p in free if not p.windows), None)
            if staff is not None:
                free.remove(staff)
                self.ask("login", window_id=window.id, staff_id=staff.id)
        for step in range(26):
            self.clock.now += timedelta(minutes=13)
            for _ in range(self.random.randint(3, 9)):
                service = self.random.choice(self.site.services[:8])
                self.ask("take_ticket", service_id=service.id)
            for window in windows:
                if self.random.random() < 0.6:
                    done = self.ask("call_next", window_id=window.id).get("finished")
                    if done and self.random.random() < 0.7:
                        level = self.random.choice(
                            ["very_satisfied"] * 6 + ["satisfied"] * 3 + ["dissatisfied"])
                        self.ask("rate", ticket_id=done["ticket_id"], level=level,
                                 reason="等候时间长" if level == "dissatisfied" else None)
            if step == 20:
                self.ask("finish", window_id=windows[5].id)
                self.ask("pause", window_id=windows[5].id, reason="午间轮换 / lunch rotation")
        for window in windows[:3]:
            self.ask("start_service", window_id=window.id)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"截图准备超时 / screenshots: timed out waiting for {what}")
        time.sleep(0.05)


def make_screenshots(site: SiteConfig, out_dir: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="hall-console-shots-"))
    password = secrets.token_urlsafe(12)
    broker_config = site.broker.model_copy(update={"host": "127.0.0.1", "port": free_port()})
    account = ManagerAccount(login="duty", name="王芳", password_hash=hash_password(password))
    site = site.model_copy(update={
        "broker": broker_config, "data_dir": work,
        "console": ConsoleConfig(managers=[account]),
        "lines": [line for line in site.lines if line.port.startswith("sim:")],
    })
    zone = site.zone
    opening = datetime.combine(datetime.now(zone).date(), site.opening_time, zone)
    clock = SettableClock(opening + timedelta(minutes=5))
    broker = EmbeddedBroker("127.0.0.1", broker_config.port,
                            {broker_config.username: broker_config.password})
    broker.start()
    engine = QueueEngine(site, work / "queue.sqlite3", clock)
    simulators, daemons = [], []
    console = ConsoleDaemon(site, port=free_port())
    bus = BusClient(site.hall_id, "screenshots", site.broker, announce=False)
    saved: list[Path] = []
    try:
        engine.start(wait=10)
        for line in site.lines:
            simulator, _devices = simulate_line(line, work)
            simulator.start()
            simulators.append(simulator)
            daemon = LineDaemon(site, line)
            daemon.start(wait=10)
            daemons.append(daemon)
        console.start(wait=10)
        bus.start(wait=10)
        _Morning(site, bus, clock).play()
        _side_events(site, bus)
        _wait(lambda: console.view.section("report") is not None, "the day's report")
        console.actions.refresh_report()
        console.actions.refresh_alerts()
        # The duty manager has already dealt with the oldest alert and put up a notice.
        oldest = list(console.view.alerts)[-1:]
        for alert_id in oldest:
            console.actions.run("acknowledge", {"alert_id": alert_id, "note": "已提醒窗口"}, "duty")
        console.actions.run("notice", {"text_zh": "12:00-13:00 午间错时服务，请耐心等候",
                                       "text_en": "Lunch hours: fewer windows open",
                                       "minutes": 120}, "duty")
        time.sleep(3.0)  # the lines write the last calls to their strips and the hall screen
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(console.url)
            page.fill("#login", "duty")
            page.fill("#password", password)
            page.click("#login-button")
            page.wait_for_selector(".window .ticket", timeout=10000)
            for view in VIEWS:
                page.click(f'button[data-view="{view}"]')
                page.wait_for_timeout(600)  # pictures and charts load
                path = out_dir / f"console-{view}.png"
                page.screenshot(path=str(path), full_page=view not in ("floor", "screens"))
                saved.append(path)
            browser.close()
    finally:
        bus.stop()
        console.stop()
        for daemon in daemons:
            daemon.stop()
        for simulator in simulators:
            simulator.stop()
        engine.stop()
        broker.stop()
    return saved


def _side_events(site: SiteConfig, bus: BusClient) -> None:
    """What the other daemons would say: a kiosk printer running low, a camera's absence."""
    for kiosk in site.kiosks[:1]:
        bus.publish_to(channels.KIOSK_PRINTER_STATE, KioskPrinterState(
            ready=True, online=True, paper=PrinterPaper.NEAR_END, cover_open=False, port="sim",
            profile=kiosk.printer.name,
            detail="纸将用尽 / paper near end"), kiosk=kiosk.id)
    for camera in site.cameras[:1]:
        seat = camera.seats[0].window if camera.seats else site.windows[0].id
        bus.publish_to(channels.CAMERA_EVENT, CameraEvent(
            type=CameraEventType.ABSENCE_STARTED, camera=camera.name, window_id=seat,
            absent_since=datetime.now().astimezone() - timedelta(minutes=7), absent_s=420,
            grace_s=300, message=f"{seat}座位无人超过5分钟 / seat of {seat} empty over 5 min"),
            camera=camera.name)
    time.sleep(1.0)


def run_pictures_command(args: argparse.Namespace) -> int:
    """Print the path of every picture made."""
    site = load_site_or_exit(args.site)
    for path in make_screenshots(site, args.screenshots):
        print(path)
    return 0
