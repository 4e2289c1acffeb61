"""Cost of the metrics exporter: feeding a busy day's bus traffic, and one scrape.

Feeds HallFigures (no broker: the figures are what costs) a county hall's day several times over
(calls, issued tickets, ratings, device statuses, request/response pairs) and times the feeding
per message and the rendering of one scrape. Run: `python bench/metrics_bench.py [--messages N]`.
"""

from __future__ import annotations

import argparse
import json
import time

from bench.common import bench_site, called_event, percentile
from daemons.metrics.exporter import HallFigures
from firmware_config.site import SiteConfig
from hall_bus.contract import QueueEvent, QueueEventType


def _event(site: SiteConfig, index: int) -> QueueEvent:
    called = called_event(site, index, service_index=index)
    if index % 2:
        return called
    return called.model_copy(update={"type": QueueEventType.TICKET_ISSUED})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    figures = HallFigures("demo-county")
    site = bench_site()
    events = [_event(site, i) for i in range(200)]
    feed: list[float] = []
    for index in range(args.messages):
        started = time.perf_counter()
        step = index % 4
        if step == 0:
            figures.on_event(events[index % len(events)])
        elif step == 1:
            figures.on_status(f"hall/demo-county/line1/w{index % 16:02d}-strip/status", b"online")
        elif step == 2:
            figures.on_request("hall/demo-county/queue/request/take_ticket",
                               json.dumps({"id": f"r{index}"}).encode())
        else:
            figures.on_response(json.dumps({"id": f"r{index - 1}", "status": "ok"}).encode())
        feed.append(time.perf_counter() - started)
    renders = []
    for _ in range(50):
        started = time.perf_counter()
        text = figures.render()
        renders.append(time.perf_counter() - started)
    print(f"messages fed: {args.messages}, per message p50 {percentile(feed, 0.5) * 1e6:.1f} µs "
          f"p99 {percentile(feed, 0.99) * 1e6:.1f} µs")
    print(f"scrape: {len(text.splitlines())} lines, {len(text.encode())} bytes, render p50 "
          f"{percentile(renders, 0.5) * 1e3:.2f} ms p99 {percentile(renders, 0.99) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
