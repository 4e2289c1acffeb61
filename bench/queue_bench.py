"""Durable queue operations per second, and request round trips over a real broker.

    python bench/queue_bench.py [--ops 2000] [--round-trips 2000] [--broker mosquitto|embedded]

1. The store alone: take_ticket, and a full citizen cycle (take, call, start, finish, rate),
   each committed to SQLite with synchronous=FULL before it returns.
2. The daemon over the broker: `hall queue` in its own process; citizen cycles (take_ticket,
   call_next, finish) from one requester (latency p50/p99), then from 8 at once (throughput).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common import bench_site, percentile

from bench.engine_process import EngineProcess, write_site
from daemons.broker.embedded import EmbeddedBroker
from daemons.queue.store import QueueStore
from firmware_config.site import BrokerConfig, SiteConfig, WindowConfig
from hall_bus.client import BusClient, BusTimeout
from hall_bus.contract import (
    CallNextRequest,
    DescribeRequest,
    FinishRequest,
    LoginRequest,
    RateRequest,
    RatingLevel,
    StartServiceRequest,
    TakeTicketRequest,
)
from hall_bus.topics import Endpoint, queue_endpoint
from tests.mosquitto import Mosquitto


def bench_store(workdir: Path, ops: int) -> None:
    site = bench_site()
    store = QueueStore(workdir / "store.sqlite3", site)
    services = [s.id for s in site.services]
    started = time.perf_counter()
    for index in range(ops):
        store.execute("take_ticket", TakeTicketRequest(service_id=services[index % len(services)]))
    elapsed = time.perf_counter() - started
    print(
        f"store take_ticket        {ops / elapsed:8.0f} ops/s  ({elapsed / ops * 1000:.2f} ms each)"
    )

    window = site.windows[0]
    store.execute("login", LoginRequest(window_id=window.id, staff_id=site.staff[0].id))
    service = window.services[0].service
    cycles = max(1, ops // 5)
    started = time.perf_counter()
    for _ in range(cycles):
        issued = store.execute("take_ticket", TakeTicketRequest(service_id=service))
        ticket_id = (issued.response.data or {})["ticket"]["ticket_id"]
        store.execute("call_next", CallNextRequest(window_id=window.id))
        store.execute("start_service", StartServiceRequest(window_id=window.id))
        store.execute("finish", FinishRequest(window_id=window.id))
        store.execute("rate", RateRequest(ticket_id=ticket_id, level=RatingLevel.SATISFIED))
    elapsed = time.perf_counter() - started
    print(
        f"store citizen cycle      {cycles * 5 / elapsed:8.0f} ops/s  "
        f"({cycles / elapsed:.0f} citizens/s, 5 requests each)"
    )
    store.close()


@contextmanager
def running_engine(site: SiteConfig, workdir: Path) -> Iterator[None]:
    workdir.mkdir(parents=True, exist_ok=True)
    site_path = write_site(site, workdir / "site.yaml")
    engine = EngineProcess(site_path, workdir / "engine.sqlite3", workdir / "engine.log")
    engine.start()
    try:
        yield
    finally:
        engine.terminate()


def wait_for_engine(client: BusClient, endpoint: Endpoint) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if client.request(endpoint, "describe", DescribeRequest(), timeout=0.5).status == "ok":
                return
        except BusTimeout:
            continue
    raise RuntimeError("engine did not answer")


def bench_round_trips(site: SiteConfig, workdir: Path, count: int) -> None:
    """Requests as a hall makes them: each requester stands for windows whose citizens take a
    ticket, are called and are finished, so the queue stays as short as in a working hall."""
    endpoint = queue_endpoint(site.hall_id)
    pairs = _window_staff_pairs(site)
    with running_engine(site, workdir), BusClient(site.hall_id, "bench", site.broker) as client:
        wait_for_engine(client, endpoint)
        for window, staff_id in pairs:
            client.request(
                endpoint, "login", LoginRequest(window_id=window.id, staff_id=staff_id), timeout=10
            )

        def cycles(windows: list[WindowConfig], requests: int, latencies: list[float]) -> None:
            sent = 0
            while sent < requests:
                for window in windows:
                    service = window.services[0].service
                    for action, request in (
                        ("take_ticket", TakeTicketRequest(service_id=service)),
                        ("call_next", CallNextRequest(window_id=window.id)),
                        ("finish", FinishRequest(window_id=window.id)),
                    ):
                        started = time.perf_counter()
                        response = client.request(endpoint, action, request, timeout=30)
                        latencies.append((time.perf_counter() - started) * 1000)
                        if response.status != "ok":
                            raise RuntimeError(f"{action}: {response.code}")
                        sent += 1

        latencies: list[float] = []
        cycles([pairs[0][0]], count, latencies)
        print(
            f"round trip (one client)  p50 {percentile(latencies, 0.5):.2f} ms  "
            f"p99 {percentile(latencies, 0.99):.2f} ms  max {max(latencies):.2f} ms  "
            f"(n={len(latencies)}: take_ticket, call_next, finish)"
        )

        windows = [window for window, _ in pairs]
        groups = [windows[n::8] for n in range(8)]
        shared: list[list[float]] = [[] for _ in groups]
        threads = [
            threading.Thread(target=cycles, args=(group, count // 8, shared[n]))
            for n, group in enumerate(groups)
            if group
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        merged = [value for part in shared for value in part]
        print(
            f"throughput               {len(merged) / elapsed:8.0f} requests/s with "
            f"{len(threads)} concurrent requesters (p50 {percentile(merged, 0.5):.2f} ms, "
            f"p99 {percentile(merged, 0.99):.2f} ms)"
        )


def _window_staff_pairs(site: SiteConfig) -> list[tuple[WindowConfig, str]]:
    free = list(site.staff)
    pairs = []
    for window in site.windows:
        person = next((p for p in free if not p.windows or window.id in p.windows), None)
        if person is not None:
            free.remove(person)
            pairs.append((window, person.id))
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--broker", choices=["mosquitto", "embedded", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hall-bench-") as folder:
        workdir = Path(folder)
        bench_store(workdir, args.ops)
        if args.broker in ("mosquitto", "both"):
            print("-- Mosquitto")
            broker = Mosquitto(workdir / "mosquitto").start()
            try:
                config = BrokerConfig(
                    port=broker.port, username=broker.user, password=broker.password
                )
                bench_round_trips(bench_site(config), workdir / "m", args.round_trips)
            finally:
                broker.stop()
        if args.broker in ("embedded", "both"):
            print("-- embedded broker (amqtt)")
            with EmbeddedBroker(port=0, users={"hall": "bench-secret"}) as embedded:
                config = BrokerConfig(port=embedded.port, username="hall", password="bench-secret")
                bench_round_trips(bench_site(config), workdir / "e", args.round_trips)
    return 0


if __name__ == "__main__":
    sys.exit(main())
