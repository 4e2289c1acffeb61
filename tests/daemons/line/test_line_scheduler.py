"""The line scheduler's order: urgent writes first, polls spread, offline devices polled less."""

from __future__ import annotations

from daemons.line.scheduler import Lane, LineScheduler


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


def test_a_calls_strip_text_goes_before_other_urgent_writes() -> None:
    scheduler: LineScheduler[str] = LineScheduler([2])
    scheduler.lanes[Lane.URGENT].extend(["pad-prompt", "hall-screen"])
    scheduler.lanes[Lane.CALL].append("strip")
    assert _take(scheduler, 4) == ["strip", "pad-prompt", "hall-screen", 2]


def test_idle_pads_share_the_cycles_and_a_prompting_pad_is_polled_every_cycle() -> None:
    # Keypads 1, 3, 5, 7; pads 2, 4, 6, 8 polled once every 4 cycles while idle.
    pads = {2: 4, 4: 4, 6: 4, 8: 4}
    scheduler: LineScheduler[str] = LineScheduler([1, 2, 3, 4, 5, 6, 7, 8],
                                                  idle_poll_every=pads)
    assert scheduler.polls_per_cycle() == 5
    polls = _take(scheduler, 20)
    cycles = [polls[i:i + 5] for i in range(0, 20, 5)]
    for cycle in cycles:  # every keypad each cycle, one idle pad each
        assert sorted(set(cycle) & {1, 3, 5, 7}) == [1, 3, 5, 7]
        assert len(set(cycle) & set(pads)) == 1
    assert sorted(p for c in cycles for p in c if p in pads) == [2, 4, 6, 8]
    scheduler.set_active(6, True)  # pad 6 prompts for a rating
    assert scheduler.polls_per_cycle() == 5.75
    later = _take(scheduler, 23)  # four cycles: keypads, pad 6, and three idle pads' turns
    assert [later.count(a) for a in (1, 6, 2, 4, 8)] == [4, 4, 1, 1, 1]


def test_routine_writes_take_at_most_their_share_of_the_line() -> None:
    scheduler: LineScheduler[str] = LineScheduler([1, 2], routine_share=0.2)
    scheduler.routine.extend(f"refresh-{i}" for i in range(20))
    polls = routine = 0.0
    for _ in range(200):
        job = scheduler.next_job()
        if isinstance(job, int):
            scheduler.spent(0.02, None)
            polls += 0.02
        elif job is not None:
            scheduler.spent(0.04, Lane.ROUTINE)
            routine += 0.04
    assert routine / (routine + polls) <= 0.2 + 0.05  # one frame of slack
    assert routine > 0  # and they do flow


def test_no_devices_means_routine_writes_flow_without_credit() -> None:
    scheduler: LineScheduler[str] = LineScheduler([])
    scheduler.routine.extend(["a", "b"])
    scheduler.spent(1.0, Lane.ROUTINE)
    assert _take(scheduler, 3) == ["a", "b", None]
