"""SIGKILL the queue engine at random moments during a request stream, many times over.

    python bench/crash_queue.py --kills 200 [--seed 7] [--requesters 4]

Runs a private Mosquitto on a free port and the real `hall queue` daemon; prints the figures and
exits 1 if any ticket was lost or numbered twice (see bench/crash_harness.py for the checks).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, bench_site, percentile

from bench.crash_harness import CrashHarness
from firmware_config.site import BrokerConfig
from tests.mosquitto import Mosquitto


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--requesters", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hall-crash-") as folder:
        workdir = Path(folder)
        broker = Mosquitto(workdir / "mosquitto").start()
        try:
            config = BrokerConfig(
                host="127.0.0.1",
                port=broker.port,
                username=broker.user,
                password=broker.password,
                reconnect_min_s=0.05,
                reconnect_max_s=0.5,
            )
            harness = CrashHarness(
                bench_site(config), workdir, seed=args.seed, requesters=args.requesters
            )
            started = time.monotonic()
            result = harness.run(args.kills, progress=True)
            elapsed = time.monotonic() - started
        finally:
            broker.stop()
    print(f"kills                  {result.kills}")
    print(f"run time               {elapsed:.1f} s")
    print(
        f"requests sent          {result.requests_sent} ({result.retries} re-sent after no answer)"
    )
    print(f"tickets acknowledged   {result.tickets_acknowledged}")
    print(f"tickets found          {result.tickets_found}")
    print(f"calls acknowledged     {result.calls_acknowledged}")
    if result.restart_s:
        print(
            f"restart to first answer  median {statistics.median(result.restart_s):.3f} s, "
            f"p95 {percentile(result.restart_s, 0.95):.3f} s"
        )
    print(f"problems               {len(result.problems)}")
    for problem in result.problems[:20]:
        print(f"  - {problem}")
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
