"""What `hall install` checks before it changes anything: a site and a machine the units can run
on. Each refusal names what to change."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pydantic import BaseModel

from firmware_config.site import SiteConfig


def relative_paths(value: object, where: str = "") -> list[str]:
    """Key paths of every relative path in the site: under systemd the working folder is /, so
    `keys/hall.key` would not be the file the site meant."""
    if isinstance(value, Path):
        return [] if value.is_absolute() else [f"{where}: {value}"]
    if isinstance(value, BaseModel):
        return [found for name in type(value).model_fields
                for found in relative_paths(getattr(value, name), f"{where}.{name}".lstrip("."))]
    if isinstance(value, list | tuple):
        return [found for index, item in enumerate(value)
                for found in relative_paths(item, f"{where}.{index}")]
    return []


def check_before_install(site: SiteConfig, hall_bin: Path, broker: str, *,
                         on_this_machine: bool) -> None:
    """Raise ValueError on the first thing that would stop the installed hall from running."""
    relative = relative_paths(site)
    if relative:
        raise ValueError("站点配置中的路径须为绝对路径 / paths in the site must be absolute on the "
                         "hall's machine: " + "; ".join(relative))
    if on_this_machine:
        # On the machine itself the units must find what they run.
        if not os.access(hall_bin, os.X_OK):
            raise ValueError(f"{hall_bin} 不可执行 / is not an executable `hall`")
        if broker == "mosquitto" and shutil.which("mosquitto", path="/usr/sbin:/usr/bin") is None:
            raise ValueError("未安装 Mosquitto / Mosquitto is not installed: apt-get install "
                             "mosquitto, or use --broker embedded")
    if hall_bin.is_relative_to("/home") or hall_bin.is_relative_to("/root"):
        # ProtectHome=yes hides those folders from the daemons: they could not start.
        raise ValueError(f"{hall_bin} 在 /home 或 /root 下 / is under /home or /root, which the "
                         "units hide from the daemons; clone the hall to /opt/hall")
