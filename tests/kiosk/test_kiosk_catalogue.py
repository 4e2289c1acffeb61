"""The kiosk shows the service names of the catalogue the bridge retained on the bus."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from kiosk_fixtures import RunningKiosk, kiosk_site, start_kiosk
from pytestqt.qtbot import QtBot

from firmware_config.site import BrokerConfig
from hall_bus.contract.bridge import DownlinkKind, DownlinkState
from kiosk import service_names

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

WAIT_MS = 20_000
SERVICES = [
    {"service_id": "household", "prefix": "A", "name_zh": "户籍业务", "name_en": "Residence"},
    {"service_id": "business", "prefix": "B", "name_zh": "企业开办", "name_en": "Business"},
    {"service_id": "tax", "prefix": "C", "name_zh": "税务", "name_en": "Tax"},
]


@pytest.fixture
def kiosk(broker_config: BrokerConfig, tmp_path: Path, qtbot: QtBot) -> Iterator[RunningKiosk]:
    site = kiosk_site(broker_config, tmp_path)
    for running in start_kiosk(site, tmp_path):
        qtbot.addWidget(running.window)
        yield running


def _publish(kiosk: RunningKiosk, version: int, services: list[dict[str, str]]) -> None:
    state = DownlinkState(kind=DownlinkKind.CATALOGUE, version=version,
                          accepted_at=datetime.now(UTC), body={"services": services})
    kiosk.tap_bus.publish_state(service_names.catalogue_topic(kiosk.site), state)


def test_buttons_follow_the_retained_catalogue(kiosk: RunningKiosk, qtbot: QtBot) -> None:
    button = kiosk.window.home.services["household"]
    assert button.text() == "户籍办理"
    _publish(kiosk, 1, SERVICES)
    qtbot.waitUntil(lambda: button.text() == "户籍业务", timeout=WAIT_MS)
    # A catalogue that changes the prefix is not the hall's service any more: the name stays.
    _publish(kiosk, 2, [SERVICES[0] | {"prefix": "H", "name_zh": "别的事项"}, *SERVICES[1:]])
    qtbot.waitUntil(lambda: button.text() == "户籍办理", timeout=WAIT_MS)
    assert kiosk.window.home.services["business"].text() == "企业开办"


def test_an_unreadable_catalogue_leaves_the_configured_names(
    kiosk: RunningKiosk, qtbot: QtBot
) -> None:
    site = kiosk.site
    assert service_names.with_catalogue(site, b"{broken") is site
    assert service_names.with_catalogue(site, b"") is site
    renamed = service_names.with_catalogue(
        site, DownlinkState(kind=DownlinkKind.CATALOGUE, version=1, accepted_at=datetime.now(UTC),
                            body={"services": SERVICES}).model_dump_json().encode())
    assert [s.name_zh for s in renamed.services] == ["户籍业务", "企业开办", "税务"]
    assert [s.prefix for s in renamed.services] == [s.prefix for s in site.services]
