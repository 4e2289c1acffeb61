"""`hall demo`: a whole hall on one machine.

Starts the embedded broker and the queue engine as their own processes (as systemd would in a
hall), restarts them if they die, plays a simulated hall day against them over the bus, shows a
live summary, and on exit can write the day's report as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

import yaml

from demo.console_login import open_in_browser, save_login, with_demo_manager
from demo.daemons import Daemon, DemoContext, demo_daemons
from demo.report import build_report
from demo.screen import CLEAR, describe_event, render
from demo.traffic import HallDay
from demo.window_desk import keypad_minutes, keypad_windows
from firmware_config.loader import add_site_argument, load_site_or_exit
from firmware_config.site import SiteConfig
from hall_bus.client import BusClient, BusConnectError
from hall_bus.contract import (
    LIST_PAGE_MAX,
    ListTicketsRequest,
    QueueEvent,
    QueueSummaryState,
    ResponseStatus,
    TicketListData,
    every_ticket,
)
from hall_bus.netutil import free_port, port_is_free
from hall_bus.simclock import ScaledClock
from hall_bus.topics import queue_endpoint

log = logging.getLogger("hall.demo")

INTERACTIVE_SPEED = 60.0
# Simulated minutes after closing time during which the last citizens are still served.
AFTER_CLOSING_MIN = 30
LOAD_FACTOR = 0.65
# Minutes a window spends per citizen besides the service itself: calling, walking, rating.
PER_CITIZEN_OVERHEAD_MIN = 2.5
# Real seconds the broker, the engine, the lines and their simulators take to be ready.
STARTUP_ALLOWANCE_S = 6.0


def _prepare_site(site: SiteConfig, data_dir: Path) -> tuple[SiteConfig, Path]:
    """The site as the demo runs it: its own data folder, and a free port if the usual is taken."""
    port = site.broker.port
    if not port_is_free(site.broker.host, port):
        port = free_port(site.broker.host)
        log.info(
            "端口 %d 已被占用，改用 %d / port %d is taken, using %d",
            site.broker.port,
            port,
            site.broker.port,
            port,
        )
    runtime = site.model_copy(
        update={
            "broker": site.broker.model_copy(update={"port": port}),
            "data_dir": data_dir,
        }
    )
    path = data_dir / "site.yaml"
    path.write_text(
        yaml.safe_dump(runtime.model_dump(mode="json"), allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return runtime, path


def _planned_tickets(site: SiteConfig, speed: float = INTERACTIVE_SPEED) -> int:
    """Tickets for a busy but workable day: most of what the open windows can serve.

    Staff at a keypad window wait for its acknowledgement, which takes the wire's real time
    however fast the day runs: at high speeds that costs many simulated minutes per citizen, so
    such a day plans fewer citizens rather than leave most of them waiting.
    """
    on_keypads = keypad_windows(site)
    open_min = (
        datetime.combine(datetime.min, site.closing_time)
        - datetime.combine(datetime.min, site.opening_time)
    ).total_seconds() / 60 - 45
    capacity = 0.0
    for window in site.windows:
        services = [site.service(entry.service) for entry in window.services]
        mean = sum(s.expected_service_min for s in services if s) / len(services)
        overhead, serving_min = PER_CITIZEN_OVERHEAD_MIN, open_min
        if window.id in on_keypads:
            per_citizen, per_day = keypad_minutes(speed)
            overhead, serving_min = overhead + per_citizen, max(0.0, open_min - per_day)
        capacity += serving_min / (mean + overhead)
    return max(10, round(capacity * LOAD_FACTOR))


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall demo`."""
    add_site_argument(parser)
    parser.add_argument("--headless", action="store_true", help="no live screen; log only")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--report", type=Path, default=None, help="write a JSON report here")
    parser.add_argument(
        "--speed",
        type=float,
        default=None,
        help="simulated seconds per real second (default 60, or the whole day in --seconds)",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="state folder (default: temp)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for the traffic")


def run_demo_command(args: argparse.Namespace) -> int:
    site = load_site_or_exit(args.site)
    data_dir: Path = args.data_dir or Path(tempfile.mkdtemp(prefix="hall-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    site, console_login = with_demo_manager(site)
    site, site_path = _prepare_site(site, data_dir)
    save_login(console_login, data_dir)

    zone = site.zone
    today = datetime.now(zone).date()
    sim_start = datetime.combine(today, site.opening_time, tzinfo=zone) - timedelta(minutes=5)
    sim_end = datetime.combine(today, site.closing_time, tzinfo=zone) + timedelta(
        minutes=AFTER_CLOSING_MIN
    )
    day_seconds = (sim_end - sim_start).total_seconds()
    speed = (
        args.speed
        if args.speed
        else (day_seconds / args.seconds if args.seconds else INTERACTIVE_SPEED)
    )
    # The simulated day starts once the daemons had time to start: at ×1700 the few seconds they
    # take would otherwise be the whole morning, with every early citizen arriving at once.
    clock = ScaledClock(sim_start, speed, anchor_wall=time.time() + STARTUP_ALLOWANCE_S)
    real_seconds = args.seconds if args.seconds else day_seconds / speed

    daemons = demo_daemons(DemoContext(site, site_path, data_dir, clock))
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    print(
        f"大厅演示 / hall demo: {site.name_zh} ({site.name_en})\n"
        f"  代理 broker  mqtt://{site.broker.host}:{site.broker.port}\n"
        f"  数据 data    {data_dir}\n"
        f"  速度 speed   ×{speed:g} ({real_seconds:.0f} s for the day)\n"
        f"  {console_login.describe()}",
        flush=True,
    )

    for daemon in daemons:
        daemon.start()
    bus = BusClient(site.hall_id, "demo", site.broker)
    events: list[QueueEvent] = []
    recent: deque[QueueEvent] = deque(maxlen=20)
    latest: list[QueueSummaryState] = []
    endpoint = queue_endpoint(site.hall_id)

    def _on_event(_topic: str, event: QueueEvent) -> None:
        events.append(event)
        recent.append(event)

    bus.subscribe_model(endpoint.event, QueueEvent, _on_event)
    bus.subscribe_model(endpoint.state, QueueSummaryState, lambda _t, s: latest.append(s))
    day: HallDay | None = None
    exit_code = 0
    try:
        bus.start(wait=20)
        _wait_for_engine(bus, site, daemons)
        # On a desktop the console opens in the browser once it answers, beside the live screen.
        threading.Thread(target=open_in_browser, args=(console_login, args.headless),
                         name="open-console", daemon=True).start()
        day = HallDay(site, bus, clock, _planned_tickets(site, speed), seed=args.seed)
        day.start()
        deadline = time.monotonic() + max(0.0, clock.anchor_wall - time.time()) + real_seconds
        interactive = not args.headless and sys.stdout.isatty()
        next_line = 0.0
        while not stop.is_set() and time.monotonic() < deadline:
            for daemon in daemons:
                daemon.check()
            if interactive:
                sys.stdout.write(
                    CLEAR
                    + render(latest[-1] if latest else None, recent, clock(), site.name_zh)
                    + f"\n{console_login.describe()}"
                    + "\n"
                )
                sys.stdout.flush()
            elif time.monotonic() >= next_line:
                next_line = time.monotonic() + 2
                _log_progress(latest[-1] if latest else None, clock(), recent)
            stop.wait(1.0)
        day.stop()
        if args.report:
            report = _collect_report(bus, site, events, day, speed, real_seconds, daemons)
            args.report.write_text(
                json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8"
            )
            print(f"报告已写入 / report written to {args.report}")
    except (BusConnectError, RuntimeError) as exc:
        log.error("演示无法运行 / demo failed: %s (logs in %s)", exc, data_dir)
        exit_code = 1
    finally:
        if day is not None:
            day.stop()
        bus.stop()
        for daemon in reversed(daemons):
            daemon.stop()
    return exit_code


def _wait_for_engine(bus: BusClient, site: SiteConfig, daemons: list[Daemon]) -> None:
    from hall_bus.client import BusTimeout
    from hall_bus.contract import DescribeRequest

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for daemon in daemons:
            daemon.check()
        try:
            response = bus.request(
                queue_endpoint(site.hall_id), "describe", DescribeRequest(), timeout=2
            )
        except BusTimeout:
            continue
        if response.status is ResponseStatus.OK:
            return
    raise RuntimeError("排队引擎未应答 / the queue engine did not answer within 30 s")


def _log_progress(
    state: QueueSummaryState | None, sim_now: datetime, recent: deque[QueueEvent]
) -> None:
    if state is None:
        log.info("%s 等待排队引擎 / waiting for the queue engine", f"{sim_now:%H:%M}")
        return
    open_windows = sum(1 for w in state.windows if w.mode.value != "closed")
    last = describe_event(recent[-1]) if recent else "-"
    log.info(
        "%s issued=%d done=%d no_show=%d waiting=%d open_windows=%d last: %s",
        f"{sim_now:%H:%M}",
        state.issued_today,
        state.done_today,
        state.no_show_today,
        state.waiting,
        open_windows,
        last,
    )


def _all_tickets(bus: BusClient, site: SiteConfig) -> TicketListData:
    """Every ticket of the day, page by page."""
    def fetch_page(after: str | None) -> TicketListData:
        response = bus.request(queue_endpoint(site.hall_id), "list_tickets", ListTicketsRequest(
            limit=LIST_PAGE_MAX, after=after), timeout=10)
        if response.status is not ResponseStatus.OK:
            raise RuntimeError(f"list_tickets failed: {response.code} {response.error}")
        return TicketListData.model_validate(response.data)

    return every_ticket(fetch_page)


def _collect_report(
    bus: BusClient,
    site: SiteConfig,
    events: list[QueueEvent],
    day: HallDay,
    speed: float,
    real_seconds: float,
    daemons: list[Daemon],
) -> dict[str, object]:
    listing = _all_tickets(bus, site)
    return build_report(
        listing.tickets,
        list(events),
        {
            "hall_id": site.hall_id,
            "business_day": listing.business_day,
            "speed": speed,
            "real_seconds": round(real_seconds, 1),
            "simulated_until": day.clock().astimezone(site.zone).strftime("%H:%M"),
            "requests": day.counters["requests"],
            "request_timeouts": day.counters["timeouts"],
            "request_errors": {k[6:]: v for k, v in day.counters.items() if k.startswith("error:")},
            "daemon_restarts": {d.name: d.restarts for d in daemons},
            # Staff and citizens pressing the simulated keypads and pads (over the line's wire).
            "device_presses": day.presses.report(speed),
            "ratings_failed": day.counters["ratings_failed"],
        },
    )
