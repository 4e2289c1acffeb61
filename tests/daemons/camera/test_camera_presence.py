"""Seat presence on generated desk scenes with a fake clock: the issue's acceptance scenarios.

Window w1 (left seat) is open with staff s001 unless a test says otherwise; the grace period is
GRACE_S. Frames are analysed at 1 per second of scene time.
"""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np
import pytest
from camera_rig import GRACE_S, Rig, desk_camera
from queue_fixtures import START

from daemons.camera.faces import FaceFinder
from daemons.camera.references import ReferenceStore
from daemons.camera.snapshot import SNAPSHOT_WIDTH, blur_faces
from daemons.camera.supervisor import CameraSupervisor
from drivers.camera.scene import DeskScene, DeskSpec, DeskTimeline, SeatSpec, portrait_path
from hall_bus.contract.camera import CameraEventType, CameraHealth

SEATED = DeskSpec(seats=(SeatSpec(person="seated"), SeatSpec()))
EMPTY = DeskSpec()
ABSENCE = CameraEventType.ABSENCE_STARTED


def test_sitting_still_for_30_minutes_is_never_absent() -> None:
    rig = Rig(DeskTimeline([(0, SEATED)]))
    rig.run(30 * 60, fps=0.5)
    assert rig.of(ABSENCE) == []
    assert rig.seat("w1") == "present"
    # The still person is not in the reference: it was never refreshed with them in the chair.
    assert rig.supervisor.seats[0][0].observe(
        cv2.cvtColor(rig.timeline.render(0), cv2.COLOR_BGR2GRAY), 1e9
    ).occupied


def test_looking_down_without_a_visible_face_is_present() -> None:
    looking_down = SEATED.with_seat(0, person="looking_down")
    rig = Rig(DeskTimeline([(0, SEATED), (60, looking_down)]))
    rig.run(60 + 3 * GRACE_S)
    assert rig.of(ABSENCE) == []
    assert rig.seat("w1") == "present"
    gray = cv2.cvtColor(rig.timeline.render(100), cv2.COLOR_BGR2GRAY)
    assert FaceFinder().find(gray) == []  # the face cue really is gone


def test_lighting_30_percent_up_and_down_changes_nothing() -> None:
    rig = Rig(DeskTimeline([
        (0, SEATED),
        (60, DeskSpec(seats=SEATED.seats, light=0.7)),
        (60 + 2 * GRACE_S, DeskSpec(seats=SEATED.seats, light=1.3)),
    ]))
    rig.run(60 + 4 * GRACE_S)
    assert rig.of(ABSENCE) == []
    assert [e.state for _, e in rig.of(CameraEventType.PRESENCE_CHANGED, "w1")] == ["present"]


def test_an_empty_seat_in_changed_light_is_still_an_absence() -> None:
    rig = Rig(DeskTimeline([(0, SEATED), (60, DeskSpec(light=0.7)), (400, DeskSpec(light=1.3))]))
    rig.run(60 + GRACE_S + 10)
    assert len(rig.of(ABSENCE, "w1")) == 1
    rig.run(400)
    assert len(rig.of(ABSENCE, "w1")) == 1
    assert rig.seat("w1") == "absent"


def test_jpeg_noise_neither_hides_nor_invents_a_person() -> None:
    rig = Rig(DeskTimeline([
        (0, DeskSpec(seats=SEATED.seats, jpeg_quality=20)),
        (2 * GRACE_S, DeskSpec(jpeg_quality=20)),
    ]))
    rig.run(2 * GRACE_S)
    assert rig.of(ABSENCE) == []
    assert rig.seat("w1") == "present"
    rig.run(GRACE_S + 15)
    assert len(rig.of(ABSENCE, "w1")) == 1


def test_a_citizen_briefly_blocking_the_view_is_not_an_absence() -> None:
    blocked = DeskSpec(seats=SEATED.seats, blocker=True)
    rig = Rig(DeskTimeline([(0, SEATED), (60, blocked), (90, SEATED)]))
    rig.run(60 + 2 * GRACE_S)
    assert rig.of(ABSENCE) == []
    assert [e.state for _, e in rig.of(CameraEventType.PRESENCE_CHANGED, "w1")] == ["present"]


def test_a_moved_chair_neither_hides_the_staff_nor_their_absence() -> None:
    moved = SEATED.with_seat(0, chair_dx=40)
    left_with_chair_moved = EMPTY.with_seat(0, chair_dx=40)
    rig = Rig(DeskTimeline([(0, SEATED), (60, moved), (60 + 2 * GRACE_S, left_with_chair_moved)]))
    rig.run(60 + 2 * GRACE_S)
    assert rig.of(ABSENCE) == []
    assert rig.seat("w1") == "present"
    # Left with the chair pushed aside: the motion of the move fades from the background model
    # within a minute or two, then the grace period runs.
    rig.run(GRACE_S + 180)
    assert len(rig.of(ABSENCE, "w1")) == 1


def _leave_for(seconds: float, width: int = 640, height: int = 360) -> Rig:
    config = desk_camera(width=width, height=height)
    rig = Rig(DeskTimeline([(0, SEATED), (60, EMPTY), (60 + seconds, SEATED)]), config=config)
    rig.run(60 + seconds + 60)
    return rig


def test_leaving_for_one_second_less_than_the_grace_period_raises_nothing() -> None:
    rig = _leave_for(GRACE_S - 1)
    assert rig.of(ABSENCE) == []
    states = [e.state.value for _, e in rig.of(CameraEventType.PRESENCE_CHANGED, "w1")]
    assert states == ["present", "empty", "present"]


@pytest.mark.parametrize("size", [(640, 360), (320, 180)], ids=["640x360", "320x180"])
def test_leaving_for_one_second_more_raises_one_alert_within_ten_seconds(
    size: tuple[int, int],
) -> None:
    # Regions are normalised: a smaller analysis size sees the same seat.
    rig = _leave_for(GRACE_S + 1, *size)
    alerts = rig.of(ABSENCE, "w1")
    assert len(alerts) == 1
    raised_at, alert = alerts[0]
    assert 60 + GRACE_S <= raised_at <= 60 + GRACE_S + 10
    assert alert.staff_id == "s001"
    assert alert.grace_s == GRACE_S
    assert alert.absent_since is not None and alert.absent_s is not None
    assert alert.absent_s >= GRACE_S
    assert alert.snapshot_jpeg_b64 is None  # the site did not allow pictures
    # Back in the chair: the absence ends after a few seconds of evidence, not on one frame.
    ended = rig.of(CameraEventType.ABSENCE_ENDED, "w1")
    assert len(ended) == 1
    assert 60 + GRACE_S + 1 <= ended[0][0] <= 60 + GRACE_S + 1 + 5
    assert ended[0][1].absent_since == alert.absent_since
    assert rig.seat("w1") == "present"


def test_no_absence_while_the_window_is_closed_or_paused() -> None:
    rig = Rig(DeskTimeline([(0, SEATED), (60, EMPTY)]), open_windows={})
    rig.run(60 + 3 * GRACE_S)
    assert rig.of(ABSENCE) == []
    assert rig.seat("w1") == "empty"
    # The window opens (staff logged in remotely): the grace period starts from the opening.
    rig.open_windows["w1"] = "s001"
    opened = rig.elapsed
    rig.run(GRACE_S + 10)
    (raised_at, _), = rig.of(ABSENCE, "w1")
    assert raised_at >= opened + GRACE_S
    # Paused (logged out or on a break): the absence ends.
    del rig.open_windows["w1"]
    rig.run(5)
    (_, first), = rig.of(ABSENCE, "w1")
    (_, ended), = rig.of(CameraEventType.ABSENCE_ENDED, "w1")
    assert ended.absent_since == first.absent_since
    assert rig.seat("w1") == "empty"
    # Resumed with the seat still empty: a new absence, with its own start, after the grace.
    rig.open_windows["w1"] = "s001"
    resumed = rig.elapsed
    rig.run(GRACE_S + 10)
    second = [e for _, e in rig.of(ABSENCE, "w1")][1]
    assert second.absent_since is not None and first.absent_since is not None
    assert (second.absent_since - first.absent_since).total_seconds() >= resumed - opened


def _fault_rig(camera: str) -> Rig:
    broken = DeskSpec(camera=camera)
    return Rig(DeskTimeline([(0, SEATED), (60, EMPTY), (61, broken)]))


def test_frozen_black_or_covered_camera_is_a_fault_never_an_absence() -> None:
    for fault in ("frozen", "black", "covered"):
        rig = _fault_rig(fault)
        rig.run(61 + 3 * GRACE_S)
        assert rig.of(ABSENCE) == [], fault
        faults = rig.of(CameraEventType.CAMERA_FAULT)
        assert [e.health for _, e in faults] == [CameraHealth(fault)], fault
        assert rig.seat("w1") == "unknown", fault
        assert rig.supervisor.state().health is CameraHealth(fault)


def test_camera_recovers_and_needs_fresh_evidence_before_an_absence() -> None:
    rig = Rig(DeskTimeline([(0, SEATED), (60, DeskSpec(camera="black")), (400, EMPTY)]))
    rig.run(400)
    assert rig.of(ABSENCE) == []
    rig.run(GRACE_S - 5)
    assert rig.of(CameraEventType.CAMERA_RECOVERED) != []
    assert rig.of(ABSENCE) == []  # the dark minutes did not count towards the grace period
    rig.run(20)
    assert len(rig.of(ABSENCE, "w1")) == 1


def test_reference_is_refreshed_only_after_a_confidently_empty_minute(tmp_path: Path) -> None:
    store = ReferenceStore(tmp_path)
    rig = Rig(DeskTimeline([(0, SEATED), (30 * 60, EMPTY)]), references=store)
    installed = store.path("seat-w1").read_bytes()
    rig.run(30 * 60, fps=0.5)
    assert store.path("seat-w1").read_bytes() == installed  # never while somebody sits there
    rig.run(50)
    assert store.path("seat-w1").read_bytes() == installed  # not yet a minute of empty seat
    rig.run(30)
    refreshed = store.load("seat-w1")
    assert store.path("seat-w1").read_bytes() != installed
    assert refreshed is not None and refreshed.shape == rig.supervisor.seats[0][0].region.mask.shape
    # A restart loads the stored pictures: nothing is missing, the refreshed one is in use.
    restarted = CameraSupervisor(rig.config, GRACE_S, store, START)
    assert restarted.missing_references == []
    loaded = restarted.seats[0][0].reference
    assert loaded is not None and np.array_equal(loaded, refreshed)


def test_a_reference_that_no_longer_fits_its_seat_is_not_used(tmp_path: Path) -> None:
    store = ReferenceStore(tmp_path)
    store.save("seat-w1", np.zeros((10, 10), np.uint8))  # taken before the polygon was redrawn
    supervisor = CameraSupervisor(desk_camera(), GRACE_S, store, START)
    assert supervisor.missing_references == ["seat-w1", "seat-w2"]
    events = supervisor.process(DeskScene().render(SEATED), START, {"w1": "s001"})
    assert [e.health for e in events] == [CameraHealth.NO_REFERENCE]
    assert supervisor.state().seats[0].state.value == "unknown"


def _need_portrait() -> None:
    # Faces need the real portrait; without it the scene draws a faceless figure.
    assert portrait_path() is not None, "shared/data/astronaut.png not found: set $HALL_PORTRAIT"


def test_absence_snapshot_is_small_jpeg_with_faces_blurred() -> None:
    _need_portrait()
    config = desk_camera(snapshot_on_alert=True)
    # Window 2's staff member sits in view with a visible face; only w1 is watched for absence.
    both = DeskSpec(seats=(SeatSpec(person="seated"), SeatSpec(person="seated")))
    rig = Rig(DeskTimeline([(0, both), (30, both.with_seat(0, person="none"))]), config=config)
    rig.run(30 + GRACE_S + 10)
    (_, alert), = rig.of(ABSENCE, "w1")
    assert alert.snapshot_jpeg_b64 is not None
    picture = cv2.imdecode(
        np.frombuffer(base64.b64decode(alert.snapshot_jpeg_b64), np.uint8), cv2.IMREAD_COLOR
    )
    assert picture.shape[1] == SNAPSHOT_WIDTH
    upscaled = cv2.resize(picture, (640, 360))
    assert FaceFinder().find(cv2.cvtColor(upscaled, cv2.COLOR_BGR2GRAY)) == []


def test_blur_faces_keeps_only_the_subject_seat() -> None:
    _need_portrait()
    scene = DeskScene()
    frame = scene.render(DeskSpec(seats=(SeatSpec(person="seated"), SeatSpec(person="seated"))))
    faces = FaceFinder()
    assert len(faces.find(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))) == 2
    keep = Rig(DeskTimeline([(0, EMPTY)]))
    left_seat = keep.supervisor.seats[0][0].region
    blurred = blur_faces(frame, faces, keep=left_seat)
    found = faces.find(cv2.cvtColor(blurred, cv2.COLOR_BGR2GRAY))
    assert len(found) == 1
    x, _, w, _ = found[0]
    assert x + w // 2 < 320  # the kept face is the left seat's
