"""`hall line --picture DIR`: a window strip and the hall screen after a real call, as pictures.

The whole chain runs for real on this machine: an embedded broker, the queue engine, a simulated
line on a pty and the line daemon. A staff member logs in and presses "next" on the simulated
keypad; the pictures show what the simulated strip and hall screen then accepted.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from daemons.broker.embedded import EmbeddedBroker
from daemons.line.daemon import LineDaemon
from daemons.queue.service import QueueEngine
from drivers.led.render import render_png, terminal_view
from drivers.line.caller_keypad import Key
from drivers.line.simulator import SimDisplay, SimKeypad, simulate_line
from firmware_config.line import LineConfig, LineDeviceConfig, load_profile
from firmware_config.loader import load_site_or_exit
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus.client import BusClient
from hall_bus.contract import TakeTicketRequest
from hall_bus.topics import queue_endpoint

log = logging.getLogger("hall.line.picture")


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"模拟未完成 / simulation step timed out: {what}")
        time.sleep(0.02)


def make_pictures(site: SiteConfig, out: Path) -> list[Path]:
    window = site.windows[0]
    staff = next(p for p in site.staff if not p.windows or window.id in p.windows)
    service = window.services[0].service
    with tempfile.TemporaryDirectory(prefix="hall-line-picture-") as folder:
        work = Path(folder)
        with EmbeddedBroker(port=0, users={"hall": "picture"}) as broker:
            config = BrokerConfig(port=broker.port, username="hall", password="picture")
            site = site.model_copy(update={"broker": config, "data_dir": work})
            line = LineConfig(id="line1", port=str(work / "ttyLINE1"), notice="请保管好随身物品",
                              devices=[
                LineDeviceConfig(id="strip", profile="strip-hl1-32x1", address=1,
                                 window=window.id),
                LineDeviceConfig(id="caller", profile="caller-hl1", address=2, window=window.id),
                LineDeviceConfig(id="hall-screen", profile="hall-screen-hl1-64x6", address=10),
            ])
            engine = QueueEngine(site, work / "queue.sqlite3")
            engine.start(wait=10)
            sim, devices = simulate_line(line)
            sim.start()
            daemon = LineDaemon(site, line)
            daemon.start(wait=10)
            client = BusClient(site.hall_id, "picture", config)
            client.start(wait=10)
            try:
                for _ in range(3):
                    client.request(queue_endpoint(site.hall_id), "take_ticket",
                                   TakeTicketRequest(service_id=service))
                caller = devices["caller"]
                strip, screen = devices["strip"], devices["hall-screen"]
                assert isinstance(caller, SimKeypad)
                assert isinstance(strip, SimDisplay) and isinstance(screen, SimDisplay)
                caller.press(Key.LOGIN, staff.id)
                caller.press(Key.NEXT)
                _wait(lambda: len(caller.acks) == 2, "keypad acknowledged")
                _wait(lambda: bool(strip.shown) and "请" in strip.shown[0], "strip shows the call")
                _wait(lambda: any("→" in line for line in screen.shown), "hall screen")
                time.sleep(1.0)  # the waiting counts follow the call on the screen
                written = []
                for name, display, profile in (("window-strip", strip, "strip-hl1-32x1"),
                                               ("hall-screen", screen, "hall-screen-hl1-64x6")):
                    geometry = load_profile(profile)
                    written.append(render_png(display.shown, geometry.columns, geometry.rows,
                                              out / f"{name}.png"))
                    print(terminal_view(display.shown, geometry.columns, geometry.rows))
                return written
            finally:
                client.stop()
                daemon.stop()
                sim.stop()
                engine.stop()


def run_pictures_command(args: argparse.Namespace) -> int:
    """Print the path of every picture made."""
    site = load_site_or_exit(args.site)
    for path in make_pictures(site, args.picture):
        print(path)
    return 0
