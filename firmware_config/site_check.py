"""The whole-site cross-check behind `hall config check`: is this hall ready to be wired up?

Loading a site already refuses what cannot work at all (unknown windows, one address twice on a
line, a profile whose baud differs from its line), stopping at the first such error. This check
runs on a loaded site and reports everything at once, each issue at its file line: every window
has a call display, a caller keypad and an evaluation pad (on a line, or on the network); no
serial port, printer port or bus node is used twice; each line's serial settings match every
device profile on it; addresses lie within their profile's range; cameras watch existing windows
once each. Like the loader's errors, each issue reads `FILE:LINE: key.path: message`.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass

from firmware_config.broker_accounts import CAMERA_PREFIX, site_accounts
from firmware_config.line import SIM_PREFIX, load_profile
from firmware_config.loader import ConfigIssue, SiteDocument
from firmware_config.site import SiteConfig

# What a window needs, by device kind, and what provides it besides a wired device.
_NEEDED = {
    "window_strip": "叫号条屏 / call display (window_strip)",
    "caller": "呼叫器 / caller keypad",
    "pad": "评价器 / evaluation pad",
}


@dataclass(frozen=True)
class _Placed:
    path: str  # where the device is written
    kind: str


def _window_devices(site: SiteConfig) -> dict[str, list[_Placed]]:
    found: dict[str, list[_Placed]] = defaultdict(list)
    for i, line in enumerate(site.lines):
        for j, device in enumerate(line.devices):
            if device.window is not None:
                kind = load_profile(device.profile).kind
                found[device.window].append(_Placed(f"lines.{i}.devices.{j}", kind))
    for i, network in enumerate(site.network_devices):
        if network.window is not None:
            found[network.window].append(_Placed(f"network_devices.{i}", network.kind))
    return found


def _check_windows(site: SiteConfig) -> list[tuple[str, str]]:
    issues = []
    devices = _window_devices(site)
    for index, window in enumerate(site.windows):
        kinds = [placed.kind for placed in devices.get(window.id, [])]
        for kind, label in _NEEDED.items():
            if kind not in kinds:
                issues.append((f"windows.{index}",
                               f"窗口 {window.id} 缺少{label.split(' / ')[0]} / window "
                               f"{window.id!r} has no {label.split(' / ')[1]}"))
        for kind in ("caller", "pad"):
            placed = [p for p in devices.get(window.id, []) if p.kind == kind]
            for extra in placed[1:]:
                issues.append((extra.path, f"窗口 {window.id} 已有{_NEEDED[kind].split(' / ')[0]}"
                               f"（{placed[0].path}） / window {window.id!r} already has a {kind} "
                               f"at {placed[0].path}"))
    return issues


def _port_identity(port: str) -> str:
    # /dev/ttyUSB0 and a /dev/serial/by-id link to it are one port.
    if port.startswith(SIM_PREFIX) or "://" in port:
        return port
    return os.path.realpath(port)


def _check_lines(site: SiteConfig) -> list[tuple[str, str]]:
    issues = []
    ports: dict[str, str] = {}
    for i, line in enumerate(site.lines):
        identity = _port_identity(line.port)
        if identity in ports:
            issues.append((f"lines.{i}.port", f"串口已被线路 {ports[identity]} 使用 / {line.port} "
                           f"is already used by line {ports[identity]!r}; one daemon owns a port"))
        ports.setdefault(identity, line.id)
        for j, device in enumerate(line.devices):
            profile = load_profile(device.profile)
            at = f"lines.{i}.devices.{j}"
            if (profile.baud, profile.parity) != (line.baud, line.parity):
                issues.append((f"{at}.profile", f"波特率或校验位与线路不一致 / {device.profile!r} "
                               f"runs at {profile.baud} {profile.parity}, line {line.id!r} at "
                               f"{line.baud} {line.parity}"))
            if not profile.address_min <= device.address <= profile.address_max:
                issues.append((f"{at}.address", f"地址超出型号范围 / {device.address} is outside "
                               f"{profile.address_min}..{profile.address_max} of "
                               f"{device.profile!r}"))
    for i, kiosk in enumerate(site.kiosks):
        identity = _port_identity(kiosk.printer_port)
        if kiosk.printer_port != "sim" and identity in ports:
            owner = ports[identity]
            issues.append((f"kiosks.{i}.printer_port", f"打印机端口已被线路 {owner} 使用 / "
                           f"{kiosk.printer_port} is line {owner!r}'s port"))
    return issues


def _check_nodes(site: SiteConfig) -> list[tuple[str, str]]:
    """Lines, kiosks and network devices are bus nodes and broker accounts: names must differ."""
    issues = []
    daemons = {account.name for account in site_accounts(site.model_copy(
        update={"lines": [], "kiosks": [], "network_devices": [], "cameras": []}))}
    owners: dict[str, str] = {name: "a daemon of the hall" for name in daemons}
    sections = [("lines", [x.id for x in site.lines]), ("kiosks", [x.id for x in site.kiosks]),
                ("network_devices", [x.id for x in site.network_devices])]
    for section, names in sections:
        for index, name in enumerate(names):
            path = f"{section}.{index}.id"
            if name in owners or name.startswith(CAMERA_PREFIX):
                owner = owners.get(name, "camera daemons (camera-<name>)")
                issues.append((path, f"节点名称冲突 / bus node {name!r} is taken by {owner}"))
            owners.setdefault(name, path)
    return issues


def _check_cameras(site: SiteConfig) -> list[tuple[str, str]]:
    # Unknown windows are refused on load (camera.check_cameras); a seat watched twice is not.
    issues = []
    watched: dict[str, str] = {}
    for i, camera in enumerate(site.cameras):
        for j, seat in enumerate(camera.seats):
            path = f"cameras.{i}.seats.{j}.window"
            if seat.window in watched:
                issues.append((path, f"座位已由 {watched[seat.window]} 监看 / the seat of "
                               f"{seat.window!r} is already watched at {watched[seat.window]}"))
            watched.setdefault(seat.window, path)
    return issues


def check_site(document: SiteDocument) -> list[ConfigIssue]:
    """Every cross-check problem of a loaded site, in file order."""
    site = document.site
    found = (_check_windows(site) + _check_lines(site) + _check_nodes(site)
             + _check_cameras(site))
    issues = [document.issue(path, message) for path, message in found]
    return sorted(issues, key=lambda issue: (issue.line or 0, issue.column or 0))
