"""Estimated waiting time. Pure functions: the store passes in today's figures.

    estimate = people ahead × mean service time / open capacity for the service

* Mean service time: the mean of today's finished tickets of that service (finished − service
  start, or − called when service was never started); until there are `MIN_SAMPLES` of them the
  configured `expected_service_min` is used, because two or three early figures are mostly noise.
* Open capacity: each open window (staff logged in, not paused) contributes a share of itself to
  each service it serves, weighted by 1/priority and normalised so that one window's shares add up
  to 1. A single-service window gives 1 to its service; a comprehensive window serving A (main, 1)
  and B (2) gives A 2/3 and B 1/3, which mirrors how its calling policy favours its main service.
* No open window: the configured expected time with one window — the hall is about to open or
  everyone is at lunch, and "unknown" is less useful to a citizen than a plain figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

MIN_SAMPLES = 3


def window_share(window_services: Mapping[str, int], service_id: str) -> float:
    """The fraction of one window's capacity that goes to `service_id` (0 if not served)."""
    priority = window_services.get(service_id)
    if priority is None:
        return 0.0
    total = sum(1.0 / p for p in window_services.values())
    return (1.0 / priority) / total


def open_capacity(service_id: str, open_windows: Iterable[Mapping[str, int]]) -> float:
    return sum(window_share(services, service_id) for services in open_windows)


def mean_service_s(durations_s: Sequence[float], expected_service_min: float) -> float:
    if len(durations_s) < MIN_SAMPLES:
        return expected_service_min * 60.0
    return sum(durations_s) / len(durations_s)


def estimated_wait_s(
    people_ahead: int,
    service_id: str,
    durations_s: Sequence[float],
    expected_service_min: float,
    open_windows: Iterable[Mapping[str, int]],
) -> int:
    """Whole seconds until a ticket with `people_ahead` in front of it is likely to be called."""
    if people_ahead <= 0:
        return 0
    capacity = open_capacity(service_id, open_windows)
    if capacity <= 0:
        return round(people_ahead * expected_service_min * 60.0)
    return round(people_ahead * mean_service_s(durations_s, expected_service_min) / capacity)
