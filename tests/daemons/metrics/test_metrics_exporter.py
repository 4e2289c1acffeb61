"""`hall metrics` scraped over HTTP during a real flow: engine, Mosquitto, exporter."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from line_fixtures import wait_until
from test_queue_engine import Hall, _site
from test_structured_logs import engine_hall as engine_hall  # a fixture, used by name

from daemons.metrics.exporter import HallFigures, MetricsExporter
from daemons.metrics.exposition import Family, Histogram, render
from firmware_config.site import BrokerConfig
from hall_bus import topics
from hall_bus.netutil import free_port

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL_VALUE = r'"(?:[^"\\\n]|\\\\|\\"|\\n)*"'
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{((?:[a-zA-Z_][a-zA-Z0-9_]*={_LABEL_VALUE},?)*)\}})? "
                     r"(-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$")
_LABEL = re.compile(rf'([a-zA-Z_][a-zA-Z0-9_]*)=({_LABEL_VALUE})')

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """A strict reader of the text format: HELP and TYPE before a family's samples, once each."""
    typed: dict[str, str] = {}
    helped: set[str] = set()
    samples: Samples = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert name not in helped, f"two HELP lines for {name}"
            helped.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in typed and kind in ("counter", "gauge", "histogram"), line
            typed[name] = kind
        else:
            match = _SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name, labels, value = match.groups()
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert family in typed or name in typed, f"sample before its TYPE: {line}"
            assert (family if family in typed else name) in helped
            pairs = tuple((key, raw[1:-1].replace('\\"', '"').replace("\\n", "\n")
                           .replace("\\\\", "\\")) for key, raw in _LABEL.findall(labels or ""))
            samples[(name, tuple(sorted(pairs)))] = float(value)
    return samples


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        assert answer.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return parse(answer.read().decode("utf-8"))


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def exporter(broker_config: BrokerConfig, tmp_path: Path) -> Iterator[MetricsExporter]:
    running = MetricsExporter(_site(broker_config, tmp_path), "127.0.0.1", free_port())
    running.start(wait=10)
    try:
        yield running
    finally:
        running.stop()


def test_scraped_figures_follow_a_real_flow(
    engine_hall: Hall, exporter: MetricsExporter
) -> None:
    hall = engine_hall
    for service in ("household", "household", "business"):
        hall.ok("take_ticket", service_id=service)
    hall.ok("login", window_id="w1", staff_id="s001")
    called = hall.ok("call_next", window_id="w1")["ticket"]
    hall.ok("recall", window_id="w1")
    hall.ok("finish", window_id="w1")
    hall.ok("rate", ticket_id=called["ticket_id"], level="basically_satisfied")
    device = topics.Endpoint(hall.site.hall_id, "line1", "w1-strip")
    hall.bus.publish(device.status, topics.OFFLINE, retain=True, wait=5)

    def settled() -> bool:
        samples = scrape(exporter.port)
        return (value(samples, "hall_ratings_total", level="basically_satisfied") == 1
                and value(samples, "hall_tickets_today", state="done") == 1
                and value(samples, "hall_device_online", node="line1", device="w1-strip") == 0)

    wait_until(settled, timeout=10, what="the figures of the flow")
    samples = scrape(exporter.port)
    assert value(samples, "hall_tickets_issued_total", service="household") == 2
    assert value(samples, "hall_tickets_issued_total", service="business") == 1
    assert value(samples, "hall_tickets_waiting", service="household") == 1
    assert value(samples, "hall_tickets_waiting", service="business") == 1
    assert value(samples, "hall_tickets_today", state="issued") == 3
    assert value(samples, "hall_tickets_today", state="done") == 1
    assert value(samples, "hall_calls_total", window="w1", kind="call") == 1
    assert value(samples, "hall_calls_total", window="w1", kind="recall") == 1
    assert value(samples, "hall_daemon_online", node="queue") == 1
    assert value(samples, "hall_request_latency_seconds_count", action="take_ticket") == 3
    assert value(samples, "hall_request_latency_seconds_bucket", action="take_ticket",
                 le="+Inf") == 3
    total = value(samples, "hall_request_latency_seconds_sum", action="take_ticket")
    assert total is not None and 0 < total < 15
    assert value(samples, "hall_supervision_alerts_total") is None  # nothing was raised


def test_other_paths_are_not_found(exporter: MetricsExporter) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}/", timeout=5)
    assert caught.value.code == 404


def test_exposition_escapes_labels_and_help() -> None:
    family = Family("hall_x", 'Help with a \\ and a\nnewline.', "gauge")
    family.set(1.5, window='w"1\\\n')
    histogram = Histogram("hall_y_seconds", "Latency.", (0.1, 1.0))
    histogram.observe(0.5, action="rate")
    text = render([family, histogram])
    assert text == (
        '# HELP hall_x Help with a \\\\ and a\\nnewline.\n'
        '# TYPE hall_x gauge\n'
        'hall_x{window="w\\"1\\\\\\n"} 1.5\n'
        '# HELP hall_y_seconds Latency.\n'
        '# TYPE hall_y_seconds histogram\n'
        'hall_y_seconds_bucket{action="rate",le="0.1"} 0\n'
        'hall_y_seconds_bucket{action="rate",le="1"} 1\n'
        'hall_y_seconds_bucket{action="rate",le="+Inf"} 1\n'
        'hall_y_seconds_sum{action="rate"} 0.5\n'
        'hall_y_seconds_count{action="rate"} 1\n'
    )
    assert parse(text)[("hall_x", (("window", 'w"1\\\n'),))] == 1.5


def test_unreadable_requests_are_counted_not_fatal() -> None:
    figures = HallFigures("test-hall")
    figures.on_request("hall/test-hall/queue/request/rate", b"\xff not json")
    figures.on_request("hall/test-hall/queue/request/rate", b'{"id": 7}')
    figures.on_response(b"[]")
    figures.on_request("hall/test-hall/queue/request/rate", b'{"id": "r1"}')
    figures.on_response(b'{"id": "r1", "status": "ok"}')
    samples = parse(figures.render())
    assert value(samples, "hall_metrics_invalid_payloads_total", kind="request") == 2
    assert value(samples, "hall_metrics_invalid_payloads_total", kind="response") == 1
    assert value(samples, "hall_request_latency_seconds_count", action="rate") == 1
