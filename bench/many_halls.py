"""N halls, each with its own Mosquitto bridged to one central broker, publishing a busy day.

    python bench/many_halls.py [--halls 1,2,5,10] [--events 2000] [--rate 200]

Every hall broker is rendered by `hall config mosquitto` with the central bridge section (the
configuration a hall ships with) and runs as its own process; a publisher per hall sends
`--events` queue events at `--rate` per second (a day of some 300 tickets, each about six events,
pressed into seconds), and one subscriber on the central broker timestamps their arrival. For
each N it prints the end-to-end delay (hall publish -> central subscriber), what arrived, and
the central broker's load: CPU seconds per 1,000 messages and its resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from common import bench_site, percentile
from paho.mqtt.enums import CallbackAPIVersion

from firmware_config.bridge import BridgeConfig, CentralBrokerConfig, HttpsUplinkConfig
from firmware_config.mosquitto_config import render_mosquitto_config
from firmware_config.site import BrokerConfig
from hall_bus.netutil import free_port, port_is_free
from tests.mosquitto import Mosquitto

CENTRAL_USER, CENTRAL_PASSWORD = "city", "city-bench-secret"
HALL_PASSWORD = "hall-bench-secret"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def connect(port: int, user: str, password: str, name: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv311)
    client.username_pw_set(user, password)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def start_hall(
    index: int, workdir: Path, central_port: int
) -> tuple[str, int, subprocess.Popen[bytes]]:
    hall_id = f"hall-{index:03d}"
    folder = workdir / hall_id
    folder.mkdir()
    (folder / "central.password").write_text(CENTRAL_PASSWORD)
    (folder / "hall.key").write_text("bench-key-not-used-0123456789")
    port = free_port()
    site = bench_site(BrokerConfig(port=port, password=HALL_PASSWORD)).model_copy(update={
        "hall_id": hall_id,
        "data_dir": folder,
        "bridge": BridgeConfig(
            https=HttpsUplinkConfig(base_url="https://backend.invalid",
                                    key_file=folder / "hall.key"),
            central_broker=CentralBrokerConfig(host="127.0.0.1", port=central_port,
                                               username=CENTRAL_USER,
                                               password_file=folder / "central.password"),
        ),
    })
    conf = render_mosquitto_config(site, folder / "conf",
                                   run_user="root" if os.geteuid() == 0 else "mosquitto")
    process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=(folder / "mosquitto.log").open("ab"))
    deadline = time.monotonic() + 10
    while port_is_free("127.0.0.1", port):
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"{hall_id}: mosquitto did not start")
        time.sleep(0.05)
    return hall_id, port, process


def run(n_halls: int, events: int, rate: float, workdir: Path) -> dict[str, float]:
    central = Mosquitto(workdir / "central", user=CENTRAL_USER, password=CENTRAL_PASSWORD,
                        extra_lines=("max_queued_messages 100000",))
    central.workdir.mkdir(parents=True)
    central.start()
    central_pid = central.pid
    halls = [start_hall(i, workdir, central.port) for i in range(n_halls)]
    delays: list[float] = []
    lock = threading.Lock()
    linked: set[str] = set()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        now = time.time()
        if message.topic.endswith("/central/status"):
            if message.payload == b"1":
                linked.add(message.topic.split("/")[1])
            return
        sent = json.loads(message.payload)["sent"]
        with lock:
            delays.append(now - sent)

    city = connect(central.port, CENTRAL_USER, CENTRAL_PASSWORD, "city-console")
    city.on_message = on_message
    city.subscribe("hall/+/queue/event", qos=1)
    city.subscribe("hall/+/central/status", qos=1)
    deadline = time.monotonic() + 30
    while len(linked) < n_halls and time.monotonic() < deadline:
        time.sleep(0.05)
    publishers = [connect(port, "hall", HALL_PASSWORD, f"{hall_id}-queue")
                  for hall_id, port, _ in halls]
    cpu_before = cpu_seconds(central_pid)

    def publish_day(client: mqtt.Client, hall_id: str) -> None:
        interval = 1.0 / rate
        start = time.monotonic()
        for n in range(events):
            target = start + n * interval
            pause = target - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            payload = json.dumps({"type": "ticket_called", "n": n, "sent": time.time(),
                                  "hall": hall_id, "pad": "x" * 400})
            client.publish(f"hall/{hall_id}/queue/event", payload, qos=1)

    started = time.monotonic()
    threads = [threading.Thread(target=publish_day, args=(client, hall_id))
               for client, (hall_id, _, _) in zip(publishers, halls, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = n_halls * events
    deadline = time.monotonic() + 60
    while len(delays) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(central_pid) - cpu_before
    figures = {
        "halls": n_halls, "sent": expected, "arrived": len(delays),
        "rate_total": expected / elapsed,
        "p50_ms": percentile(delays, 0.5) * 1000, "p99_ms": percentile(delays, 0.99) * 1000,
        "max_ms": max(delays, default=0) * 1000,
        "cpu_s_per_1000": cpu / max(len(delays), 1) * 1000, "rss_mib": rss_mib(central_pid),
    }
    for client in [*publishers, city]:
        client.loop_stop()
        client.disconnect()
    for _, _, process in halls:
        process.kill()
        process.wait()
    central.kill()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--halls", default="1,2,5,10", help="comma-separated hall counts")
    parser.add_argument("--events", type=int, default=2000, help="events per hall")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second per hall")
    args = parser.parse_args()
    print(f"{'halls':>5} {'sent':>7} {'arrived':>7} {'msg/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'central CPU s/1k':>16} {'central RSS MiB':>15}")
    for n in (int(x) for x in args.halls.split(",")):
        with tempfile.TemporaryDirectory(prefix="hall-many-") as folder:
            f = run(n, args.events, args.rate, Path(folder))
        print(f"{f['halls']:>5.0f} {f['sent']:>7.0f} {f['arrived']:>7.0f} {f['rate_total']:>7.0f} "
              f"{f['p50_ms']:>7.1f} {f['p99_ms']:>7.1f} {f['max_ms']:>7.1f} "
              f"{f['cpu_s_per_1000']:>16.3f} {f['rss_mib']:>15.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
