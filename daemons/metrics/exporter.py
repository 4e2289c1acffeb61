"""`hall metrics`: one exporter for the whole hall, fed by the bus, scraped over HTTP.

It logs in as the read-only `metrics` account and turns what the hall says into Prometheus
figures: the queue engine's retained summary (waiting and estimated wait per service, tickets
today), its events (tickets issued, calls, ratings by level, supervision alerts), every node's
and device's availability, and the engine's request latency as seen on the bus (request to
response, by action). Counters count from the exporter's start, as Prometheus expects; gauges
mirror retained state, so a restarted exporter has them again at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from daemons.metrics.exposition import CONTENT_TYPE, Family, Histogram, render
from firmware_config.broker_accounts import METRICS
from firmware_config.loader import add_site_argument, load_site_or_exit
from firmware_config.site import SiteConfig
from hall_bus import topics
from hall_bus.client import BusClient
from hall_bus.contract import QueueEvent, QueueEventType, QueueSummaryState, channels
from hall_bus.liveness import Heartbeat

log = logging.getLogger("hall.metrics")

DEFAULT_PORT = 9464
LATENCY_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PENDING_LIMIT = 10_000  # requests waiting for their answer; the oldest are forgotten first
_CALLS = {QueueEventType.TICKET_CALLED: "call", QueueEventType.TICKET_RECALLED: "recall"}


class HallFigures:
    """The figures, fed message by message (any thread), rendered on each scrape."""

    def __init__(self, hall_id: str) -> None:
        self.hall_id = hall_id
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self.waiting = Family("hall_tickets_waiting", "Tickets waiting now, by service.", "gauge")
        self.estimated = Family("hall_estimated_wait_seconds",
                                "Estimated wait of a ticket taken now, by service.", "gauge")
        self.today = Family("hall_tickets_today",
                            "Tickets of this business day: issued, done, no_show.", "gauge")
        self.windows = Family("hall_windows", "Windows by mode (open, paused, closed, ...).",
                              "gauge")
        self.issued = Family("hall_tickets_issued_total",
                             "Tickets issued since the exporter started, by service.", "counter")
        self.calls = Family("hall_calls_total",
                            "Calls and recalls since the exporter started, by window.", "counter")
        self.ratings = Family("hall_ratings_total",
                              "Ratings given since the exporter started, by level.", "counter")
        self.alerts = Family("hall_supervision_alerts_total",
                             "Supervision alerts raised since the exporter started, by kind.",
                             "counter")
        self.nodes = Family("hall_daemon_online", "1 when a daemon or device node says online.",
                            "gauge")
        self.devices = Family("hall_device_online", "1 when a device's driver says online.",
                              "gauge")
        self.invalid = Family("hall_metrics_invalid_payloads_total",
                              "Bus messages the exporter could not read, by topic kind.",
                              "counter")
        self.latency = Histogram("hall_request_latency_seconds",
                                 "Queue engine requests, seen on the bus from request to "
                                 "response, by action.", LATENCY_BOUNDS)

    # --- feeding --------------------------------------------------------------------------------

    def on_summary(self, state: QueueSummaryState) -> None:
        with self._lock:
            self.waiting.samples.clear()
            self.estimated.samples.clear()
            for service in state.services:
                self.waiting.set(service.waiting, service=service.service_id)
                self.estimated.set(service.estimated_wait_s, service=service.service_id)
            self.today.set(state.issued_today, state="issued")
            self.today.set(state.done_today, state="done")
            self.today.set(state.no_show_today, state="no_show")
            self.windows.samples.clear()
            for window in state.windows:
                self.windows.inc(mode=str(window.mode))

    def on_event(self, event: QueueEvent) -> None:
        with self._lock:
            if event.type is QueueEventType.TICKET_ISSUED and event.ticket is not None:
                self.issued.inc(service=event.ticket.service_id)
            elif event.type in _CALLS:
                window = event.window.window_id if event.window else (
                    event.ticket.window_id if event.ticket else None)
                self.calls.inc(window=window or "unknown", kind=_CALLS[event.type])
            elif event.type is QueueEventType.RATING_GIVEN and event.rating is not None:
                self.ratings.inc(level=str(event.rating.level))
            elif event.type is QueueEventType.SUPERVISION_ALERT and event.alert is not None:
                self.alerts.inc(kind=str(event.alert.kind))

    def on_status(self, topic: str, payload: bytes) -> None:
        online = 1.0 if payload.strip() == topics.ONLINE.encode() else 0.0
        node = channels.NODE_STATUS.match(self.hall_id, topic)
        device = channels.DEVICE_STATUS.match(self.hall_id, topic)
        with self._lock:
            if node is not None:
                self.nodes.set(online, node=node["node"])
            elif device is not None:
                self.devices.set(online, node=device["node"], device=device["device"])

    def on_request(self, topic: str, payload: bytes, now: float | None = None) -> None:
        request_id = self._id_of(payload, "request")
        if request_id is None:
            return
        with self._lock:
            if request_id in self._pending:
                return  # a retry keeps the first send's time: the citizen waited since then
            self._pending[request_id] = (topics.action_of(topic), now or time.monotonic())
            while len(self._pending) > PENDING_LIMIT:
                self._pending.popitem(last=False)

    def on_response(self, payload: bytes, now: float | None = None) -> None:
        response_id = self._id_of(payload, "response")
        if response_id is None:
            return
        with self._lock:
            sent = self._pending.pop(response_id, None)
            if sent is not None:
                action, at = sent
                self.latency.observe((now or time.monotonic()) - at, action=action)

    def _id_of(self, payload: bytes, kind: str) -> str | None:
        try:
            found = json.loads(payload).get("id")
        except (ValueError, AttributeError):
            found = None
        if not isinstance(found, str):
            with self._lock:
                self.invalid.inc(kind=kind)
            return None
        return found

    def render(self) -> str:
        with self._lock:
            return render([self.waiting, self.estimated, self.today, self.windows, self.issued,
                           self.calls, self.ratings, self.alerts, self.nodes, self.devices,
                           self.latency, self.invalid])


class _Handler(BaseHTTPRequestHandler):
    figures: HallFigures

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404, "only /metrics here")
            return
        body = self.figures.render().encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("scrape from %s: " + format, self.client_address[0], *args)


class MetricsExporter:
    """The bus subscriber and the HTTP endpoint, started and stopped together."""

    def __init__(self, site: SiteConfig, host: str = "127.0.0.1", port: int = DEFAULT_PORT
                 ) -> None:
        self.figures = HallFigures(site.hall_id)
        self.bus = BusClient(site.hall_id, METRICS, site.broker)
        handler = type("Handler", (_Handler,), {"figures": self.figures})
        self.http = ThreadingHTTPServer((host, port), handler)
        self.http.daemon_threads = True
        self._serving: threading.Thread | None = None
        self.heartbeat = Heartbeat("metrics-http")
        self.bus.subscribe_to(channels.QUEUE_STATE,
                              lambda _t, state: self.figures.on_summary(state))
        self.bus.subscribe_to(channels.QUEUE_EVENT, lambda _t, event: self.figures.on_event(event))
        self.bus.subscribe(channels.NODE_STATUS.filter(site.hall_id), self.figures.on_status)
        self.bus.subscribe(channels.DEVICE_STATUS.filter(site.hall_id),
                           self.figures.on_status)
        self.bus.subscribe(channels.QUEUE_REQUEST.filter(site.hall_id), self.figures.on_request)
        self.bus.subscribe(channels.QUEUE_RESPONSE.filter(site.hall_id),
                           lambda _t, raw: self.figures.on_response(raw))

    @property
    def port(self) -> int:
        return int(self.http.server_address[1])

    @property
    def heartbeats(self) -> Sequence[Heartbeat]:
        return (self.heartbeat,)

    def start(self, wait: float | None = 10.0) -> None:
        self._serving = threading.Thread(target=self._serve, name="metrics-http", daemon=True)
        self._serving.start()
        self.bus.start(wait=wait)
        log.info("指标导出已启动 / metrics on http://%s:%d/metrics",
                 self.http.server_address[0], self.port)

    def _serve(self) -> None:
        # handle_request with a timeout instead of serve_forever, so the loop beats its heartbeat.
        self.http.timeout = 1.0
        while self._serving is not None:
            self.heartbeat.beat()
            self.http.handle_request()

    def stop(self) -> None:
        serving, self._serving = self._serving, None
        if serving is not None:
            serving.join(3)
        self.http.server_close()
        self.bus.stop()


def add_metrics_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall metrics`."""
    add_site_argument(parser)
    parser.add_argument("--listen", default="127.0.0.1", help="HTTP address (default loopback)")
    parser.add_argument("--port", type=int, default=9464, help="HTTP port (default 9464)")


def run_metrics_command(args: argparse.Namespace) -> int:
    from hall_bus.lifecycle import run_until_signalled

    site = load_site_or_exit(args.site)
    try:
        exporter = MetricsExporter(site, args.listen, args.port)
    except OSError as exc:
        log.error("无法监听 / cannot listen on %s:%d: %s", args.listen, args.port, exc.strerror)
        return 1
    return run_until_signalled(exporter, "指标导出正在停止 / metrics exporter stopping")
