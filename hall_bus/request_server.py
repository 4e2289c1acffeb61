"""The server side of request/response on the hall bus, behind `BusClient.serve()`.

A request on `.../request/<action>` is checked before its handler sees it: an unknown action or an
invalid payload is answered with an error (under the payload's own id when one can be read, so the
answer still reaches its requester), a repeated request id is never executed again, and a request
past its deadline is answered `deadline_expired` without running.

A repeat with the same `attempt` is a QoS 1 redelivery: dropped, the first answer stands. A repeat
with a higher `attempt` is a requester that got no answer and asks again: it is sent the first
answer again, from memory.

Handlers run on an executor, by default one worker thread per client (`ServeWorkers.default`), so a
server executes its requests one at a time, in arrival order. `ServeWorkers` also counts accepted
requests, so that stopping the client lets the answers already owed go out before `offline`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor

from pydantic import ValidationError

from hall_bus import errors, topics
from hall_bus.contract import Request, Response
from hall_bus.contract.base import MAX_PAYLOAD_BYTES
from hall_bus.dedup import DEFAULT_CAPACITY
from hall_bus.ids import new_id, rfc3339
from hall_bus.logs import bind

# Part of the bus client: its log lines keep the client's logger name.
log = logging.getLogger("hall_bus.client")

RawHandler = Callable[[str, bytes], None]
RequestHandler = Callable[[str, Request], Response]
Publish = Callable[[str, Response], object]
# The answer a server gave a request id before, from its durable log (None: never executed).
StoredAnswer = Callable[[str, str], Response | None]


def describe_error(exc: ValidationError) -> str:
    """The first validation problem as `field.path: message`, short enough for a log line.

    Input values are left out on purpose: they may carry personal data.
    """
    problems = exc.errors(include_url=False, include_input=False, include_context=False)
    if not problems:
        return str(exc)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "payload"
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def call_handler(handler: RawHandler, topic: str, payload: bytes) -> None:
    """Run a handler; its exception is logged, never passed on to the thread that called it."""
    try:
        handler(topic, payload)
    except Exception:
        log.exception("handler for %s failed", topic)


# The id of a payload JSON cannot parse (a 5,000-digit number, nesting 1,000 deep, a lone
# surrogate): read off the text, so the requester still gets its error answer.
_ID_FIELD = re.compile(rb'"id"\s*:\s*"([!#-\[\]-~]{1,64})"')


def readable_id(payload: bytes) -> str:
    """The payload's own id if one can be read, so an error answer still reaches its requester."""
    try:
        value = json.loads(payload).get("id")
    except (ValueError, AttributeError, RecursionError):
        found = _ID_FIELD.search(payload[:4096])
        return found.group(1).decode("ascii") if found else new_id()
    return value if isinstance(value, str) and 0 < len(value) <= 64 else new_id()


class AnsweredRequests:
    """The answers given to the last `capacity` executed requests, by request id."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._answers: OrderedDict[str, tuple[str, int, Response]] = OrderedDict()

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._answers

    def action_of(self, request_id: str) -> str:
        return self._answers[request_id][0]

    def remember(self, action: str, request: Request, response: Response) -> None:
        self._answers[request.id] = (action, request.attempt, response)
        if len(self._answers) > self._capacity:
            self._answers.popitem(last=False)

    def answer_again(self, request: Request) -> Response | None:
        """The stored answer if this is a new attempt; None for a redelivered copy."""
        action, attempt, response = self._answers[request.id]
        self._answers.move_to_end(request.id)
        if request.attempt <= attempt:
            return None
        self._answers[request.id] = (action, request.attempt, response)
        return response


class RequestServer:
    """Checks and executes the requests of one `serve()` call; runs on the worker thread."""

    def __init__(
        self,
        publish: Publish,
        endpoint: topics.Endpoint,
        actions: dict[str, type[Request]],
        handler: RequestHandler,
        stored: StoredAnswer | None = None,
    ) -> None:
        self.publish = publish
        self.endpoint = endpoint
        self.actions = actions
        self.handler = handler
        self.stored = stored
        self.answered = AnsweredRequests()

    def handle(self, topic: str, payload: bytes) -> None:
        try:
            action = topics.action_of(topic)
        except topics.TopicError:
            # Upper-case, Chinese or otherwise unnamed: no such action, said where the requester
            # listens (its own response topic), instead of leaving it to time out.
            log.warning("request on %s: not a valid action name", topic)
            self.publish(topics.response_topic_for(topic), Response.fail(
                readable_id(payload), errors.UNKNOWN_ACTION,
                "未知操作 / unknown action: names are [a-z0-9_-]"))
            return
        model = self.actions.get(action)
        if model is None:
            known = ", ".join(sorted(self.actions))
            self._answer(action, Response.fail(
                readable_id(payload), errors.UNKNOWN_ACTION,
                f"未知操作 / unknown action {action!r}; known: {known}",
            ))
            return
        try:
            request = model.model_validate_json(payload)
        except ValidationError as exc:
            reason = describe_error(exc)
            log.warning("invalid %s request on %s: %s", action, topic, reason)
            self._answer(action, Response.fail(
                readable_id(payload), errors.INVALID_PAYLOAD,
                f"请求无效 / invalid request: {reason}",
            ))
            return
        # Every log line made while this request is handled carries its id (hall_bus/logs.py).
        with bind(request_id=request.id):
            self._execute(topic, action, request)

    def _execute(self, topic: str, action: str, request: Request) -> None:
        # Before the deadline check: a late copy of an executed request must not contradict the
        # first answer.
        if request.id in self.answered and self.answered.action_of(request.id) != action:
            # Not a repeat: an id reused for another action. Refused, never executed, and never
            # the other action's answer passed off as this one's.
            first = self.answered.action_of(request.id)
            log.warning("request id %s reused: %s after %s", request.id, action, first)
            self._answer(action, Response.fail(
                request.id, errors.INVALID_PAYLOAD,
                f"请求编号已被占用 / request id {request.id} was already used for {first}"))
            return
        if request.id in self.answered:
            again = self.answered.answer_again(request)
            if again is None:
                log.debug("dropped duplicate request %s on %s", request.id, topic)
            else:
                log.info("request %s asked again (attempt %d): first answer repeated",
                         request.id, request.attempt)
                self._answer(action, again)
            return
        if request.expired():
            # A server restarted since it executed the request has no answer in memory, but its
            # durable log has the real one, which the requester must get ("expired" would tell a
            # kiosk its ticket failed while a window calls the number). Asked only here: a
            # request in time goes to the handler, which answers a repeat from that log itself.
            earlier = self.stored(action, request.id) if self.stored is not None else None
            if earlier is not None:
                log.info("request %s asked again after a restart: answered from the log",
                         request.id)
                self.answered.remember(action, request, earlier)
                self._answer(action, earlier)
                return
            # Not remembered: nothing was done, so the requester may send the same id again with
            # a new deadline and have it executed then.
            log.info("dropped expired %s request %s (deadline %s)", action, request.id,
                     rfc3339(request.deadline))
            self._answer(action, Response.fail(
                request.id, errors.DEADLINE_EXPIRED,
                f"请求已过期 / request arrived after its deadline {rfc3339(request.deadline)}",
            ))
            return
        try:
            response = self.handler(action, request)
        except Exception as exc:
            log.exception("handler of %s failed on request %s", topic, request.id)
            response = Response.fail(
                request.id, errors.INTERNAL_ERROR,
                f"内部错误 / internal error ({type(exc).__name__}); see the log of "
                f"{self.endpoint.base}",
            )
        if response.id != request.id:
            log.error("handler of %s answered %s with id %s; sent with the request's id",
                      topic, request.id, response.id)
            response = response.model_copy(update={"id": request.id})
        self.answered.remember(action, request, response)
        self._answer(action, response)

    def _answer(self, action: str, response: Response) -> None:
        if len(response.model_dump_json()) > MAX_PAYLOAD_BYTES:
            # The broker would drop our connection for it, and the stored answer would go out
            # again after every reconnect: the requester is told to ask for less instead.
            log.error("answer to %s %s too large for the bus; sent as an error", action,
                      response.id)
            response = Response.fail(
                response.id, errors.RESPONSE_TOO_LARGE,
                f"应答过大 / the answer exceeds the bus limit of {MAX_PAYLOAD_BYTES} bytes; "
                "ask for less (a smaller limit, the next page)")
        self.publish(self.endpoint.response(action), response)


class ServeWorkers:
    """One client's default request worker and the count of requests it still owes answers to."""

    def __init__(self, thread_name_prefix: str) -> None:
        self._thread_name_prefix = thread_name_prefix
        self._lock = threading.Lock()
        self._worker: ThreadPoolExecutor | None = None
        self._busy = 0  # requests accepted by serve() and not yet finished
        self._idle = threading.Condition()

    def default(self) -> ThreadPoolExecutor:
        """The single worker thread, created on first use."""
        with self._lock:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=self._thread_name_prefix
                )
            return self._worker

    def submit(self, worker: Executor, handle: RawHandler, topic: str, payload: bytes) -> None:
        """Run `handle(topic, payload)` on `worker`, counted until it is done."""
        # Counted before it is submitted: a worker may finish it before submit() returns.
        with self._idle:
            self._busy += 1
        try:
            future = worker.submit(call_handler, handle, topic, payload)
        except BaseException:
            self._task_done()
            raise
        future.add_done_callback(self._task_done)

    def _task_done(self, _future: Future[None] | None = None) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def drain(self, timeout: float) -> None:
        """Wait up to `timeout` for accepted requests to finish, then drop any still queued."""
        # Requests already accepted get their answers out before `offline`, within the timeout.
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, timeout)
        with self._lock:
            worker = self._worker
        if worker is not None:
            worker.shutdown(wait=False, cancel_futures=True)
