"""The hall bus client: one MQTT 3.1.1 connection per daemon, on top of paho-mqtt 2.x.

It carries the bus contract so that daemons do not have to: availability (a retained last will
`offline` on `hall/<hall>/<node>/status`, `online` on every connect, `offline` on a clean stop),
retained state republished after every reconnect (a broker that lost everything is rebuilt by its
clients), typed subscriptions that de-duplicate by `id`, and request/response with deadlines.

Reconnecting is ours, not paho's: paho's `reconnect_on_failure` is off, so its network thread ends
with the connection and a supervisor thread decides, at a paced and logged rhythm, when to try
again (STYLE.md rule 4).

`connected` (and `start()`) mean more than an accepted CONNECT: the broker has also confirmed every
subscription, so a server that reports itself up cannot miss its first request.

Threads. paho's network thread runs every subscription handler, so handlers must be quick and must
never call `request()`: the answer would have to arrive on the very thread that waits for it. The
supervisor runs `on_connect_hooks`. `serve()` handlers run on a worker thread (one per client by
default, so a server executes its requests one at a time, in arrival order).

Request/response lives in two helper modules: request_server.py checks and executes served
requests, responses.py matches answers to the `request()` calls waiting for them.
"""

from __future__ import annotations

import functools
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from hall_bus import topics
from hall_bus.broker_address import BrokerAddress
from hall_bus.contract import Message, Request, Response
from hall_bus.contract.channels import Channel
from hall_bus.credentials import login_for
from hall_bus.dedup import SeenIds
from hall_bus.ids import utc_now
from hall_bus.reconnect import Backoff
from hall_bus.request_server import RawHandler as RawHandler
from hall_bus.request_server import RequestHandler as RequestHandler
from hall_bus.request_server import RequestServer, ServeWorkers, StoredAnswer, call_handler
from hall_bus.request_server import describe_error as describe_error
from hall_bus.responses import PendingResponses

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)
T = TypeVar("T")  # a channel's payload: a model, or `str` for a status
P = ParamSpec("P")
Payload = Message | str | bytes

# Bounded so that a long broker outage cannot eat the memory of a small controller; state is
# republished from memory on reconnect anyway, so what overflows is old events.
MAX_QUEUED_MESSAGES = 5000
STOP_TIMEOUT_S = 2.0
# A connection that lived this long was healthy: the next loss starts the backoff from the bottom.
# Shorter lives keep climbing, so two daemons that share a client id cannot kick each other off
# the broker at full speed forever.
STABLE_AFTER_S = 10.0


class BusError(Exception):
    """Base of the errors the bus client raises."""


class BusConnectError(BusError):
    """The broker could not be reached (or refused us) within the time allowed."""


class BusTimeout(BusError, TimeoutError):
    """No response arrived before the request's timeout."""


class _Event(Enum):
    CONNECTED = "connected"
    ENDED = "ended"
    STOP = "stop"


@dataclass
class _Subscription:
    topic_filter: str
    handler: RawHandler


def _encode(payload: Payload) -> bytes:
    if isinstance(payload, Message):
        return payload.to_json()
    if isinstance(payload, str):
        return payload.encode()
    return payload


def _never_raise(callback: Callable[P, None]) -> Callable[P, None]:
    # paho re-raises callback exceptions (suppress_exceptions is off), which would end its loop.
    @functools.wraps(callback)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            callback(*args, **kwargs)
        except Exception:
            log.exception("bus callback %s failed", callback.__name__)

    return guarded


class Delivery:
    """What became of one publish.

    Truthy if the message was accepted (sent, or queued until the reconnect) and, when the publish
    was asked to wait, acknowledged by the broker in time. `is_published()` can be polled later,
    e.g. by an outbox that forgets a message only once the broker has it.
    """

    __slots__ = ("_info", "_ok")

    def __init__(self, info: mqtt.MQTTMessageInfo | None, ok: bool) -> None:
        self._info = info
        self._ok = ok

    def __bool__(self) -> bool:
        return self._ok

    @property
    def accepted(self) -> bool:
        return self._info is not None

    def is_published(self) -> bool:
        """True once the broker acknowledged it (QoS 1) or it left the socket (QoS 0)."""
        try:
            return self._info is not None and self._info.is_published()
        except (RuntimeError, ValueError):
            return False

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` for the acknowledgement; False if it did not come or cannot."""
        if self._info is None:
            return False
        try:
            self._info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):
            return False
        return self.is_published()


def _disable_nagle(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    # Bus traffic is small request/response pairs. With Nagle's algorithm on, a small write waits
    # for the peer's delayed ACK and every round trip costs about 40 ms per hop.
    if getattr(sock, "family", None) in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class BusClient:
    """One daemon's connection to the hall bus. Start it, use it, stop it (or use `with`)."""

    def __init__(
        self,
        hall_id: str,
        node: str,
        broker: BrokerAddress,
        *,
        client_id: str | None = None,
        clean_session: bool = False,
        announce: bool = True,
        account: str | None = None,
    ) -> None:
        """`announce=False` is for short-lived tools: no last will, no `online`/`offline`, so a
        one-off command leaves no retained status behind for a node that will never return.

        With the site's `broker.credentials_dir` the client logs in as `account` (default: the
        node name) with that account's password, and the broker's ACL holds it to its own
        topics (firmware_config/broker_accounts.py); a missing password file raises
        CredentialsError here, before anything connects."""
        self.endpoint = topics.Endpoint(hall_id, node)
        self.announce = announce
        self.broker = broker
        self.client_id = client_id or f"{hall_id}-{node}"
        self.on_connect_hooks: list[Callable[[], None]] = []
        """Run on the supervisor thread after every (re)connect, once subscriptions are live."""

        self._mqtt = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        self._mqtt.username_pw_set(*login_for(broker, account or node))
        if broker.tls is not None:
            tls = broker.tls
            self._mqtt.tls_set(
                ca_certs=str(tls.ca_file),
                certfile=None if tls.cert_file is None else str(tls.cert_file),
                keyfile=None if tls.key_file is None else str(tls.key_file),
            )
        if announce:
            self._mqtt.will_set(self.endpoint.status, topics.OFFLINE, qos=1, retain=True)
        self._mqtt.max_queued_messages_set(MAX_QUEUED_MESSAGES)
        self._mqtt.on_connect = self._on_connect
        self._mqtt.on_disconnect = self._on_disconnect
        self._mqtt.on_message = self._on_message
        self._mqtt.on_subscribe = self._on_subscribe
        self._mqtt.on_socket_open = _disable_nagle

        self._lock = threading.Lock()
        self._state_lock = threading.Lock()  # keeps remembered state and its publish in one order
        self._suback_lock = threading.Lock()  # a SUBACK may beat us to registering its waiter
        self._response_lock = threading.Lock()
        self._subscriptions: list[_Subscription] = []
        self._states: dict[str, bytes] = {}
        self._suback_waiters: dict[int, tuple[str, threading.Event | None]] = {}
        self._replay_mids: set[int] = set()
        self._response_subs: dict[str, threading.Event] = {}
        self._responses = PendingResponses()
        self._serving = ServeWorkers(thread_name_prefix=f"bus-{self.client_id}-serve")

        self._events: queue.SimpleQueue[_Event] = queue.SimpleQueue()
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._stopped = False  # stop() was called
        self._closed = False  # stop() has let the last answers out; publishing now is a mistake
        self._last_failure = "not tried yet"
        self._queue_full_warned = False

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self, wait: float | None = 10.0) -> None:
        """Connect in the background; with `wait`, return once connected (subscriptions confirmed
        by the broker) or raise BusConnectError.

        On failure the client is stopped, so no thread keeps knocking at the broker.
        """
        with self._lock:
            if self._supervisor is not None or self._stopped:
                raise RuntimeError("a BusClient can be started only once")
            self._supervisor = threading.Thread(
                target=self._supervise, name=f"bus-{self.client_id}", daemon=True
            )
        self._supervisor.start()
        if wait is None:
            return
        if not self._connected.wait(wait):
            reason = self._last_failure
            self.stop()
            raise BusConnectError(
                f"no connection to the broker at {self.broker.host}:{self.broker.port} "
                f"within {wait:g} s: {reason}"
            )

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Finish queued requests, say `offline`, disconnect. Each step waits at most `timeout`."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._stopping.set()
        self._serving.drain(timeout)
        self._closed = True
        # paho's own view, not `connected`: a clean DISCONNECT cancels the last will, so `offline`
        # must be said whenever the broker has accepted us, even with SUBACKs still on the way.
        if self.announce and self._mqtt.is_connected():
            info = self._mqtt.publish(self.endpoint.status, topics.OFFLINE, qos=1, retain=True)
            if not Delivery(info, True).wait(timeout):
                log.warning("bus %s: `offline` not confirmed before disconnecting", self.client_id)
        # Even before a CONNACK: a socket being set up must be closed, not left to linger.
        self._mqtt.disconnect()
        self._events.put(_Event.STOP)
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout)

    def __enter__(self) -> BusClient:
        if self._supervisor is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._connected.wait(timeout)

    # --- publishing -----------------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: Payload,
        *,
        retain: bool = False,
        qos: int = 1,
        wait: float | None = None,
    ) -> Delivery:
        """Publish; never raises for connectivity. With `wait`, wait that long for the PUBACK.

        The result is truthy if the message was sent or queued for sending after the reconnect
        and, when `wait` is given, acknowledged by the broker within `wait` seconds.
        """
        info = self._hand_over(topic, _encode(payload), retain=retain, qos=qos)
        return self._settle(info, wait)

    def publish_state(
        self, topic: str, payload: Payload, *, wait: float | None = None
    ) -> Delivery:
        """Publish retained state and remember it: it is republished after every reconnect."""
        data = _encode(payload)
        with self._state_lock:
            with self._lock:
                self._states[topic] = data
            info = self._hand_over(topic, data, retain=True, qos=1)
        return self._settle(info, wait)

    def publish_to(
        self, channel: Channel[T], message: T, *, wait: float | None = None, **names: str
    ) -> Delivery:
        """Publish on a channel of the registry (hall_bus/contract/channels.py): its topic in
        this hall with `names` filled in, retained (and republished after reconnects) exactly
        when the channel is state, and only with the channel's payload model."""
        if not isinstance(message, channel.payload):
            raise TypeError(f"{channel.pattern} carries {channel.payload.__name__}, "
                            f"not {type(message).__name__}")
        topic = channel.topic(self.endpoint.hall_id, **names)
        payload = cast(Payload, message)
        if channel.retained:
            return self.publish_state(topic, payload, wait=wait)
        return self.publish(topic, payload, wait=wait)

    def subscribe_to(
        self, channel: Channel[M], handler: Callable[[str, M], None], **names: str
    ) -> None:
        """`subscribe_model` on a channel of the registry; levels not named match any name."""
        self.subscribe_model(channel.filter(self.endpoint.hall_id, **names), channel.payload,
                             handler)

    def clear_retained(self, topic: str, *, wait: float | None = None) -> Delivery:
        """Remove the broker's retained message on `topic` and forget any state kept for it."""
        with self._state_lock:
            with self._lock:
                self._states.pop(topic, None)
            info = self._hand_over(topic, b"", retain=True, qos=1)
        return self._settle(info, wait)

    def _hand_over(
        self, topic: str, data: bytes, *, retain: bool, qos: int
    ) -> mqtt.MQTTMessageInfo | None:
        """Give the message to paho; None if it will never be sent."""
        if self._closed:
            log.warning("bus %s: publish to %s after stop() dropped", self.client_id, topic)
            return None
        info = self._mqtt.publish(topic, data, qos=qos, retain=retain)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            if not self._queue_full_warned:
                self._queue_full_warned = True
                log.warning(
                    "bus %s: %d messages wait for the broker; dropping new ones (first: %s)",
                    self.client_id, MAX_QUEUED_MESSAGES, topic,
                )
            return None
        self._queue_full_warned = False
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos > 0:
            # paho keeps a QoS 1 message published offline and sends it after the reconnect, but
            # flags it NO_CONN, which would make wait_for_publish raise instead of waiting for it.
            info.rc = MQTTErrorCode.MQTT_ERR_SUCCESS
        elif info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.debug("bus %s: publish to %s: %s", self.client_id, topic,
                      mqtt.error_string(info.rc))
            return None
        return info

    @staticmethod
    def _settle(info: mqtt.MQTTMessageInfo | None, wait: float | None) -> Delivery:
        delivery = Delivery(info, info is not None)
        if info is not None and wait is not None:
            delivery = Delivery(info, delivery.wait(wait))
        return delivery

    # --- subscribing ----------------------------------------------------------------------------

    def subscribe(self, topic_filter: str, handler: RawHandler) -> None:
        """Call `handler(topic, payload)` for every message matching `topic_filter` (QoS 1)."""
        self._add_subscription(topic_filter, handler)

    def subscribe_model(
        self, topic_filter: str, model: type[M], handler: Callable[[str, M], None]
    ) -> None:
        """Like `subscribe`, with the payload parsed into `model`; duplicates by `id` dropped.

        An invalid payload is logged with its topic and dropped; it never reaches `handler`.
        """
        seen = SeenIds()

        def on_payload(topic: str, payload: bytes) -> None:
            try:
                message = model.model_validate_json(payload)
            except ValidationError as exc:
                log.warning("dropped invalid %s on %s: %s", model.__name__, topic,
                            describe_error(exc))
                return
            if not seen.add(message.id):
                log.debug("dropped duplicate %s on %s", message.id, topic)
                return
            handler(topic, message)

        self._add_subscription(topic_filter, on_payload)

    def _add_subscription(self, topic_filter: str, handler: RawHandler) -> threading.Event:
        """Register a handler; the event is set once the broker has confirmed the filter."""
        with self._lock:
            known = any(s.topic_filter == topic_filter for s in self._subscriptions)
            self._subscriptions.append(_Subscription(topic_filter, handler))
        acked = threading.Event()
        if known:
            acked.set()
        else:
            self._send_subscribe(topic_filter, acked)
        return acked

    def _send_subscribe(self, topic_filter: str, acked: threading.Event | None) -> int | None:
        with self._suback_lock:
            rc, mid = self._mqtt.subscribe(topic_filter, qos=1)
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
                self._suback_waiters[mid] = (topic_filter, acked)
                return mid
        # Offline: the subscription is replayed on connect, before `connected` turns true.
        if acked is not None:
            acked.set()
        return None

    # --- request / response: server -------------------------------------------------------------

    def serve(
        self,
        endpoint: topics.Endpoint,
        actions: dict[str, type[Request]],
        handler: RequestHandler,
        *,
        executor: Executor | None = None,
        stored: StoredAnswer | None = None,
    ) -> None:
        """Answer requests on `endpoint`: `handler(action, request)` returns the Response.

        Requests run on `executor`, by default this client's single worker thread, so one client's
        handlers never run concurrently. Unknown actions and invalid payloads are answered with an
        error, a repeated request id is not executed again (the first answer stands), and a request
        past its deadline is not executed but answered `deadline_expired`: the requester has
        normally given up, but if its clock runs behind ours it learns why instead of timing out.
        With `stored(action, request_id)`, a request past its deadline is first looked up in the
        server's durable log: one executed before a restart always gets its real answer.
        """
        server = RequestServer(self.publish, endpoint, dict(actions), handler, stored)
        worker = executor or self._serving.default()

        def enqueue(topic: str, payload: bytes) -> None:
            if self._stopping.is_set():
                return
            self._serving.submit(worker, server.handle, topic, payload)

        self._add_subscription(endpoint.any_request, enqueue)

    # --- request / response: client -------------------------------------------------------------

    def request(
        self, endpoint: topics.Endpoint, action: str, request: Request, timeout: float = 5.0
    ) -> Response:
        """Send `request` to `endpoint` and wait for its answer; raises BusTimeout.

        A request whose deadline was left at its default gets `now + timeout`, so the responder
        does not act on it after we have given up. Safe to call from several threads at once.
        """
        give_up = time.monotonic() + timeout
        if "deadline" not in request.model_fields_set:
            request = request.model_copy(
                update={"deadline": utc_now() + timedelta(seconds=timeout)}
            )
        topic = endpoint.request(action)
        self._response_subscription(endpoint).wait(timeout)
        with self._responses.expect(request.id) as waiter:
            self.publish(topic, request)
            response = waiter.wait(max(0.0, give_up - time.monotonic()))
            if response is None:
                raise BusTimeout(
                    f"no answer to {action} {request.id} from {endpoint.base} "
                    f"within {timeout:g} s"
                )
            return response

    def _response_subscription(self, endpoint: topics.Endpoint) -> threading.Event:
        with self._response_lock:
            acked = self._response_subs.get(endpoint.any_response)
            if acked is None:
                acked = self._add_subscription(endpoint.any_response, self._responses.on_response)
                self._response_subs[endpoint.any_response] = acked
            return acked

    # --- connection supervisor ------------------------------------------------------------------

    def _supervise(self) -> None:
        backoff = Backoff(self.broker.reconnect_min_s,
                          max(self.broker.reconnect_min_s, self.broker.reconnect_max_s))
        failed_attempts = 0
        while not self._stopping.is_set():
            up_since = self._attempt(failed_attempts)
            if self._stopping.is_set():
                break
            if up_since is None:
                failed_attempts += 1
                delay = backoff.next_delay()
                log.warning("bus %s: cannot connect to %s:%d (%s); attempt %d, next in %.1f s",
                            self.client_id, self.broker.host, self.broker.port,
                            self._last_failure, failed_attempts, delay)
            else:
                failed_attempts = 0
                if time.monotonic() - up_since >= STABLE_AFTER_S:
                    backoff.reset()
                delay = backoff.next_delay()
                log.warning("bus %s: %s; reconnecting in %.1f s",
                            self.client_id, self._last_failure, delay)
            self._stopping.wait(delay)

    def _attempt(self, failed_before: int) -> float | None:
        """One connection from connect to its end; returns when it came up, None if it never did."""
        while True:  # events of the previous connection mean nothing to this one
            try:
                self._events.get_nowait()
            except queue.Empty:
                break
        try:
            self._mqtt.connect(self.broker.host, self.broker.port, self.broker.keepalive_s)
        except Exception as exc:  # socket errors mostly; anything else must not end the retries
            self._last_failure = str(exc) or type(exc).__name__
            return None
        if self._stopping.is_set():
            self._mqtt.disconnect()
            return None
        self._mqtt.loop_start()
        up_since: float | None = None
        while (event := self._events.get()) is _Event.CONNECTED:
            up_since = time.monotonic()
            if failed_before:
                log.info("bus %s: connected to %s:%d after %d failed attempts",
                         self.client_id, self.broker.host, self.broker.port, failed_before)
            for hook in list(self.on_connect_hooks):
                try:
                    hook()
                except Exception:
                    log.exception("bus %s: on-connect hook %r failed", self.client_id, hook)
        log.debug("bus %s: connection ended (%s)", self.client_id, event.value)
        self._mqtt.loop_stop()
        self._connected.clear()
        return up_since

    # --- paho callbacks (network thread) --------------------------------------------------------

    @_never_raise
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._last_failure = f"broker refused the connection: {reason_code}"
            self._events.put(_Event.ENDED)
            return
        with self._lock:
            filters = list(dict.fromkeys(s.topic_filter for s in self._subscriptions))
            states = list(self._states.items())
        # Replayed even when the broker kept our session: it may have restarted without it.
        replay = {mid for topic_filter in filters
                  if (mid := self._send_subscribe(topic_filter, None)) is not None}
        if self.announce:
            self._mqtt.publish(self.endpoint.status, topics.ONLINE, qos=1, retain=True)
        for topic, payload in states:
            self._mqtt.publish(topic, payload, qos=1, retain=True)
        if not replay:
            self._mark_up()
            return
        # SUBACKs are handled on this same thread, so none can have slipped in before this.
        with self._suback_lock:
            self._replay_mids = replay
        self._last_failure = "connected, but the broker did not confirm the subscriptions"

    def _mark_up(self) -> None:
        # `connected` promises live subscriptions: a server that says it is up must not miss
        # the first request because its SUBSCRIBE was still on the way.
        with self._response_lock:
            for acked in self._response_subs.values():
                acked.set()
        self._connected.set()
        self._events.put(_Event.CONNECTED)

    @_never_raise
    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._connected.is_set():
            self._last_failure = f"connection lost ({reason_code})"
        self._connected.clear()
        with self._suback_lock:
            waiters = list(self._suback_waiters.values())
            self._suback_waiters.clear()
            self._replay_mids.clear()
        # Unconfirmed subscriptions are replayed on the next connect, before later publishes.
        for _, acked in waiters:
            if acked is not None:
                acked.set()
        self._events.put(_Event.ENDED)

    @_never_raise
    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        topic = message.topic
        with self._lock:
            handlers = [s.handler for s in self._subscriptions
                        if mqtt.topic_matches_sub(s.topic_filter, topic)]
        for handler in handlers:
            call_handler(handler, topic, bytes(message.payload))

    @_never_raise
    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        with self._suback_lock:
            topic_filter, acked = self._suback_waiters.pop(mid, ("?", None))
            replayed = mid in self._replay_mids
            self._replay_mids.discard(mid)
            replay_done = replayed and not self._replay_mids
        if any(code.is_failure for code in reason_codes):
            log.warning("bus %s: broker refused the subscription to %s", self.client_id,
                        topic_filter)
        if acked is not None:
            acked.set()
        if replay_done:
            self._mark_up()
