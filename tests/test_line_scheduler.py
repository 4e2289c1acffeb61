"""The line scheduler's order: urgent writes first, polls spread, offline devices polled less."""

from __future__ import annotations

from drivers.line_scheduler import LineScheduler


def _take(scheduler: LineScheduler[str], count: int) -> list[object]:
    return [scheduler.next_job() for _ in range(count)]


def test_urgent_writes_go_before_polls_and_routine_writes_take_turns() -> None:
    scheduler: LineScheduler[str] = LineScheduler([2, 3, 4])
    scheduler.routine.extend(["idle-a", "idle-b"])
    scheduler.urgent.append("call")
    assert _take(scheduler, 7) == ["call", 2, "idle-a", 3, "idle-b", 4, 2]


def test_offline_device_is_polled_once_every_n_cycles_without_slowing_others() -> None:
    scheduler: LineScheduler[str] = LineScheduler([2, 3], offline_after=2, offline_poll_every=4)
    assert not scheduler.missed(3)
    assert scheduler.missed(3)  # second miss in a row: offline
    polls = _take(scheduler, 12)
    assert polls == [2, 2, 2, 2, 3, 2, 2, 2, 2, 3, 2, 2]  # in every 4th cycle only
    assert scheduler.answered(3)  # back online
    assert _take(scheduler, 4).count(3) == 2


def test_no_devices_means_routine_writes_still_flow() -> None:
    scheduler: LineScheduler[str] = LineScheduler([])
    scheduler.routine.append("screen")
    assert _take(scheduler, 2) == ["screen", None]
