"""Devices that speak MQTT themselves: network evaluation pads (tablets) and network LED screens.

They follow the MQTT device profiles in drivers/network/pad.py and drivers/network/screen.py and
have no daemon of their own on the controller: each is a node on the bus with its own broker
account (firmware_config/broker_accounts.py), so the site has to list them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[str, Field(pattern=r"^[a-z0-9_-]+$", min_length=1, max_length=64)]
NetworkDeviceKind = Literal["pad", "window_strip", "hall_screen"]


class NetworkDeviceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name = Field(description="Node name on the bus and the device's broker account.")
    kind: NetworkDeviceKind = Field(description="pad (drivers/network/pad.py) or a screen "
                                    "(drivers/network/screen.py).")
    window: Name | None = Field(
        default=None, description="The window it serves; none only for a hall screen."
    )


def check_network_devices(devices: list[NetworkDeviceConfig], window_ids: set[str]) -> None:
    """Cross-checks against the windows; raises ValueError naming the path."""
    seen: set[str] = set()
    for index, device in enumerate(devices):
        where = f"network_devices.{index}"
        if device.id in seen:
            raise ValueError(f"{where}.id: duplicate network device {device.id!r}")
        seen.add(device.id)
        if device.kind != "hall_screen" and device.window is None:
            raise ValueError(f"{where}.window: a network {device.kind} belongs to a window")
        if device.window is not None and device.window not in window_ids:
            raise ValueError(f"{where}.window: unknown window {device.window!r}")
