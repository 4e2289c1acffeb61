"""Pure tests of the calling policy, the wait estimate, the business day and supervision checks."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from daemons.queue import estimate, policy, supervision
from daemons.queue.businessday import business_day, day_start
from firmware_config.site import PriorityPolicy, Thresholds
from hall_bus.contract import PriorityClass, SupervisionKind

T0 = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)
POLICY = PriorityPolicy(appointment_bonus_s=300, elderly_disabled_bonus_s=450,
                        green_channel_bonus_s=600, window_priority_step_s=300)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def cand(ticket_id: str, queued_s: float, cls: PriorityClass = PriorityClass.NORMAL,
         service: str = "a") -> policy.Candidate:
    return policy.Candidate(ticket_id, service, cls, at(queued_s))


# --- ordering ------------------------------------------------------------------------------------


def test_sort_key_orders_like_the_documented_score() -> None:
    rng = random.Random(7)
    now = at(10_000)
    cands = [
        cand(f"t{i:03d}", rng.randrange(0, 9000), rng.choice(list(PriorityClass)),
             rng.choice("ab"))
        for i in range(200)
    ]
    window = {"a": 1, "b": 3}

    def by_score(c: policy.Candidate) -> tuple[float, datetime, str]:
        return (-policy.score(c, now, window[c.service_id], POLICY), c.queued_at, c.ticket_id)

    expected = sorted(cands, key=by_score)
    actual = sorted(cands, key=lambda c: policy.sort_key(c, window[c.service_id], POLICY))
    assert actual == expected


def test_pick_next_prefers_bonus_then_earlier_then_smaller_id() -> None:
    assert policy.pick_next([], {"a": 1}, POLICY) is None
    normal = cand("t1", 0)
    green = cand("t2", 500, PriorityClass.GREEN_CHANNEL)  # effective -100: ahead of t1
    assert policy.pick_next([normal, green], {"a": 1}, POLICY) == green
    late_green = cand("t3", 700, PriorityClass.GREEN_CHANNEL)  # effective 100: behind t1
    assert policy.pick_next([normal, late_green], {"a": 1}, POLICY) == normal
    # Equal effective time: the earlier queued_at wins, then the smaller id.
    tie = cand("t4", 600, PriorityClass.GREEN_CHANNEL)
    assert policy.pick_next([tie, normal], {"a": 1}, POLICY) == normal
    assert policy.pick_next([cand("t6", 5), cand("t5", 5)], {"a": 1}, POLICY) == cand("t5", 5)


def test_pick_next_applies_window_priority_and_ignores_other_services() -> None:
    main = cand("a1", 200, service="a")
    secondary = cand("b1", 0, service="b")  # 200 s earlier but 300 s penalty
    assert policy.pick_next([main, secondary], {"a": 1, "b": 2}, POLICY) == main
    assert policy.pick_next([main, secondary], {"a": 2, "b": 1}, POLICY) == secondary
    assert policy.pick_next([secondary], {"a": 1}, POLICY) is None
    much_earlier = cand("b2", -200, service="b")
    assert policy.pick_next([main, much_earlier], {"a": 1, "b": 2}, POLICY) == much_earlier


def test_people_ahead_counts_own_service_in_policy_order() -> None:
    waiting = [cand("a1", 0), cand("a2", 100), cand("b1", 0, service="b")]
    assert policy.people_ahead(cand("a3", 200), waiting, POLICY) == 2
    # A green-channel arrival jumps tickets that waited less than its 600 s bonus.
    assert policy.people_ahead(cand("a4", 650, PriorityClass.GREEN_CHANNEL), waiting, POLICY) == 1
    assert policy.people_ahead(cand("a5", 500, PriorityClass.GREEN_CHANNEL), waiting, POLICY) == 0


# --- starvation ----------------------------------------------------------------------------------


@dataclass
class Served:
    candidate: policy.Candidate
    called_s: float


def simulate_one_window(
    arrivals: list[policy.Candidate], window: dict[str, int], service_s: float
) -> list[Served]:
    """One work-conserving window: it calls the next ticket the moment the previous one is done."""
    pending = sorted(arrivals, key=lambda c: c.queued_at)
    waiting: list[policy.Candidate] = []
    served: list[Served] = []
    free_at = -1e18
    i = 0
    while i < len(pending) or waiting:
        # Busy: the next call is when the current service ends; idle: at the next arrival.
        now = free_at if waiting else max(free_at, (pending[i].queued_at - T0).total_seconds())
        while i < len(pending) and (pending[i].queued_at - T0).total_seconds() <= now:
            waiting.append(pending[i])
            i += 1
        chosen = policy.pick_next(waiting, window, POLICY)
        assert chosen is not None
        waiting.remove(chosen)
        served.append(Served(chosen, now))
        free_at = now + service_s
    return served


def test_normal_ticket_is_called_under_a_continuous_green_channel_stream() -> None:
    service_s = 60.0
    normal = cand("n", 0)
    # A green-channel citizen arrives every service time, forever (here for two hours), and the
    # window was already busy: green tickets alone could keep it busy indefinitely.
    greens = [cand(f"g{i:04d}", 1 + i * service_s, PriorityClass.GREEN_CHANNEL)
              for i in range(120)]
    served = simulate_one_window([cand("busy", -1), normal, *greens], {"a": 1}, service_s)
    called = next(s.called_s for s in served if s.candidate.ticket_id == "n")
    assert called <= POLICY.green_channel_bonus_s + 2 * service_s
    # and greens were indeed served ahead of it while it waited
    assert any(s.candidate.ticket_id.startswith("g") and s.called_s < called for s in served)


def token_bucket_arrivals(
    rng: random.Random, count: int, service_s: float, burst: int, services: list[str]
) -> list[policy.Candidate]:
    """Random arrivals that never exceed `burst + Δt / service_s` in any closed interval Δt."""
    tokens = float(burst)
    t = 0.0
    last = 0.0
    out: list[policy.Candidate] = []
    while len(out) < count:
        t += rng.expovariate(1.3 / service_s)  # offered load 130 %: the bucket shapes it
        tokens = min(float(burst), tokens + (t - last) / service_s)
        last = t
        if tokens >= 1.0:
            tokens -= 1.0
            cls = rng.choices(list(PriorityClass), weights=[6, 2, 1, 1])[0]
            out.append(cand(f"t{len(out):05d}", round(t, 3), cls, rng.choice(services)))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_random_traffic_never_waits_longer_than_the_proven_bound(seed: int) -> None:
    """wait ≤ B + P + (σ − 1)·S for token-bucket traffic (σ = burst) at one window.

    Proof sketch (see policy.py): in T's busy period, starting at t0 with an arrival, every ticket
    called before T arrived in [t0, q_T + B + P]; there are at most σ + (q_T + B + P − t0)/S of
    them including T, each takes S, so T is called by t0 + (σ − 1)·S + q_T + B + P − t0.
    """
    rng = random.Random(seed)
    service_s = 120.0
    burst = 8
    window = {"a": 1, "b": 2}
    arrivals = token_bucket_arrivals(rng, 1500, service_s, burst, ["a", "b"])
    served = simulate_one_window(arrivals, window, service_s)
    assert len(served) == len(arrivals)
    horizon = policy.overtake_horizon_s(POLICY, max(window.values()))
    bound = horizon + (burst - 1) * service_s
    queued = {s.candidate.ticket_id: (s.candidate.queued_at - T0).total_seconds() for s in served}
    waits = [s.called_s - queued[s.candidate.ticket_id] for s in served]
    assert max(waits) <= bound + 1e-6
    # The lemma behind it: nobody queued more than B + P later is called first.
    overtakes = 0
    for index, s in enumerate(served):
        for later in served[index + 1:]:
            if later.called_s > s.called_s and queued[later.candidate.ticket_id] < queued[
                    s.candidate.ticket_id]:
                overtakes += 1
                assert queued[s.candidate.ticket_id] - queued[later.candidate.ticket_id] <= horizon
    assert overtakes > 0, "traffic too light to exercise priorities"
    assert max(waits) > service_s * 2, "traffic too light to build a queue"


# --- estimate ------------------------------------------------------------------------------------


def test_window_share_weights_by_inverse_priority() -> None:
    comprehensive = {"a": 1, "b": 2, "c": 3}
    shares = [estimate.window_share(comprehensive, s) for s in "abc"]
    assert sum(shares) == pytest.approx(1.0)
    assert shares[0] == pytest.approx(6 / 11)
    assert shares[1] == pytest.approx(3 / 11)
    assert estimate.window_share({"a": 1}, "a") == 1.0
    assert estimate.window_share({"a": 1}, "b") == 0.0


def test_estimated_wait_uses_fallback_until_three_finished_and_divides_by_capacity() -> None:
    windows = [{"a": 1}, {"a": 1, "b": 2}]
    # capacity for a = 1 + 2/3
    capacity = 5 / 3
    assert estimate.estimated_wait_s(5, "a", [60, 60], 10, windows) == round(5 * 600 / capacity)
    assert estimate.estimated_wait_s(5, "a", [60, 120, 180], 10, windows) == round(
        5 * 120 / capacity)
    assert estimate.estimated_wait_s(0, "a", [60, 120, 180], 10, windows) == 0
    # No open window: the configured time with one window, not the day's own figures.
    assert estimate.estimated_wait_s(3, "a", [60, 60, 60], 10, []) == 1800
    assert estimate.estimated_wait_s(3, "c", [60, 60, 60], 10, windows) == 1800


# --- business day --------------------------------------------------------------------------------


def test_business_day_starts_at_opening_time_in_the_site_zone() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    opening = time(8, 30)
    # 00:29 UTC = 08:29 Shanghai: still the previous business day
    assert business_day(datetime(2024, 3, 5, 0, 29, tzinfo=UTC), zone, opening) == "2024-03-04"
    assert business_day(datetime(2024, 3, 5, 0, 30, tzinfo=UTC), zone, opening) == "2024-03-05"
    # 23:00 UTC on the 4th is 07:00 on the 5th in Shanghai, before opening
    assert business_day(datetime(2024, 3, 4, 23, 0, tzinfo=UTC), zone, opening) == "2024-03-04"
    assert day_start("2024-03-05", zone, opening) == datetime(2024, 3, 5, 0, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        business_day(datetime(2024, 3, 5, 9, 0), zone, opening)


# --- supervision ---------------------------------------------------------------------------------


def test_supervision_finds_each_threshold_with_its_occurrence() -> None:
    thresholds = Thresholds(long_wait_min=30, long_service_min=20, window_idle_min=5)
    now = at(3600)
    waiting = [
        supervision.WaitingRow("t1", "A001", "a", "户籍", at(0)),  # 60 min
        supervision.WaitingRow("t2", "A002", "a", "户籍", at(3000)),  # 10 min
    ]
    active = [
        supervision.ActiveRow("t3", "B001", "b", "w2", "2号窗口", "s1", at(2000)),  # 26 min
        supervision.ActiveRow("t4", "B002", "b", "w3", "3号窗口", "s2", at(3000)),
    ]
    windows = [
        supervision.WindowRow("w1", "1号窗口", "s3", False, False, at(3000), {"a": 1}),  # 10 min
        supervision.WindowRow("w5", "5号窗口", "s4", False, False, at(3500), {"a": 1}),  # 100 s
        supervision.WindowRow("w6", "6号窗口", "s5", True, False, at(0), {"a": 1}),  # paused
        supervision.WindowRow("w7", "7号窗口", None, False, False, at(0), {"a": 1}),  # closed
        supervision.WindowRow("w8", "8号窗口", "s6", False, False, at(0), {"c": 1}),  # no one waits
    ]
    found = supervision.find_alerts(now, thresholds, waiting, active, windows)
    kinds = {(f.alert.kind, f.alert.subject) for f in found}
    assert kinds == {
        (SupervisionKind.LONG_WAIT, "t1"),
        (SupervisionKind.LONG_SERVICE, "t3"),
        (SupervisionKind.WINDOW_IDLE, "w1"),
    }
    idle = next(f for f in found if f.alert.kind is SupervisionKind.WINDOW_IDLE)
    assert idle.alert.value_s == 600 and idle.alert.threshold_s == 300
    assert idle.occurrence == at(3000).isoformat()
    assert all(" / " in f.alert.message for f in found)


def test_window_idle_counts_from_when_someone_started_waiting() -> None:
    thresholds = Thresholds(window_idle_min=5)
    windows = [supervision.WindowRow("w1", "1号窗口", "s", False, False, at(0), {"a": 1})]
    waiting = [supervision.WaitingRow("t1", "A001", "a", "户籍", at(3500))]
    assert supervision.find_alerts(at(3600), thresholds, waiting, [], windows) == []
    found = supervision.find_alerts(at(3900), thresholds, waiting, [], windows)
    assert [f.alert.value_s for f in found] == [400]
