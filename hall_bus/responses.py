"""The client side of request/response: requests waiting for their answers, by request id.

`BusClient.request()` registers the request's id before publishing it, then waits. The handler of
the response subscriptions (`PendingResponses.on_response`, on paho's network thread) hands each
valid answer to the waiter with the same id; an answer nobody waits for (late, or meant for another
client listening on the same response topic) is ignored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError

from hall_bus.contract import Response
from hall_bus.request_server import describe_error

# Part of the bus client: its log lines keep the client's logger name.
log = logging.getLogger("hall_bus.client")


class Waiter:
    """One request waiting for its answer; the first answer counts."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._response: Response | None = None

    def wait(self, timeout: float) -> Response | None:
        """The answer, or None if none arrived within `timeout` seconds."""
        if not self._done.wait(timeout):
            return None
        return self._response

    def deliver(self, response: Response) -> None:
        if not self._done.is_set():
            self._response = response
            self._done.set()


class PendingResponses:
    """The waiters of one client's requests in flight. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, Waiter] = {}

    @contextmanager
    def expect(self, request_id: str) -> Iterator[Waiter]:
        """Wait for the answer to `request_id` within the block; ValueError if already waiting."""
        waiter = Waiter()
        with self._lock:
            if request_id in self._waiters:
                raise ValueError(f"request {request_id} is already waiting for its answer")
            self._waiters[request_id] = waiter
        try:
            yield waiter
        finally:
            with self._lock:
                self._waiters.pop(request_id, None)

    def on_response(self, topic: str, payload: bytes) -> None:
        """Subscription handler for `.../response/+` topics."""
        try:
            response = Response.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("dropped invalid response on %s: %s", topic, describe_error(exc))
            return
        with self._lock:
            waiter = self._waiters.get(response.id)
        if waiter is not None:
            waiter.deliver(response)
