"""A running kiosk for tests: real Mosquitto, the real queue engine, the simulated printer on a
real pty, and the Qt window offscreen."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from queue_fixtures import FakeClock, every_ticket, make_site

from daemons.queue.service import QueueEngine
from firmware_config.catalogue import LegalBasis, Material, ServiceGuide
from firmware_config.kiosk import KioskConfig
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus.client import BusClient
from hall_bus.contract import QUEUE_ACTIONS, ResponseStatus
from hall_bus.topics import queue_endpoint
from kiosk.app import KioskWindow
from kiosk.printing import KioskPrinter
from kiosk.ticketing import TicketDesk

HOUSEHOLD_GUIDE = ServiceGuide(
    service="household",
    summary_zh="居民身份证申领、换领、补领。",
    summary_en="Applying for or renewing a resident ID card.",
    materials=[Material(name_zh="居民户口簿", name_en="Household register booklet",
                        note_zh="原件", note_en="original")],
    statutory_limit_zh="60日", statutory_limit_en="60 days",
    promised_limit_zh="20个工作日", promised_limit_en="20 working days",
    fees_zh="工本费20元", fees_en="20 yuan",
    legal_basis=[LegalBasis(zh="《中华人民共和国居民身份证法》", en="Resident Identity Card Law")],
)


def kiosk_site(broker: BrokerConfig, tmp_path: Path) -> SiteConfig:
    base = make_site()
    data = base.model_dump()
    data.update(
        broker=broker.model_dump(),
        data_dir=tmp_path,
        catalogue=[HOUSEHOLD_GUIDE.model_dump()],
        kiosks=[KioskConfig(id="kiosk1", help_window="w9",
                            ticket_url_template="https://q.example.cn/{hall_id}/{ticket_id}",
                            idle_timeout_s=30).model_dump()],
    )
    return SiteConfig.model_validate(data)


@dataclass
class BusTap:
    """Every raw payload seen on the hall's topics, for checks like "no full ID number"."""

    payloads: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.payloads.append((topic, payload))

    def json_on(self, suffix: str) -> list[dict[str, object]]:
        with self.lock:
            return [json.loads(p) for t, p in self.payloads if t.endswith(suffix)]

    def contains(self, needle: str) -> bool:
        with self.lock:
            return any(needle.encode() in p for _, p in self.payloads)


@dataclass
class RunningKiosk:
    site: SiteConfig
    engine: QueueEngine
    clock: FakeClock
    bus: BusClient
    printer: KioskPrinter
    window: KioskWindow
    tap: BusTap
    tap_bus: BusClient
    spoken: list[str]

    db_path: Path

    def restart_engine(self) -> None:
        self.engine = QueueEngine(self.site, self.db_path, self.clock)
        self.engine.start(wait=10)

    def ask(self, action: str, **fields: Any) -> dict[str, Any]:
        request = QUEUE_ACTIONS[action].request.model_validate(fields)
        response = self.tap_bus.request(queue_endpoint(self.site.hall_id), action, request,
                                        timeout=10)
        assert response.status is ResponseStatus.OK, (action, response.code, response.error)
        return response.data or {}

    def tickets(self) -> list[dict[str, Any]]:
        return every_ticket(lambda **fields: self.ask("list_tickets", **fields))


def start_kiosk(site: SiteConfig, tmp_path: Path) -> Iterator[RunningKiosk]:
    clock = FakeClock()
    db_path = tmp_path / "queue.sqlite3"
    engine = QueueEngine(site, db_path, clock)
    engine.start(wait=10)
    tap = BusTap()
    tap_bus = BusClient(site.hall_id, "tap", site.broker, clean_session=True)
    tap_bus.subscribe(f"hall/{site.hall_id}/#", tap.add)
    tap_bus.start(wait=10)
    kiosk = site.kiosks[0]
    bus = BusClient(site.hall_id, kiosk.id, site.broker)
    desk = TicketDesk(site, kiosk, bus)
    bus.start(wait=10)
    printer = KioskPrinter(site, kiosk, bus, receipts_dir=tmp_path / "receipts")
    printer.start()
    spoken: list[str] = []
    window = KioskWindow(site, kiosk, desk, printer, voice_prompt=spoken.append)
    window.allow_close = True
    running = RunningKiosk(site, engine, clock, bus, printer, window, tap, tap_bus, spoken,
                           db_path)
    try:
        yield running
    finally:
        window.close()
        printer.stop()
        bus.stop()
        tap_bus.stop()
        running.engine.stop()
