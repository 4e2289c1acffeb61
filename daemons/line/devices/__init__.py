"""The devices on an RS-485 line, one module per device `type` of the site config.

Each device keeps its own view and conversation and returns what it wants done as effects
(effects.py); the line daemon owns the port, the bus and the clock and carries them out.
"""

from __future__ import annotations

from daemons.line.devices.base import LineDevice
from daemons.line.devices.caller import CallerKeypad
from daemons.line.devices.hall_screen import HallScreenDevice
from daemons.line.devices.pad import EvaluationPad
from daemons.line.devices.window_strip import WindowStrip
from firmware_config.line import LineConfig, load_profile
from firmware_config.site import SiteConfig
from hall_bus.ids import new_id


def build_devices(site: SiteConfig, line: LineConfig) -> list[LineDevice]:
    """The line's devices, each built by the module named after its profile's `kind`."""
    devices: list[LineDevice] = []
    numbers = {w.id: w.number for w in site.windows}
    for config in line.devices:
        profile = load_profile(config.profile)
        window = site.window(config.window) if config.window else None
        if profile.kind == "window_strip" and window is not None:
            devices.append(WindowStrip(line, config, profile, window_number=window.number,
                                       window_name=window.name_zh))
        elif profile.kind == "hall_screen":
            devices.append(HallScreenDevice(line, config, profile, window_numbers=numbers))
        elif profile.kind == "caller":
            devices.append(CallerKeypad(line, config, profile,
                                        service_ids=[s.id for s in site.services], new_id=new_id))
        elif profile.kind == "pad":
            devices.append(EvaluationPad(line, config, profile, new_id=new_id))
    return devices


__all__ = ["CallerKeypad", "EvaluationPad", "HallScreenDevice", "LineDevice", "WindowStrip",
           "build_devices"]
