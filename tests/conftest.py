"""Shared fixtures: a real Mosquitto per test and the BrokerConfig that points at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mosquitto import Mosquitto, find_mosquitto

from firmware_config.site import BrokerConfig


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
