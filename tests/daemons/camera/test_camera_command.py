"""`hall camera` as a real process: configuration errors, start-up on a generated scene, SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bus_helpers import Collector
from camera_rig import desk_camera
from queue_fixtures import make_site

from bench.engine_process import write_site
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus.client import BusClient
from hall_bus.contract.camera import CameraHealth, CameraState
from hall_bus.simclock import ScaledClock
from hall_bus.topics import OFFLINE, ONLINE, camera_endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)


def _camera_argv(site_path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "operations.cli", "camera", "--site", str(site_path), *extra]


def _site(broker: BrokerConfig, tmp_path: Path) -> SiteConfig:
    return make_site().model_copy(update={
        "broker": broker, "data_dir": tmp_path / "data",
        "cameras": [desk_camera(analysis_fps=4.0)],
    })


def test_an_unknown_camera_name_is_refused_with_the_known_ones(
    broker_config: BrokerConfig, tmp_path: Path
) -> None:
    site_path = write_site(_site(broker_config, tmp_path), tmp_path / "site.yaml")
    done = subprocess.run(
        _camera_argv(site_path, "--camera", "lobby"), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "no camera 'lobby' in the site config (known: desk)" in done.stderr


def test_camera_process_publishes_state_and_says_offline_when_stopped(
    broker_config: BrokerConfig, tmp_path: Path
) -> None:
    site = _site(broker_config, tmp_path)
    site_path = write_site(site, tmp_path / "site.yaml")
    clock = ScaledClock(datetime(2024, 3, 4, 1, 0, tzinfo=UTC), 60)
    endpoint = camera_endpoint(site.hall_id, "desk")
    states: Collector[CameraState] = Collector()
    status: Collector[str] = Collector()
    watcher = BusClient(site.hall_id, "watcher", site.broker)
    watcher.subscribe_model(endpoint.state, CameraState, states.add)
    watcher.subscribe(endpoint.status, lambda t, raw: status.add(t, raw.decode()))
    watcher.start(wait=10)
    log_path = tmp_path / "camera.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            _camera_argv(site_path, "--camera", "desk", "--capture-reference",
                         "--sim-clock", clock.describe()),
            stdout=log_file, stderr=log_file,
        )
    try:
        state = states.wait_for(
            lambda s: s.health is CameraHealth.OK and len(s.seats) == 2, timeout=30)
        assert [seat.window_id for seat in state.seats] == ["w1", "w2"]
        status.wait_for(lambda s: s == ONLINE, timeout=10)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        status.wait_for(lambda s: s == OFFLINE, timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        watcher.stop()
    references = site.data_dir / "camera" / "desk"
    assert sorted(p.name for p in references.iterdir()) == ["seat-w1.png", "seat-w2.png"]
    assert "empty-seat references taken" in log_path.read_text("utf-8")
