"""Voice announcer figures: call event → first audio sample written, and backlog at a peak.

1. Latency over a real Mosquitto: `ticket_called` events are published on the queue's event topic
   (as the engine does) and the announcer, with the default espeak-ng pack and the WAV-file sink,
   renders and writes each call; printed: p50/p99 from the publish to the first sample handed to
   the sink, and the render time alone.
2. Peak: 60 calls from 30 windows within 60 s on a simulated clock, for 60 random seeds, with
   and without the load policy; printed per hall layout (1, 2, 3 zones) and fastest compression
   allowed (`max_speedup`; 1.0 = none): worst call delay, seeds with every call within the
   maximum delay, largest backlog, calls left unsaid, time until the last call was said.
3. Shortest forms: how long one call and a burst of eight take under each policy, at natural
   pace and compressed.

    .venv/bin/python bench/voice_bench.py [--calls 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import called_event, percentile

from daemons.voice.announce import CallRequest, call_tokens
from daemons.voice.daemon import VoiceDaemon
from daemons.voice.pack import load_pack
from daemons.voice.pack_builder import build_pack
from daemons.voice.render import Renderer
from daemons.voice.simulate import peak_calls, run_calls
from daemons.voice.sinks import WavFileSink
from daemons.voice.tts import EspeakEngine
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus.client import BusClient
from hall_bus.contract.voice import VoicePolicy
from hall_bus.topics import queue_endpoint
from tests.mosquitto import Mosquitto
from tests.voice_fixtures import peak_site


def bench_latency(workdir: Path, calls: int) -> None:
    broker = Mosquitto(workdir / "mosquitto").start()
    try:
        config = BrokerConfig(port=broker.port, username=broker.user, password=broker.password)
        site = peak_site(zones=3).model_copy(update={"broker": config, "data_dir": workdir})
        # Written as fast as rendered (no waiting for playback), so each call meets an idle zone.
        daemon = VoiceDaemon(
            site, data_dir=workdir,
            sink_factory=lambda zone: WavFileSink(workdir / "out" / zone, realtime=False),
        )
        daemon.start(wait=10)
        publisher = BusClient(site.hall_id, "bench-queue", config)
        publisher.start(wait=10)
        sent: dict[str, float] = {}
        try:
            for index in range(calls):
                event = called_event(site, index)
                sent[event.id] = time.monotonic()
                publisher.publish(queue_endpoint(site.hall_id).event, event, wait=5)
                time.sleep(0.05)
            deadline = time.monotonic() + 60
            written: dict[str, float] = {}
            while time.monotonic() < deadline and len(written) < calls:
                for worker in daemon.workers.values():
                    written.update(worker.first_sample_at)
                time.sleep(0.05)
        finally:
            publisher.stop()
            daemon.stop()
    finally:
        broker.stop()
    latencies = [(written[i] - sent[i]) * 1000 for i in sent if i in written]
    print(f"call event → first sample written (Mosquitto, file sink, {len(latencies)}/{calls} "
          f"calls): p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f}"
          f" ms, max {max(latencies):.1f} ms")


def bench_render(workdir: Path) -> None:
    site = peak_site(zones=3)
    pack_dir = workdir / "pack"
    started = time.monotonic()
    count = build_pack(site, pack_dir)
    print(f"default pack: {count} clips generated in {time.monotonic() - started:.2f} s")
    renderer = Renderer(load_pack(pack_dir, site.voice.sample_rate), EspeakEngine())
    timings = []
    for index in range(300):
        window = site.windows[index % 30]
        call = CallRequest("t", f"B{index:03d}", window.id, window.number, window.name_zh, 0.0)
        started = time.perf_counter()
        renderer.render(call_tokens([call], VoicePolicy.SINGLE, site.voice))
        timings.append((time.perf_counter() - started) * 1000)
    print(f"render one call: p50 {percentile(timings, 0.5):.2f} ms, "
          f"p99 {percentile(timings, 0.99):.2f} ms")


SEEDS = range(1, 61)
# (load policy on, fastest compression) per row; 1.0 = compression off, as before it existed.
PEAK_ROWS = ((True, 1.5), (True, 1.6), (True, 1.0), (False, 1.0))


def bench_forms(renderer: Renderer, site: SiteConfig) -> None:
    window = site.windows[2]  # "3 号"
    calls = [CallRequest(f"t{i}", f"A{23 + i:03d}", f"w{3 + i}", 3 + i, window.name_zh, 0.0)
             for i in range(8)]
    for policy in (VoicePolicy.SINGLE, VoicePolicy.MERGED, VoicePolicy.TERSE):
        one = renderer.render(call_tokens(calls[:1], policy, site.voice)).duration_s
        eight = renderer.render(call_tokens(calls, policy, site.voice)).duration_s
        print(f"form {policy.value:>10}: one call {one:.2f} s; eight merged {eight:.2f} s "
              f"({eight / 8:.2f} s a call)")
    for speed in (1.2, 1.4, 1.5, 1.6):
        one = renderer.render(call_tokens(calls[:1], VoicePolicy.COMPRESSED, site.voice),
                              speed=speed).duration_s
        first = renderer.render(call_tokens(calls, VoicePolicy.COMPRESSED, site.voice),
                                speed=speed).duration_s
        more = renderer.render(call_tokens(calls, VoicePolicy.COMPRESSED, site.voice,
                                           continues_burst=True), speed=speed).duration_s
        print(f"form compressed {speed:.1f}x: one call {one:.2f} s; eight {first:.2f} s, eight "
              f"more continuing the burst {more:.2f} s ({more / 8:.2f} s a call)")


def bench_peak(workdir: Path) -> None:
    for zones in (1, 2, 3):
        base = peak_site(zones=zones)
        pack_dir = workdir / f"pack-{zones}"
        build_pack(base, pack_dir)
        renderer = Renderer(load_pack(pack_dir, base.voice.sample_rate), EspeakEngine())
        if zones == 1:
            bench_forms(renderer, base)
        for adaptive, speedup in PEAK_ROWS:
            voice = base.voice.model_copy(update={"max_speedup": speedup})
            site = base.model_copy(update={"voice": voice})
            worst, backlog, unsaid, drained = [], [], [], []
            for seed in SEEDS:
                runs = run_calls(site, renderer, peak_calls(site, 60, 60, seed),
                                 adaptive=adaptive)
                worst.append(max(d for run in runs.values() for d in run.delays.values()))
                backlog.append(max(run.max_backlog for run in runs.values()))
                unsaid.append(sum(len(run.dropped) for run in runs.values()))
                drained.append(max(run.finished_at for run in runs.values()))
            label = f"load policy on, max {speedup:.1f}x" if adaptive else "load policy off"
            on_time = sum(w <= voice.max_delay_s for w in worst)
            print(f"peak, 30 windows on {zones} zone(s), {label:>24}: worst delay p50 "
                  f"{percentile(worst, 0.5):5.1f} s / max {max(worst):5.1f} s; every call "
                  f"within {voice.max_delay_s:g} s in {on_time}/{len(worst)} seeds; largest "
                  f"backlog {max(backlog)}; unsaid {max(unsaid)}; last call said by "
                  f"{max(drained):.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    threading.current_thread().name = "bench"
    with tempfile.TemporaryDirectory(prefix="hall-voice-bench-") as folder:
        workdir = Path(folder)
        bench_render(workdir)
        bench_peak(workdir)
        bench_latency(workdir / "latency", args.calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
