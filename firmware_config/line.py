"""RS-485 lines of a hall: device profiles (per model) and each line's devices (per site).

A profile (`firmware_config/profiles/<name>.yaml`) says what a device model can do: its framing,
serial settings, address range, display geometry and character set. A line in the site config
lists the devices on one serial port; `check_lines` checks them against their profiles and the
site's windows once the whole site is read.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from firmware_config.usb_identity import UsbIdentity

PROFILE_DIR = Path(__file__).with_name("profiles")

Name = Annotated[str, Field(pattern=r"^[a-z0-9_-]+$", min_length=1, max_length=64)]
DeviceKind = Literal["window_strip", "hall_screen", "caller", "pad"]
Framing = Literal["reference", "onbon_bx", "aa_strip"]
Parity = Literal["none", "even", "odd"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceProfile(_Strict):
    kind: DeviceKind
    framing: Framing = Field(description="Wire framing; vendor framings are write only.")
    baud: int = Field(default=9600, ge=1200, le=921600)
    parity: Parity = "none"
    address_min: int = Field(ge=0, le=65534)
    address_max: int = Field(ge=0, le=65534)
    columns: int = Field(ge=4, le=512, description="Width in half cells (one CJK = 2).")
    rows: int = Field(ge=1, le=32)
    charset: Literal["gbk"] = "gbk"
    can_scroll: bool = False
    can_flash: bool = False


@cache
def load_profile(name: str) -> DeviceProfile:
    path = PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown device profile {name!r} (no {path.name} in {PROFILE_DIR})")
    try:
        return DeviceProfile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (ValidationError, yaml.YAMLError) as exc:
        raise ValueError(f"device profile {path.name}: {exc}") from exc


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


class LineDeviceConfig(_Strict):
    id: Name = Field(description="Device name on the bus: hall/<id>/<line>/<device>/...")
    profile: Name = Field(description="A file name (without .yaml) in firmware_config/profiles/.")
    address: int = Field(ge=0, le=65534, description="Address on the line, within the profile's.")
    window: Name | None = Field(
        default=None, description="The window it belongs to; none only for a hall screen."
    )


class PadPolicy(_Strict):
    reasons: list[str] = Field(
        default_factory=lambda: ["等候时间长", "服务态度差", "办事效率低", "一次性告知不到位"],
        max_length=8,
        description="Reasons offered after a bad rating (the pad has eight reason keys).",
    )
    timeout_s: float = Field(default=30, gt=0, le=600, description="Unanswered prompt: unrated.")
    min_interval_s: float = Field(default=0.5, ge=0, le=10, description="Faster presses ignored.")


class LineConfig(_Strict):
    id: Name = Field(description="Node name of the line daemon on the bus, e.g. line1.")
    port: str = Field(
        min_length=1,
        description="Serial device, socket://host:port (serial server), or sim:<name> for "
        "simulated devices on a pty in the data folder.",
    )
    usb: UsbIdentity | None = Field(
        default=None, description="The RS-485 adapter's USB identity, for the udev name "
        "/dev/hall/line-<id> (then `port: /dev/hall/line-<id>`).",
    )
    baud: int = Field(default=9600, ge=1200, le=921600)
    parity: Parity = "none"
    stop_bits: Literal[1, 2] = 1
    rs485: bool = Field(default=False, description="Kernel RS-485 mode (RTS switches direction).")
    turnaround_ms: float = Field(
        default=5, ge=0, le=500, description="Device's pause before it answers."
    )
    reply_timeout_ms: float = Field(
        default=50, gt=0, le=2000, description="Extra wait for an answer beyond its wire time."
    )
    offline_after: int = Field(default=3, ge=1, le=50, description="Missed answers: offline.")
    offline_poll_every: int = Field(
        default=10, ge=1, le=1000, description="Offline devices: polled once per this many cycles."
    )
    idle_pad_poll_every: int = Field(
        default=4, ge=1, le=100,
        description="Idle evaluation pads: polled once per this many cycles (a pad that prompts "
        "for a rating is polled every cycle).",
    )
    routine_share: float = Field(
        default=0.1, ge=0.05, le=0.5,
        description="Most of the line's time that routine writes (idle texts, waiting counts, "
        "refreshes) may take; calls and acknowledgements are not limited.",
    )
    notice: str = Field(default="", max_length=200, description="Hall screen scrolling notice.")
    pad: PadPolicy = Field(default_factory=PadPolicy)
    devices: list[LineDeviceConfig] = Field(min_length=1)


SIM_PREFIX = "sim:"


def resolve_port(port: str, data_dir: Path) -> str:
    """`sim:<name>` is a simulator's pty link, `<data_dir>/<name>.tty`; other ports are as given."""
    if port.startswith(SIM_PREFIX):
        return str(data_dir / f"{port.removeprefix(SIM_PREFIX)}.tty")
    return port


def check_lines(lines: list[LineConfig], window_ids: set[str]) -> None:
    """Cross-checks: unique line ids and ports, device ids, addresses, profiles and windows."""
    ports: dict[str, str] = {}
    line_ids: set[str] = set()
    for index, line in enumerate(lines):
        where = f"lines.{index}"
        if line.id in line_ids:
            raise ValueError(f"{where}.id: duplicate line {line.id!r}")
        line_ids.add(line.id)
        if line.port in ports:
            raise ValueError(
                f"{where}.port: {line.port} is already used by line {ports[line.port]!r}; "
                "one daemon owns one port"
            )
        ports[line.port] = line.id
        addresses: dict[int, str] = {}
        device_ids: set[str] = set()
        for j, device in enumerate(line.devices):
            at = f"{where}.devices.{j}"
            if device.id in device_ids:
                raise ValueError(f"{at}.id: duplicate device {device.id!r}")
            device_ids.add(device.id)
            if device.address in addresses:
                raise ValueError(
                    f"{at}.address: {device.address} is already used by "
                    f"{addresses[device.address]!r} on this line"
                )
            addresses[device.address] = device.id
            profile = load_profile(device.profile)
            if not profile.address_min <= device.address <= profile.address_max:
                raise ValueError(f"{at}.address: outside {profile.address_min}.."
                                 f"{profile.address_max} of profile {device.profile!r}")
            if profile.baud != line.baud or profile.parity != line.parity:
                raise ValueError(f"{at}.profile: {device.profile!r} runs at {profile.baud} "
                                 f"{profile.parity}, the line at {line.baud} {line.parity}")
            if profile.kind != "hall_screen" and device.window is None:
                raise ValueError(f"{at}.window: a {profile.kind} belongs to a window")
            if device.window is not None and device.window not in window_ids:
                raise ValueError(f"{at}.window: unknown window {device.window!r}")
