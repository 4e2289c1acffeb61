"""How fast the bridge empties a backlog into the backend, and how late a live event arrives.

    python bench/bridge_bench.py [--backlog 20000] [--batch 200] [--live 300]

A private Mosquitto (with the production queue limits), the reference backend over HTTPS with a
throw-away CA, and the bridge in-process. First the backend is down while `--backlog` events are
published; then it comes back and the drain rate is measured. Then `--live` events are published
at 20 a second and the delay from publish to stored-at-the-backend is reported.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import REPO, percentile

sys.path.insert(0, str(REPO / "tests"))  # the test helpers import each other as pytest sees them

from bridge_fixtures import HALL_BROKER_LIMITS, ticket_event
from mosquitto import Mosquitto
from queue_fixtures import make_site
from tls_certs import make_pki

from bench.reference_backend import ReferenceBackend, server_tls
from daemons.bridge.daemon import BridgeDaemon
from firmware_config.bridge import BridgeConfig, HttpsUplinkConfig
from firmware_config.site import BrokerConfig
from hall_bus import topics
from hall_bus.client import BusClient
from hall_bus.contract.queue import QueueEventType

KEY = b"bench-hall-key-0123456789abcdef"


def wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--live", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hall-bridge-bench-") as folder:
        work = Path(folder)
        broker = Mosquitto(work / "mosquitto", extra_lines=HALL_BROKER_LIMITS)
        broker.workdir.mkdir()
        broker.start()
        pki = make_pki(work / "pki")
        site = make_site()
        backend = ReferenceBackend(work / "backend.sqlite3", {site.hall_id: KEY},
                                   tls=server_tls(pki.server_cert, pki.server_key)).start()
        (work / "hall.key").write_bytes(KEY)
        config = BridgeConfig(https=HttpsUplinkConfig(base_url=backend.url,
                                                      key_file=work / "hall.key",
                                                      ca_file=pki.ca_cert),
                              batch_size=args.batch, retry_min_s=0.05, retry_max_s=0.2,
                              poll_downlinks_s=3600)
        site = site.model_copy(update={"broker": BrokerConfig(
            port=broker.port, username=broker.user, password=broker.password), "bridge": config,
            "data_dir": work})
        bridge = BridgeDaemon(site, config, work / "bridge.sqlite3", KEY)
        publisher = BusClient(site.hall_id, "bench", site.broker)
        publisher.start(wait=10)
        topic = topics.queue_endpoint(site.hall_id).event
        try:
            backend.set_faults(down=True)
            bridge.start(wait=10)
            started = time.monotonic()
            for n in range(args.backlog):
                delivery = publisher.publish(topic, ticket_event(n))
                if n % 1000 == 999:
                    # Like the engine's own outbox: never more in flight than the client queues.
                    delivery.wait(60)
            wait(lambda: bridge.store.figures().backlog == args.backlog, 120)
            stored_s = time.monotonic() - started
            backend.set_faults(down=False)
            started = time.monotonic()
            wait(lambda: bridge.store.figures().backlog == 0, 600)
            drain_s = time.monotonic() - started
            delays: list[float] = []
            for n in range(args.live):
                event = ticket_event(args.backlog + n, QueueEventType.TICKET_CALLED)
                sent = time.monotonic()
                publisher.publish(topic, event)
                count = args.backlog + n + 1
                wait(lambda c=count: backend.store.count(site.hall_id) >= c, 10)
                delays.append(time.monotonic() - sent)
                time.sleep(max(0.0, 0.05 - (time.monotonic() - sent)))
        finally:
            bridge.stop()
            publisher.stop()
            backend.stop()
            broker.kill()
        print(f"backlog stored in the outbox: {args.backlog} events in {stored_s:.1f} s "
              f"({args.backlog / stored_s:.0f}/s, each committed before its PUBACK)")
        print(f"backlog drained over HTTPS:   {args.backlog} events in {drain_s:.1f} s "
              f"({args.backlog / drain_s:.0f}/s, batches of {args.batch})")
        print(f"live event publish -> stored at the backend: p50 "
              f"{percentile(delays, 0.5) * 1000:.0f} ms, p99 {percentile(delays, 0.99) * 1000:.0f}"
              f" ms, max {max(delays) * 1000:.0f} ms ({args.live} events)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
