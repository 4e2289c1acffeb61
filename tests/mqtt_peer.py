"""A plain paho-mqtt 2 peer for broker tests: connects, subscribes, records what arrives.

The broker tests use it instead of the bus client so that they check the broker itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

# How long the broker may take to answer CONNECT, SUBSCRIBE or PUBLISH: generous, as a busy
# machine can stall a local Mosquitto for seconds; a healthy run waits milliseconds.
ANSWER_S = 15.0


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


class Peer:
    """One paho-mqtt 2 client on MQTT 3.1.1 that records what it receives."""

    def __init__(
        self, port: int, client_id: str, username: str | None = None,
        password: str | None = None, *, clean_session: bool = True,
    ) -> None:
        self.port = port
        self.messages: list[mqtt.MQTTMessage] = []
        self.reason: ReasonCode | None = None
        self.session_present = False
        self._answered = threading.Event()
        self._granted: dict[int, list[ReasonCode]] = {}
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
            protocol=mqtt.MQTTv311, reconnect_on_failure=False,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, message: self.messages.append(message)
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, _c: object, _u: object, flags: mqtt.ConnectFlags, reason: ReasonCode,
                    _p: object) -> None:
        self.reason = reason
        self.session_present = flags.session_present
        self._answered.set()

    def _on_subscribe(self, _c: object, _u: object, mid: int, reasons: list[ReasonCode],
                      _p: object) -> None:
        self._granted[mid] = reasons

    def connect(self) -> ReasonCode:
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        assert self._answered.wait(ANSWER_S), "no CONNACK"
        assert self.reason is not None
        return self.reason

    def subscribe(self, topic: str) -> None:
        _, mid = self.client.subscribe(topic, qos=1)
        assert mid is not None
        wait_until(lambda: mid in self._granted, ANSWER_S, f"SUBACK for {topic}")
        assert not self._granted[mid][0].is_failure, self._granted[mid]

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(ANSWER_S)

    def payloads(self, topic: str) -> list[bytes]:
        return [bytes(m.payload) for m in list(self.messages) if m.topic == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def peers() -> Iterator[Callable[..., Peer]]:
    made: list[Peer] = []

    def make(*args: object, **kwargs: object) -> Peer:
        peer = Peer(*args, **kwargs)  # type: ignore[arg-type]
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.close()
