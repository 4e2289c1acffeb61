"""Appointment check-in by ID card, end to end: a replayed card scan at the real kiosk app, the real
queue engine over a real Mosquitto, and the full number nowhere outside the kiosk process."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import yaml
from kiosk_fixtures import RunningKiosk, kiosk_site, start_kiosk
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton
from pytestqt.qtbot import QtBot
from test_scanner import ID_CARD, ID_NUMBER, keystrokes, recording

from drivers.scanner.keys import KeyDecoder
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus.contract import Appointment

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

WAIT_MS = 20_000
KEY = "kiosk-test-hall-citizen-key-42"
MASKED = "1101**********002X"
# A second citizen, with a valid check digit and no appointment.
WALK_IN_ID = "440524198001010013"


def backend_digest(number: str) -> str:
    """What the booking backend computes (docs/citizen-id-digest.md), without our code."""
    return hmac.new(KEY.encode(), number.encode("ascii"), hashlib.sha256).hexdigest()


def keyed_site(broker_config: BrokerConfig, tmp_path: Path) -> SiteConfig:
    key_file = tmp_path / "citizen-id.key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    return kiosk_site(broker_config, tmp_path).model_copy(
        update={"citizen_id_key_file": key_file})


@pytest.fixture
def kiosk(broker_config: BrokerConfig, tmp_path: Path, qtbot: QtBot) -> Iterator[RunningKiosk]:
    for running in start_kiosk(keyed_site(broker_config, tmp_path), tmp_path):
        qtbot.addWidget(running.window)
        yield running


def scan_card(kiosk: RunningKiosk, events: str) -> None:
    decoder = KeyDecoder()
    (scan,) = [s for e in recording(events) if (s := decoder.feed(e))]
    kiosk.window.deliver_scan(scan.text)


def screen_texts(kiosk: RunningKiosk) -> str:
    widgets = [*kiosk.window.findChildren(QLabel), *kiosk.window.findChildren(QPushButton)]
    return "\n".join(w.text() for w in widgets)


def test_an_id_card_scan_checks_in_the_appointment_and_the_number_stays_inside(
    kiosk: RunningKiosk, qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    slot = kiosk.clock.now + timedelta(minutes=20)
    kiosk.ask("load_appointments", appointments=[
        Appointment(code="YY0815", service_id="tax", slot_start=slot,
                    slot_end=slot + timedelta(minutes=30),
                    citizen_id_digest=backend_digest(ID_NUMBER)).model_dump(mode="json"),
    ])
    window = kiosk.window
    scan_card(kiosk, ID_CARD)
    qtbot.waitUntil(lambda: window.page_name() == "ticket", timeout=WAIT_MS)
    (ticket,) = kiosk.tickets()
    assert (ticket["number"], ticket["appointment_code"], ticket["priority_class"]) == (
        "C001", "YY0815", "appointment")
    assert ticket["citizen_masked_id"] == MASKED
    assert window.ticket.number.text() == "C001"
    assert MASKED in window.ticket.details.text()

    # What went on the bus for it: the digest and the masked form, nothing more.
    (check_in,) = kiosk.tap.json_on("/queue/request/check_in")
    assert check_in["citizen_id_digest"] == backend_digest(ID_NUMBER)
    assert check_in["citizen_masked_id"] == MASKED
    assert "appointment_code" not in check_in
    assert kiosk.printer.simulator is not None
    (receipt,) = kiosk.printer.simulator.wait_receipts(1, timeout=5)
    assert "C001" in "".join(receipt.lines)

    # The same card again: today's appointment is used; the screen says so.
    window.reset_to_home()
    scan_card(kiosk, ID_CARD)
    qtbot.waitUntil(lambda: window.page_name() == "refused", timeout=WAIT_MS)
    assert "已取号" in window.refused.body.text()
    assert len(kiosk.tickets()) == 1

    # Every payload seen on hall/#, every log record, the receipt and the screen.
    for needle in (ID_NUMBER, ID_NUMBER[:17], ID_NUMBER.lower()):
        assert not kiosk.tap.contains(needle), needle
        assert needle not in caplog.text
        assert not any(needle in line for line in receipt.lines)
        assert needle not in screen_texts(kiosk)
    assert len(kiosk.tap.payloads) > 10  # the tap did see the traffic


def test_a_card_without_appointment_is_a_walk_in_with_the_masked_number(
    kiosk: RunningKiosk, qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    window = kiosk.window
    keys = " ".join(f"KEY_{c}" for c in WALK_IN_ID) + " KEY_ENTER"
    scan_card(kiosk, keystrokes(0, 3, keys))
    masked = "4405**********0013"
    qtbot.waitUntil(lambda: masked in window.home.status.text(), timeout=WAIT_MS)
    assert window.page_name() == "home"
    assert "未查到" in window.home.status.text()
    qtbot.mouseClick(window.home.services["household"], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.guide.take, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.page_name() == "ticket", timeout=WAIT_MS)
    (ticket,) = kiosk.tickets()
    assert (ticket["number"], ticket["appointment_code"], ticket["priority_class"]) == (
        "A001", None, "normal")
    assert ticket["citizen_masked_id"] == masked
    for needle in (WALK_IN_ID, WALK_IN_ID[:17]):
        assert not kiosk.tap.contains(needle)
        assert needle not in caplog.text
        assert needle not in screen_texts(kiosk)


def test_kiosk_command_refuses_a_missing_or_short_key_file(
    broker_config: BrokerConfig, tmp_path: Path
) -> None:
    site = keyed_site(broker_config, tmp_path)
    for key_file, complaint in ((tmp_path / "absent.key", "cannot read"),
                                (tmp_path / "short.key", "at least 16")):
        if key_file.name == "short.key":
            key_file.write_text("tooshort\n", encoding="utf-8")
        site_file = tmp_path / "site.yaml"
        site_file.write_text(yaml.safe_dump(
            site.model_copy(update={"citizen_id_key_file": key_file}).model_dump(mode="json"),
            allow_unicode=True), encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "operations.cli", "kiosk", "--site", str(site_file),
             "--offscreen", "--data-dir", str(tmp_path / "data"), "--seconds", "5"],
            env=dict(os.environ, QT_QPA_PLATFORM="offscreen"), capture_output=True, text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert "citizen_id_key_file" in result.stderr and complaint in result.stderr
        assert "Traceback" not in result.stderr
