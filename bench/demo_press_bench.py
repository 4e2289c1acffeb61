"""What the demo's keypad traffic costs on one of its simulated 9600-baud lines.

    python bench/demo_press_bench.py [--seconds 20] [--line line1]

The demo site's line as configured (line1: 8 windows with strip, caller keypad and pad, and the
hall screen), its pty simulator with the press channel, the line daemon, the queue engine and a
private Mosquitto. Staff act through the demo's own window desks (demo/window_desk.py):
press, wait for the keypad's acknowledgement, press again; citizens rate on the pads.

Prints press -> acknowledgement p50/p99 and presses per second:
(1) one window at a time (a quiet line: the delay a person feels);
(2) every window of the line calling and finishing back to back, citizens rating (the most the
    line carries; what `hall demo` at x1700 asks of it), and what one press then costs in
    simulated minutes at the headless demo's speed.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from common import on_private_broker, percentile, staff_for

from daemons.line.daemon import LineDaemon
from daemons.queue.service import QueueEngine
from demo.window_desk import (
    CalledTicket,
    Desk,
    PressLog,
    QueueView,
    build_desks,
)
from drivers.line.press_channel import PressChannelServer, press_channel_path
from drivers.line.simulator import simulate_line
from firmware_config.site import SiteConfig
from hall_bus.client import BusClient
from hall_bus.contract import QUEUE_ACTIONS, RatingLevel, Response
from hall_bus.topics import queue_endpoint

HEADLESS_SPEED = 1725  # `hall demo --seconds 20` on the demo site


def _serve_one(desk: Desk, ratings: list[threading.Thread]) -> bool:
    called = desk.act("call_next")
    if called.ticket is None:
        return False
    desk.act("finish")
    ticket: CalledTicket = called.ticket
    rating = threading.Thread(target=desk.rate, args=(ticket, RatingLevel.VERY_SATISFIED, 0))
    rating.start()
    ratings.append(rating)
    return True


def _figures(label: str, log: PressLog, seconds: float) -> None:
    ms = log.ack_ms
    print(f"{label}: {log.sent} presses in {seconds:.1f} s ({log.sent / seconds:.1f}/s), "
          f"failed {sum(log.failed.values())}; press -> ACK p50 {percentile(ms, .5):.0f} ms, "
          f"p99 {percentile(ms, .99):.0f} ms")


def run(site: SiteConfig, workdir: Path, line_id: str, seconds: float) -> None:
    line = next(ln for ln in site.lines if ln.id == line_id)
    engine = QueueEngine(site, workdir / "queue.sqlite3")
    engine.start(wait=10)
    sim, devices = simulate_line(line, workdir)
    sim.start()
    channel_path = press_channel_path(line, workdir)
    assert channel_path is not None
    channel = PressChannelServer(channel_path, devices).start()
    daemon = LineDaemon(site, line)
    daemon.start(wait=10)
    client = BusClient(site.hall_id, "bench", site.broker)
    endpoint = queue_endpoint(site.hall_id)

    def request(action: str, **fields: object) -> Response | None:
        model = QUEUE_ACTIONS[action].request.model_validate(fields)
        return client.request(endpoint, action, model, timeout=10)

    view = QueueView(client, site.hall_id)
    client.start(wait=10)
    try:
        on_line = {d.window for d in line.devices if d.window}
        windows = [w for w in site.windows if w.id in on_line]
        for service in {s.service for w in windows for s in w.services}:
            for _ in range(200):
                request("take_ticket", service_id=service)
        logins, quiet, busy = PressLog(), PressLog(), PressLog()
        desks = build_desks(site, request, view, logins)
        for window, person in zip(windows, staff_for(site, [w.id for w in windows]), strict=True):
            assert desks[window.id].act("login", staff_id=person).ok
        ratings: list[threading.Thread] = []
        desks = build_desks(site, request, view, quiet)
        started = time.monotonic()
        for window in windows:
            for _ in range(3):
                _serve_one(desks[window.id], ratings)
                for rating in ratings:
                    rating.join()  # one person at a time: the pad too
        _figures("(1) one window at a time", quiet, time.monotonic() - started)

        busy_desks = build_desks(site, request, view, busy)
        stop_at = time.monotonic() + seconds

        def staff(desk: Desk) -> None:
            while time.monotonic() < stop_at and _serve_one(desk, ratings):
                pass

        started = time.monotonic()
        workers = [threading.Thread(target=staff, args=(busy_desks[w.id],)) for w in windows]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        for rating in ratings:
            rating.join()
        _figures(f"(2) all {len(windows)} windows back to back", busy,
                 time.monotonic() - started)
        p50 = percentile(busy.ack_ms, .5) / 1000
        print(f"    at x{HEADLESS_SPEED} one press then takes {p50 * HEADLESS_SPEED / 60:.1f} "
              f"simulated minutes (p50); line poll cycle {daemon.cycle_ms or 0:.0f} ms")
    finally:
        client.stop()
        daemon.stop()
        channel.stop()
        sim.stop()
        engine.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--line", default="line1")
    args = parser.parse_args()
    on_private_broker("hall-press-bench-",
                      lambda site, workdir: run(site, workdir, args.line, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
