"""A bounded memory of recently seen message ids.

QoS 1 delivers at least once, so every handler must tolerate duplicates. Ids are unique per
message, and a duplicate normally arrives within seconds of the original, so remembering the last
few thousand ids is enough; the bound keeps a long-running daemon's memory flat.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

DEFAULT_CAPACITY = 10_000


class SeenIds:
    """Least-recently-seen ids are forgotten first once `capacity` is reached. Thread-safe."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, message_id: str) -> bool:
        """Remember `message_id`; return True if it was new, False if it was seen before."""
        with self._lock:
            if message_id in self._ids:
                # A repeat refreshes the id: while duplicates keep coming it must not be forgotten.
                self._ids.move_to_end(message_id)
                return False
            self._ids[message_id] = None
            if len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
            return True

    def __contains__(self, message_id: object) -> bool:
        with self._lock:
            return message_id in self._ids

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)
