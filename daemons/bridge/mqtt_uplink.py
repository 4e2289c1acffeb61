"""The MQTT uplink: outbox records published to a central broker (TLS, the hall's own account).

Each record is one QoS 1 message on `hall/<hall_id>/bridge/uplink`, JSON of `UplinkRecord`, in
outbox order. A batch counts as delivered when the broker has acknowledged every message of it;
the consumer behind the broker de-duplicates by `event_id`, as the HTTPS backend does, because a
batch interrupted by a crash is published again.
"""

from __future__ import annotations

import ssl
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from daemons.bridge.https_uplink import UplinkError
from firmware_config.bridge import MqttUplinkConfig
from hall_bus import topics
from hall_bus.contract.bridge import UplinkRecord, UplinkResult

# Inflight window of the uplink connection: the broker acknowledges these many at a time.
MAX_INFLIGHT = 100


def uplink_topic(hall_id: str) -> str:
    return topics.Endpoint(hall_id, "bridge", "uplink").base


class MqttUplink:
    def __init__(self, hall_id: str, config: MqttUplinkConfig) -> None:
        self.hall_id = hall_id
        self.config = config
        self.topic = uplink_topic(hall_id)
        password = config.password_file.read_text(encoding="utf-8").strip()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"hall-{hall_id}-uplink",
            clean_session=True, protocol=mqtt.MQTTv311,
        )
        self._client.username_pw_set(config.username, password)
        self._client.max_inflight_messages_set(MAX_INFLIGHT)
        if config.ca_file is not None:
            context = ssl.create_default_context(cafile=str(config.ca_file))
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            self._client.tls_set_context(context)
        self._lock = threading.Lock()
        self._started = False

    def _ensure_connected(self) -> None:
        with self._lock:
            if not self._started:
                try:
                    self._client.connect(self.config.host, self.config.port, keepalive=30)
                except (OSError, ssl.SSLError) as exc:
                    raise UplinkError(f"central broker {self.config.host}: {exc}") from exc
                # paho reconnects by itself from here on; a failed publish is retried by the
                # delivery loop, which only counts what the broker acknowledged.
                self._client.loop_start()
                self._started = True
        deadline = time.monotonic() + self.config.timeout_s
        while not self._client.is_connected():
            if time.monotonic() > deadline:
                raise UplinkError(f"central broker {self.config.host}: not connected")
            time.sleep(0.05)

    def upload(self, records: list[UplinkRecord]) -> UplinkResult:
        self._ensure_connected()
        infos = [
            self._client.publish(self.topic, record.model_dump_json(), qos=1)
            for record in records
        ]
        deadline = time.monotonic() + self.config.timeout_s
        for info in infos:
            if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
                raise UplinkError(f"publish refused: {mqtt.error_string(info.rc)}")
            while not info.is_published():
                if time.monotonic() > deadline:
                    raise UplinkError("central broker did not acknowledge the batch in time")
                time.sleep(0.01)
        return UplinkResult(accepted=[r.event_id for r in records], duplicates=[])

    def close(self) -> None:
        with self._lock:
            if self._started:
                self._client.disconnect()
                self._client.loop_stop()
                self._started = False
