"""Shared fixtures: a real Mosquitto per test and the BrokerConfig that points at it.

Tests mirror the packages (tests/daemons/queue/, tests/drivers/line/, …). Test modules share
rigs by name (`from test_queue_engine import Hall`), so every folder of tests/ is on the import
path; a test file's name is unique across the folders (pytest's default import mode needs that).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mosquitto import Mosquitto, find_mosquitto

from firmware_config.site import BrokerConfig

_TESTS = Path(__file__).resolve().parent
sys.path.extend(str(folder) for folder in sorted(_TESTS.rglob("*"))
                if folder.is_dir() and folder.name != "__pycache__")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    if find_mosquitto() is None:
        # Failing, not skipping: a green run without the broker tests would hide the gap.
        pytest.fail(
            "mosquitto is not installed; run the tests with `.ci/bootstrap test`, which installs "
            "it (or `apt-get install mosquitto`), or point $MOSQUITTO at the binary",
            pytrace=False,
        )
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.workdir.mkdir()
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()


@pytest.fixture
def broker_config(mosquitto: Mosquitto) -> BrokerConfig:
    return BrokerConfig(
        host=mosquitto.host,
        port=mosquitto.port,
        username=mosquitto.user,
        password=mosquitto.password,
        keepalive_s=5,
        reconnect_min_s=0.1,
        reconnect_max_s=1.0,
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts a Mosquitto (through any fixture) must say so: its module is marked
    `integration`, so `-m "not integration"` leaves it out. Caught here, not at review."""
    unmarked = sorted({str(item.path) for item in items
                       if "mosquitto" in getattr(item, "fixturenames", ())
                       and item.get_closest_marker("integration") is None})
    if unmarked:
        raise pytest.UsageError(
            "these test modules start a Mosquitto but are not marked "
            "`pytestmark = pytest.mark.integration`: " + ", ".join(unmarked))

