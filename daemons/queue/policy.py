"""Which waiting ticket a window calls next. Pure functions: no database, no clock.

A waiting ticket's score at a window is

    score = waited_s + class_bonus_s − (window priority of its service − 1) × window_priority_step_s

and the highest score is called; ties go to the earlier `queued_at`, then the smaller ticket id.
Every candidate shares the same `now`, so the score order is the order of the *effective time*
`queued_at − bonus + penalty` (smallest first), which does not depend on `now`; the code sorts by
that instead of recomputing scores.

Why nobody starves: let B be the largest class bonus and P the largest penalty at the window.
A ticket U is called before a waiting ticket T only if effective(U) ≤ effective(T), hence
queued_at(U) − B ≤ queued_at(U) − bonus(U) + penalty(U) ≤ queued_at(T) + P, i.e.

    queued_at(U) ≤ queued_at(T) + B + P          (`overtake_horizon_s`)

Tickets arriving more than B + P after T can never be called before T, so only finitely many
tickets overtake it and T's wait is bounded by the work that arrived before queued_at(T) + B + P.
With one window, service time S, and arrivals that never exceed σ + Δt/S in any interval of length
Δt (a token bucket of depth σ), that gives wait(T) ≤ B + P + (σ − 1)·S; tests/test_queue_policy.py
checks that bound on random traffic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from firmware_config.site import PriorityPolicy
from hall_bus.contract import PriorityClass


@dataclass(frozen=True)
class Candidate:
    """What the policy needs to know about one waiting ticket."""

    ticket_id: str
    service_id: str
    priority_class: PriorityClass
    queued_at: datetime


SortKey = tuple[datetime, datetime, str]


def penalty_s(window_priority: int, policy: PriorityPolicy) -> int:
    return (window_priority - 1) * policy.window_priority_step_s


def score(
    candidate: Candidate, now: datetime, window_priority: int, policy: PriorityPolicy
) -> float:
    """The documented score; higher is called first. Used for display and tests."""
    waited = (now - candidate.queued_at).total_seconds()
    return waited + policy.bonus_s(candidate.priority_class) - penalty_s(window_priority, policy)


def sort_key(candidate: Candidate, window_priority: int, policy: PriorityPolicy) -> SortKey:
    """Ascending order of this key is descending order of `score` with the documented ties."""
    shift = policy.bonus_s(candidate.priority_class) - penalty_s(window_priority, policy)
    effective = candidate.queued_at - timedelta(seconds=shift)
    return (effective, candidate.queued_at, candidate.ticket_id)


def pick_next(
    candidates: Iterable[Candidate],
    window_priorities: Mapping[str, int],
    policy: PriorityPolicy,
) -> Candidate | None:
    """The ticket a window serving `window_priorities` (service id → priority) calls next."""
    best: Candidate | None = None
    best_key: SortKey | None = None
    for candidate in candidates:
        priority = window_priorities.get(candidate.service_id)
        if priority is None:
            continue
        key = sort_key(candidate, priority, policy)
        if best_key is None or key < best_key:
            best, best_key = candidate, key
    return best


def people_ahead(ticket: Candidate, waiting: Iterable[Candidate], policy: PriorityPolicy) -> int:
    """Waiting tickets of the same service that any window would call before `ticket`.

    Within one service every window applies the same penalty to all its tickets, so this count is
    exact for the service's own queue; tickets of other services competing for a shared
    (comprehensive) window are left out, which is why it is an approximation of the real wait.
    """
    own = sort_key(ticket, 1, policy)
    return sum(
        1
        for other in waiting
        if other.ticket_id != ticket.ticket_id
        and other.service_id == ticket.service_id
        and sort_key(other, 1, policy) < own
    )


def max_bonus_s(policy: PriorityPolicy) -> int:
    return max(policy.bonus_s(cls) for cls in PriorityClass)


def overtake_horizon_s(policy: PriorityPolicy, max_window_priority: int) -> int:
    """B + P: a ticket queued this much later than T can never be called before T."""
    return max_bonus_s(policy) + penalty_s(max_window_priority, policy)
