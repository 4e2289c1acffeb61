"""The site configuration of one hall: services, windows, staff, thresholds and the broker.

Every model forbids unknown keys, so a misspelt key is an error that names its path rather than a
setting silently ignored. Cross-references (a window's services, a staff member's windows) are
checked once the whole site is read.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from firmware_config.bridge import BridgeConfig
from firmware_config.broker_tls import ClientTlsConfig, TlsListenerConfig
from firmware_config.camera import CameraConfig, check_cameras
from firmware_config.catalogue import ServiceGuide, check_catalogue
from firmware_config.console import ConsoleConfig
from firmware_config.kiosk import KioskConfig, check_kiosks
from firmware_config.line import LineConfig, check_lines
from firmware_config.network_devices import NetworkDeviceConfig, check_network_devices
from firmware_config.voice import VoiceConfig, check_voice
from hall_bus.contract import PriorityClass

# Older versions are migrated on load (firmware_config/migrations.py).
CONFIG_VERSION = 2

Name = Annotated[str, Field(pattern=r"^[a-z0-9_-]+$", min_length=1, max_length=64)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokerConfig(StrictModel):
    host: str = Field(default="127.0.0.1", description="Broker address; loopback for one machine.")
    port: int = Field(
        default=18830,
        ge=1,
        le=65535,
        description="Broker port. The default avoids 1883 so a system broker can coexist.",
    )
    username: str = Field(default="hall", min_length=1, description="MQTT user of the daemons.")
    password: str = Field(default="hall-demo", min_length=1, description="MQTT password.")
    keepalive_s: int = Field(default=30, ge=5, le=600, description="MQTT keepalive.")
    reconnect_min_s: float = Field(default=0.5, gt=0, le=60, description="First reconnect delay.")
    reconnect_max_s: float = Field(
        default=30.0, gt=0, le=600, description="Longest reconnect delay."
    )
    credentials_dir: Path | None = Field(
        default=None,
        description="Folder of per-account password files `<account>.password` (mode 0600), "
        "made by `hall config mosquitto`: every daemon and device logs in as its own account "
        "and the ACL limits it to its own topics (docs/deployment-security.md). None: every "
        "daemon shares username/password, for development and `hall demo` only.",
    )
    tls: ClientTlsConfig | None = Field(
        default=None, description="Connect over TLS (a device on the hall LAN)."
    )
    tls_listener: TlsListenerConfig | None = Field(
        default=None, description="A TLS listener for LAN devices in the rendered Mosquitto config."
    )


class ServiceConfig(StrictModel):
    id: Name
    prefix: str = Field(pattern=r"^[A-Z]{1,2}$", description="Ticket number prefix, e.g. A.")
    name_zh: str = Field(min_length=1, max_length=40)
    name_en: str = Field(min_length=1, max_length=80)
    expected_service_min: float = Field(
        default=10.0,
        gt=0,
        le=240,
        description="Service time used for wait estimates until the day has its own figures.",
    )
    daily_limit: int = Field(default=999, ge=1, le=9999, description="Tickets per business day.")


class WindowServiceConfig(StrictModel):
    service: Name
    priority: int = Field(
        default=1,
        ge=1,
        le=9,
        description="1 = the window's main service; higher numbers are served after it.",
    )


class WindowConfig(StrictModel):
    id: Name
    number: int = Field(ge=1, le=999, description="The number on the sign above the window.")
    name_zh: str = Field(min_length=1, max_length=40)
    name_en: str = Field(min_length=1, max_length=80)
    zone: Name = Field(default="floor1", description="Hall area (floor) for voice and screens.")
    services: list[WindowServiceConfig] = Field(min_length=1)

    @property
    def comprehensive(self) -> bool:
        return len(self.services) > 1


class StaffConfig(StrictModel):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="Staff (work) number.")
    name: str = Field(min_length=1, max_length=20)
    title: str = Field(default="窗口工作人员", max_length=40)
    windows: list[Name] = Field(
        default_factory=list, description="Windows this person may log in at; empty means any."
    )


class PriorityPolicy(StrictModel):
    """How tickets are ordered at a window.

    A waiting ticket's score is its waiting time plus its class bonus minus the window's penalty
    for the ticket's service; the highest score is called. Because waiting time keeps growing while
    bonuses are bounded, no ticket waits forever behind later arrivals (starvation-free).
    """

    appointment_bonus_s: int = Field(default=600, ge=0, le=86400)
    elderly_disabled_bonus_s: int = Field(default=900, ge=0, le=86400)
    green_channel_bonus_s: int = Field(default=3600, ge=0, le=86400)
    window_priority_step_s: int = Field(
        default=600,
        ge=0,
        le=86400,
        description="Penalty per priority step below a window's main service.",
    )

    def bonus_s(self, priority_class: PriorityClass) -> int:
        return {
            PriorityClass.NORMAL: 0,
            PriorityClass.APPOINTMENT: self.appointment_bonus_s,
            PriorityClass.ELDERLY_DISABLED: self.elderly_disabled_bonus_s,
            PriorityClass.GREEN_CHANNEL: self.green_channel_bonus_s,
        }[priority_class]


class Thresholds(StrictModel):
    long_wait_min: float = Field(default=30, gt=0, le=1440, description="Waiting longer alerts.")
    long_service_min: float = Field(default=30, gt=0, le=1440, description="Serving longer alerts.")
    window_idle_min: float = Field(
        default=5, gt=0, le=1440, description="Open window calling nobody while people wait."
    )
    staff_absent_min: float = Field(default=5, gt=0, le=1440, description="Seat empty while open.")
    check_interval_s: float = Field(default=5, gt=0, le=300, description="How often to check.")


class RatingPolicy(StrictModel):
    late_rating_limit_h: float = Field(
        default=72, gt=0, le=24 * 30, description="Late ratings are accepted for this long."
    )


class SiteConfig(StrictModel):
    version: int = Field(default=CONFIG_VERSION, ge=1, le=CONFIG_VERSION)
    hall_id: Name
    name_zh: str = Field(min_length=1, max_length=60)
    name_en: str = Field(min_length=1, max_length=120)
    timezone: str = Field(default="Asia/Shanghai")
    opening_time: time = Field(
        default=time(8, 30), description="Business day starts (and ticket counters reset) here."
    )
    closing_time: time = Field(default=time(17, 30))
    data_dir: Path = Field(default=Path("/var/lib/hall"), description="Where SQLite files live.")
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    services: list[ServiceConfig] = Field(min_length=1)
    windows: list[WindowConfig] = Field(min_length=1)
    staff: list[StaffConfig] = Field(default_factory=list)
    priority: PriorityPolicy = Field(default_factory=PriorityPolicy)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    ratings: RatingPolicy = Field(default_factory=RatingPolicy)
    catalogue: list[ServiceGuide] = Field(
        default_factory=list, description="Service guide shown at kiosks (catalogue.py)."
    )
    kiosks: list[KioskConfig] = Field(
        default_factory=list, description="Touchscreen kiosks (firmware_config/kiosk.py)."
    )
    citizen_id_key_file: Path | None = Field(
        default=None,
        description="File holding the hall's citizen-ID key (one line, at least 16 characters), "
        "shared with the booking backend: kiosks check citizens in by ID card with a keyed "
        "digest of the number (docs/citizen-id-digest.md). None: check-in by code only.",
    )
    lines: list[LineConfig] = Field(
        default_factory=list, description="RS-485 lines and devices (firmware_config/line.py)."
    )
    voice: VoiceConfig = Field(default_factory=VoiceConfig, description="Voice announcer.")
    bridge: BridgeConfig | None = Field(
        default=None, description="Link to the central backend; none: the hall runs alone."
    )
    cameras: list[CameraConfig] = Field(
        default_factory=list, description="Supervision cameras (firmware_config/camera.py)."
    )
    console: ConsoleConfig = Field(
        default_factory=ConsoleConfig, description="Manager web console (console.py)."
    )
    network_devices: list[NetworkDeviceConfig] = Field(
        default_factory=list,
        description="Pads and LED screens that speak MQTT themselves "
        "(firmware_config/network_devices.py).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _cross_check(self) -> Self:
        _unique("services", [s.id for s in self.services], "id")
        _unique("services", [s.prefix for s in self.services], "prefix")
        _unique("windows", [w.id for w in self.windows], "id")
        _unique("windows", [w.number for w in self.windows], "number")
        _unique("staff", [s.id for s in self.staff], "id")
        service_ids = {s.id for s in self.services}
        window_ids = {w.id for w in self.windows}
        for index, window in enumerate(self.windows):
            seen: set[str] = set()
            for j, entry in enumerate(window.services):
                if entry.service not in service_ids:
                    raise ValueError(
                        f"windows.{index}.services.{j}.service: unknown service {entry.service!r}"
                    )
                if entry.service in seen:
                    raise ValueError(
                        f"windows.{index}.services.{j}.service: {entry.service!r} listed twice"
                    )
                seen.add(entry.service)
        for index, person in enumerate(self.staff):
            for j, window_id in enumerate(person.windows):
                if window_id not in window_ids:
                    raise ValueError(f"staff.{index}.windows.{j}: unknown window {window_id!r}")
        if self.opening_time >= self.closing_time:
            raise ValueError("opening_time must be before closing_time")
        served = {entry.service for w in self.windows for entry in w.services}
        for index, service in enumerate(self.services):
            if service.id not in served:
                raise ValueError(f"services.{index}: no window serves {service.id!r}")
        check_catalogue(self)
        check_kiosks(self)
        check_lines(self.lines, window_ids)
        check_cameras(self.cameras, window_ids)
        check_network_devices(self.network_devices, window_ids)
        check_voice(self)
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def service(self, service_id: str) -> ServiceConfig | None:
        return next((s for s in self.services if s.id == service_id), None)

    def window(self, window_id: str) -> WindowConfig | None:
        return next((w for w in self.windows if w.id == window_id), None)

    def staff_member(self, staff_id: str) -> StaffConfig | None:
        return next((s for s in self.staff if s.id == staff_id), None)


def _unique(section: str, values: list[object], key: str) -> None:
    seen: set[object] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise ValueError(f"{section}.{index}.{key}: duplicate {value!r}")
        seen.add(value)
