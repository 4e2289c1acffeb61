"""Watchdog pings of a real `hall queue` process and the time `hall doctor` takes.

Runs the queue engine as systemd would (a datagram socket as $NOTIFY_SOCKET, WATCHDOG_USEC as in
the unit: 30 s, or --watchdog-s) on a private Mosquitto and prints: start → READY=1, the ping
interval against its target (half the period), SIGTERM → STOPPING=1 → exit, and the wall time of
`hall doctor --json` on that hall.

    python bench/watchdog_bench.py [--seconds 20] [--watchdog-s 2]
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.common import REPO, on_private_broker, percentile
from bench.engine_process import write_site
from firmware_config.site import SiteConfig
from tests.notify_listener import NotifyListener


def _measure(site: SiteConfig, workdir: Path, seconds: float, watchdog_s: float) -> None:
    site_path = write_site(site, workdir / "site.yaml")
    listener = NotifyListener.abstract()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "operations.cli", "queue", "--site", str(site_path)], cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "NOTIFY_SOCKET": listener.address,
             "WATCHDOG_USEC": str(round(watchdog_s * 1e6))},
    )
    try:
        listener.wait_for(lambda: bool(listener.times_of("READY=1")), timeout=30)
        ready_s = listener.times_of("READY=1")[0] - started
        time.sleep(seconds)
        doctor_started = time.monotonic()
        subprocess.run([sys.executable, "-m", "operations.cli", "doctor", "--site",
                        str(site_path), "--json"], cwd=REPO, capture_output=True, check=False)
        doctor_s = time.monotonic() - doctor_started
        term_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        exit_s = time.monotonic() - term_at
    finally:
        if process.poll() is None:
            process.kill()
        listener.close()
    pings = listener.times_of("WATCHDOG=1")
    gaps = [later - earlier for earlier, later in itertools.pairwise(pings)]
    stopping = listener.times_of("STOPPING=1")
    target = watchdog_s / 2
    print(f"watchdog period {watchdog_s:g} s, ping target {target:g} s, {len(pings)} pings "
          f"in {seconds:g} s")
    print(f"start -> READY=1: {ready_s:.2f} s")
    if gaps:
        print(f"ping interval: min {min(gaps):.3f} s, p50 {percentile(gaps, 0.5):.3f} s, "
              f"p99 {percentile(gaps, 0.99):.3f} s, max {max(gaps):.3f} s")
    print(f"SIGTERM -> STOPPING=1: {(stopping[0] - term_at) if stopping else float('nan'):.3f} s"
          f", -> exit: {exit_s:.2f} s")
    print(f"hall doctor --json (1 s collecting retained statuses): {doctor_s:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--watchdog-s", type=float, default=2.0)
    args = parser.parse_args()
    on_private_broker("hall-watchdog-bench-",
                      lambda site, workdir: _measure(site, workdir, args.seconds, args.watchdog_s))


if __name__ == "__main__":
    main()
