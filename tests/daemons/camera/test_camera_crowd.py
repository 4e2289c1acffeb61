"""Waiting-area counting on a generated crowd video with known counts, and crowding levels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from queue_fixtures import START

from daemons.camera.crowd import CrowdingLevels, PeopleCounter
from daemons.camera.supervisor import CameraSupervisor
from drivers.camera.regions import rasterise, to_gray
from drivers.camera.scene import PERSON_AREA, WAITING_AREA_POLYGON, CrowdScene
from drivers.camera.sources import OpenCvSource
from firmware_config.camera import CameraConfig, WaitingAreaConfig
from hall_bus.contract.camera import CameraEventType


def _counter(scene: CrowdScene) -> PeopleCounter:
    counter = PeopleCounter(rasterise(WAITING_AREA_POLYGON, 640, 360), PERSON_AREA * 640 * 360)
    counter.capture_reference(to_gray(scene.render(0)))
    return counter


def test_counts_match_the_generated_crowd() -> None:
    scene = CrowdScene()
    counter = _counter(scene)
    errors = []
    for count in (0, 1, 2, 5, 8, 13, 20, 27, 34, scene.capacity):
        for layout in range(2):
            errors.append(counter.count(to_gray(scene.render(count, layout))) - count)
    assert max(abs(e) for e in errors) <= 1, errors
    assert sum(abs(e) for e in errors) <= 3, errors


def test_counts_from_a_recorded_crowd_video_file(tmp_path: Path) -> None:
    """Known counts written to an MJPEG file, read back through the daemon's file source."""
    scene = CrowdScene()
    known = [0, 3, 7, 12, 18, 25, 31, 25, 14, 6, 1]
    path = tmp_path / "crowd.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 5.0, (640, 360))
    for index, count in enumerate(known):
        writer.write(scene.render(count, index))
    writer.release()
    source = OpenCvSource(str(path))
    source.open()
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    source.close()
    assert len(frames) == len(known)
    assert source.pace_s == pytest.approx(0.2)  # a file plays at its recorded rate
    counter = _counter(scene)
    counter.set_reference(counter.region.crop(to_gray(frames[0])))  # the empty hall, as recorded
    counted = [counter.count(to_gray(frame)) for frame in frames]
    assert all(abs(c - k) <= 1 for c, k in zip(counted, known, strict=True)), (counted, known)


def test_counting_survives_a_lighting_change() -> None:
    scene = CrowdScene()
    counter = _counter(scene)
    for gain in (0.75, 1.25):
        frame = np.clip(scene.render(12, 4).astype(np.float32) * gain, 0, 255).astype(np.uint8)
        assert abs(counter.count(to_gray(frame)) - 12) <= 1, gain


def test_levels_rise_at_thresholds_and_fall_only_below_the_hysteresis() -> None:
    levels = CrowdingLevels([10, 20], hysteresis=3)
    changes = []
    counts = [5] * 5 + [10] * 5 + [9, 8, 9, 8, 9] + [7] * 5 + [6] * 5
    counts += [21] * 5 + [18] * 5 + [16] * 5
    for raw in counts:
        change = levels.update(raw)
        if change is not None:
            changes.append((change.level, change.count))
    # 9, 8 and 7 stay busy (not below 10 - 3); 6 falls to calm; a jump to 21 goes straight to
    # crowded; 18 stays crowded (not below 20 - 3), 16 falls to busy.
    assert changes == [(1, 10), (0, 6), (2, 21), (1, 16)]


def test_a_single_odd_frame_does_not_change_the_level() -> None:
    levels = CrowdingLevels([10], hysteresis=2)
    results = [levels.update(raw) for raw in [3, 3, 3, 40, 3, 3]]
    assert results == [None] * 6


def test_crowd_video_through_the_supervisor_gives_crowding_events() -> None:
    config = CameraConfig(
        name="hall", source="generated:crowd",
        waiting_area=WaitingAreaConfig(
            polygon=WAITING_AREA_POLYGON, person_area=PERSON_AREA, levels=[10, 25], hysteresis=3
        ),
    )
    scene = CrowdScene()
    supervisor = CameraSupervisor(config, 300, None, START)
    supervisor.capture_references(scene.render(0))
    # A morning: the hall fills to 30 people and empties again, one analysed frame per count.
    video = [*range(0, 31, 2), *range(30, -1, -3)]
    events = []
    for index, count in enumerate(video):
        frame = scene.render(count, index)
        events += supervisor.process(frame, START, {})
    crowding = [(e.level, e.count) for e in events if e.type is CameraEventType.CROWDING_CHANGED]
    assert [level for level, _ in crowding] == [1, 2, 1, 0]
    assert all(count is not None for _, count in crowding)
    state = supervisor.state()
    assert state.waiting_area is not None and state.waiting_area.level == 0
