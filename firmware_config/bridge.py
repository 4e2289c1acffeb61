"""Site configuration of the bridge to the central approval backend (`bridge:` in the site YAML).

The hall key is read from a file, never written in the site YAML, so that the YAML can be shared
and checked into version control while the key stays on the controller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpsUplinkConfig(_Strict):
    base_url: str = Field(
        description="Backend address, e.g. https://backend.example.gov.cn/hall-api; "
        "plain http is accepted only for a loopback address."
    )
    key_file: Path = Field(description="File holding this hall's HMAC key (one line).")
    ca_file: Path | None = Field(
        default=None,
        description="CA certificate(s) that signed the backend's certificate; "
        "default: the system's trusted CAs.",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Per request.")

    @field_validator("base_url")
    @classmethod
    def _secure_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"base_url {value!r} must be an https:// address")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            raise ValueError("plain http is allowed only on loopback; use https")
        return value.rstrip("/")


class CentralBrokerConfig(_Strict):
    """The city's central MQTT broker (a clustered EMQX or VerneMQ in production) that the hall's
    Mosquitto bridges to: the hall's events and states go up, commands for the hall come down."""

    host: str = Field(min_length=1, description="Central broker address (name on its certificate).")
    port: int = Field(default=8883, ge=1, le=65535, description="Its MQTT-over-TLS port.")
    username: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="This hall's own account on the central broker (one per hall).",
    )
    password_file: Path = Field(description="File holding that account's password (one line).")
    ca_file: Path | None = Field(
        default=None,
        description="CA that signed the central broker's certificate. Without it the link is "
        "plain TCP, which only a loopback address may use.",
    )
    keepalive_s: int = Field(default=60, ge=5, le=600, description="Keepalive of the link.")

    @model_validator(mode="after")
    def _tls_off_loopback(self) -> CentralBrokerConfig:
        if self.ca_file is None and self.host not in _LOOPBACK:
            raise ValueError("central_broker: set ca_file; plain MQTT is allowed only on loopback")
        return self



class MqttUplinkConfig(_Strict):
    """Records published to a central MQTT broker instead of posted to the backend."""

    host: str = Field(min_length=1, description="Central broker address (name on its certificate).")
    port: int = Field(default=8883, ge=1, le=65535, description="Its MQTT-over-TLS port.")
    username: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="This hall's own account there."
    )
    password_file: Path = Field(description="File holding that account's password (one line).")
    ca_file: Path | None = Field(
        default=None, description="CA of the broker's certificate; without it, plain TCP on "
        "loopback only.",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Wait for PUBACKs this long.")

    @model_validator(mode="after")
    def _tls_off_loopback(self) -> MqttUplinkConfig:
        if self.ca_file is None and self.host not in _LOOPBACK:
            raise ValueError("mqtt: set ca_file; plain MQTT is allowed only on loopback")
        return self


class BridgeConfig(_Strict):
    uplink: Literal["https", "mqtt"] = Field(
        default="https", description="How records go up: posted to the backend, or published "
        "to a central broker."
    )
    https: HttpsUplinkConfig | None = Field(
        default=None,
        description="The backend's HTTPS API: the uplink when `uplink: https`, and where "
        "downlink documents come from in either case.",
    )
    mqtt: MqttUplinkConfig | None = Field(default=None, description="Needed for `uplink: mqtt`.")
    batch_size: int = Field(default=200, ge=1, le=1000, description="Events per upload.")
    retry_min_s: float = Field(default=1.0, gt=0, le=600, description="First retry delay.")
    retry_max_s: float = Field(default=300.0, gt=0, le=3600, description="Longest retry delay.")
    poll_downlinks_s: float = Field(
        default=60.0, gt=0, le=3600, description="How often to ask for new downlink documents."
    )
    rating_upload_limit_h: float = Field(
        default=24.0,
        gt=0,
        le=24 * 30,
        description="A rating must reach the backend within this long after it was given; "
        "one still waiting past it is flagged overdue (and still sent).",
    )
    state_interval_s: float = Field(
        default=5.0, gt=0, le=600, description="How often the retained bridge state is refreshed."
    )
    db: Path | None = Field(default=None, description="Outbox SQLite file; default in data_dir.")
    keep_delivered_days: float = Field(
        default=7.0, ge=0, le=366,
        description="Confirmed records stay in the outbox this long (for inquiries), then go.",
    )
    central_broker: CentralBrokerConfig | None = Field(
        default=None,
        description="Bridge the hall's Mosquitto to a central broker (many halls, one city); "
        "`hall config mosquitto` renders the bridge section.",
    )

    @model_validator(mode="after")
    def _uplink_configured(self) -> BridgeConfig:
        if self.uplink == "https" and self.https is None:
            raise ValueError("uplink https needs the `https` section")
        if self.uplink == "mqtt" and self.mqtt is None:
            raise ValueError("uplink mqtt needs the `mqtt` section")
        return self
