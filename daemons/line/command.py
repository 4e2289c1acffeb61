"""`hall line --port P`: the line daemon of one port; `--simulate`: that line's devices instead.

(`--picture DIR` is answered by demo/pictures/line.py: it starts a whole hall.)
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from daemons.line.daemon import LineDaemon
from drivers.line.press_channel import PressChannelServer, press_channel_path
from drivers.line.simulator import SimDisplay, simulate_line
from firmware_config.line import LineConfig
from firmware_config.loader import add_site_argument, load_site_or_exit
from hall_bus.lifecycle import run_until_signalled

log = logging.getLogger("hall.line")


def _find_line(lines: list[LineConfig], port: str) -> LineConfig | None:
    return next((ln for ln in lines if port in (ln.port, ln.id)), None)


def add_line_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall line`."""
    add_site_argument(parser)
    parser.add_argument("--port", default=None, help="serial port, pty link or line id")
    parser.add_argument(
        "--simulate", action="store_true", help="be the line's simulated devices instead"
    )


def run_line_command(args: argparse.Namespace) -> int:
    site = load_site_or_exit(args.site)
    if args.port is None:
        log.error("需要 --port 或 --picture / give --port or --picture")
        return 2
    line = _find_line(site.lines, args.port)
    if line is None:
        log.error("没有使用 %s 的线路 / no line in the site uses %s", args.port, args.port)
        return 2
    if args.simulate:
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        return _simulate(line, site.data_dir, stopping)
    return run_until_signalled(LineDaemon(site, line),
                               f"线路正在停止 / line {line.id} stopping")


def _simulate(line: LineConfig, data_dir: Path, stopping: threading.Event) -> int:
    """Serve the simulated devices and print what each display shows when it changes."""
    sim, devices = simulate_line(line, data_dir)
    sim.start()
    log.info("模拟线路 / simulated line %s on %s", line.id, sim.link)
    # Scripted fingers for its keypads and pads (the demo's staff and citizens), on a local
    # socket of this simulator only.
    channel_path = press_channel_path(line, data_dir)
    channel = PressChannelServer(channel_path, devices).start() if channel_path else None
    shown: dict[str, tuple[str, ...]] = {}
    try:
        while not stopping.wait(0.5):
            for device_id, device in devices.items():
                if isinstance(device, SimDisplay) and device.shown != shown.get(device_id):
                    shown[device_id] = device.shown
                    log.info("[%s] %s", device_id, " | ".join(device.shown))
    finally:
        if channel is not None:
            channel.stop()
        sim.stop()
    return 0
