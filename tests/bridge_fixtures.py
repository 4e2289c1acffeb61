"""Pieces the bridge tests share: a reference backend over TLS, a site with a bridge section,
and queue events to feed the bridge."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from mosquitto import Mosquitto
from queue_fixtures import make_site
from tls_certs import TestPki, make_pki

from bench.reference_backend import ReferenceBackend, server_tls
from firmware_config.bridge import BridgeConfig, HttpsUplinkConfig
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus.contract.queue import (
    PriorityClass,
    QueueEvent,
    QueueEventType,
    RatingLevel,
    RatingView,
    TicketState,
    TicketView,
)
from hall_bus.ids import utc_now

HALL_KEY = b"test-hall-key-0123456789abcdef"
FIXTURE_HALL = "test-hall"


def start_backend(folder: Path, hall_id: str, pki: TestPki | None = None) -> ReferenceBackend:
    pki = pki or make_pki(folder / "pki")
    backend = ReferenceBackend(folder / "backend.sqlite3", {hall_id: HALL_KEY},
                               tls=server_tls(pki.server_cert, pki.server_key))
    return backend.start()


def bridge_site(folder: Path, broker: BrokerConfig, backend_url: str, ca_file: Path,
                **bridge: object) -> SiteConfig:
    key_file = folder / "hall.key"
    key_file.write_bytes(HALL_KEY + b"\n")
    config = BridgeConfig.model_validate({
        "https": HttpsUplinkConfig(base_url=backend_url, key_file=key_file, ca_file=ca_file,
                                   timeout_s=2.0),
        "retry_min_s": 0.05,
        "retry_max_s": 0.3,
        "poll_downlinks_s": 0.2,
        "state_interval_s": 0.2,
        **bridge,
    })
    return make_site().model_copy(update={"broker": broker, "bridge": config,
                                          "data_dir": folder})


def ticket_event(n: int, type_: QueueEventType = QueueEventType.TICKET_ISSUED) -> QueueEvent:
    now = utc_now()
    ticket = TicketView(
        ticket_id=f"2026-01-05-{n:05d}", number=f"A{n % 1000:03d}", business_day="2026-01-05",
        service_id="household", service_name="户籍办理", priority_class=PriorityClass.NORMAL,
        state=TicketState.WAITING, issued_at=now, queued_at=now,
        citizen_masked_id="3301**********1234",
    )
    return QueueEvent(type=type_, business_day="2026-01-05", ticket=ticket)


def rating_event(n: int, level: RatingLevel, reason: str | None = None,
                 rated_ago: timedelta = timedelta(0)) -> QueueEvent:
    event = ticket_event(n, QueueEventType.RATING_GIVEN)
    assert event.ticket is not None
    return event.model_copy(update={"rating": RatingView(
        ticket_id=event.ticket.ticket_id, number=event.ticket.number, service_id="household",
        window_id="w1", staff_id="S001", level=level, level_zh=level.label_zh, reason=reason,
        rated_at=utc_now() - rated_ago, follow_up="pending" if level.is_bad else "none",
    )})


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


# As in the shipped firmware_config/mosquitto/hall.conf: Mosquitto's default of 1000 queued
# messages per client would drop a busy hall's events while the bridge is busy or down.
HALL_BROKER_LIMITS = ("max_queued_messages 100000", "max_queued_bytes 67108864")


def hall_broker(folder: Path) -> Mosquitto:
    broker = Mosquitto(folder, extra_lines=HALL_BROKER_LIMITS)
    broker.workdir.mkdir(parents=True, exist_ok=True)
    return broker.start()


def broker_config_for(broker: Mosquitto) -> BrokerConfig:
    return BrokerConfig(host=broker.host, port=broker.port, username=broker.user,
                        password=broker.password, keepalive_s=5, reconnect_min_s=0.1,
                        reconnect_max_s=1.0)


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[ReferenceBackend]:
    """The reference central backend over TLS, for the hall `test-hall`."""
    running = start_backend(tmp_path, FIXTURE_HALL)
    yield running
    running.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A Mosquitto with the production queue limits, killed at teardown."""
    running = hall_broker(tmp_path / "mosquitto")
    yield running
    running.kill()
