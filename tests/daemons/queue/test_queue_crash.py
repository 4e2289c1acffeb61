"""SIGKILL the real queue daemon during a request stream; nothing acknowledged may be lost.

The same harness runs hundreds of kills in `bench/crash_queue.py`; here a shorter loop runs on
every test run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from queue_fixtures import make_site

from bench.crash_harness import CrashHarness
from firmware_config.site import BrokerConfig

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

KILLS = 25


def test_sigkill_during_request_stream_loses_and_repeats_nothing(
    broker_config: BrokerConfig, tmp_path: Path
) -> None:
    site = make_site(daily_limit=9999).model_copy(update={"broker": broker_config})
    harness = CrashHarness(site, tmp_path, seed=11, requesters=4)
    result = harness.run(KILLS)
    assert result.problems == []
    assert result.kills == KILLS
    # The stream really ran across the kills: tickets were acknowledged and requests re-sent.
    assert result.tickets_acknowledged > KILLS
    assert result.retries > 0
    assert result.tickets_found == result.tickets_acknowledged
