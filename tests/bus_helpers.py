"""Helpers for tests that watch the hall bus: collect what arrives and wait for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Collector(Generic[T]):
    """Thread-safe list of received items with a deadline-bounded wait."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._changed = threading.Condition()

    def add(self, _topic: str, item: T) -> None:
        with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[T], bool], timeout: float = 15.0) -> T:
        # Generous by default: a busy machine can hold a message back for seconds.
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for item in self.items:
                    if predicate(item):
                        return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"nothing matching arrived in {timeout} s; "
                                         f"got {len(self.items)} items")
                self._changed.wait(remaining)

    def matching(self, predicate: Callable[[T], bool]) -> list[T]:
        with self._changed:
            return [item for item in self.items if predicate(item)]
