"""The hall's systemd units: the files in `systemd/` with this machine's paths filled in, and the
list of units a site needs (hall.target wants them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from firmware_config.broker_accounts import (
    BRIDGE,
    CONSOLE,
    METRICS,
    QUEUE,
    VOICE,
    camera_account,
)
from firmware_config.site import SiteConfig
from hall_bus.credentials import ALL_CREDENTIALS, CREDENTIAL, password_path

REPO_DIR = Path(__file__).resolve().parents[2]
UNIT_SOURCE_DIR = REPO_DIR / "systemd"
TARGET = "hall.target"
MOSQUITTO_UNIT = "mosquitto.service"
EMBEDDED_BROKER_UNIT = "hall-broker.service"
BROKERS = {"mosquitto": MOSQUITTO_UNIT, "embedded": EMBEDDED_BROKER_UNIT}
_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")


@dataclass(frozen=True)
class UnitSettings:
    """Paths as they are on the machine that runs the hall (not the staging root)."""

    hall_bin: Path
    site_file: Path
    data_dir: Path
    config_dir: Path = Path("/etc/hall")
    mosquitto_conf: Path = Path("/etc/mosquitto/hall/hall.conf")
    user: str = "hall"
    doc_dir: Path = REPO_DIR

    def values(self) -> dict[str, str]:
        return {
            "HALL_BIN": str(self.hall_bin),
            "SITE_FILE": str(self.site_file),
            "DATA_DIR": str(self.data_dir),
            "CONFIG_DIR": str(self.config_dir),
            "MOSQUITTO_CONF": str(self.mosquitto_conf),
            "USER": self.user,
            "DOC_DIR": str(self.doc_dir),
        }


def unit_sources() -> list[Path]:
    """Every unit and drop-in, relative to `systemd/` (drop-ins as `<unit>.d/<file>.conf`)."""
    return sorted(
        path.relative_to(UNIT_SOURCE_DIR)
        for path in UNIT_SOURCE_DIR.rglob("*")
        if path.is_file() and (path.suffix in {".service", ".target", ".conf"})
    )


def render_unit(text: str, settings: UnitSettings) -> str:
    values = settings.values()

    def fill(match: re.Match[str]) -> str:
        word = match.group(1)
        if word not in values:
            raise ValueError(f"unit template uses @{word}@, which nothing fills in")
        return values[word]

    return _PLACEHOLDER.sub(fill, text)


def render_units(settings: UnitSettings) -> dict[Path, str]:
    """Relative path -> rendered text of every unit file and drop-in."""
    return {
        relative: render_unit((UNIT_SOURCE_DIR / relative).read_text(encoding="utf-8"), settings)
        for relative in unit_sources()
    }


def write_units(settings: UnitSettings, unit_dir: Path) -> list[Path]:
    """Write every rendered unit into `unit_dir` (e.g. /etc/systemd/system); the paths written."""
    written = []
    for relative, text in render_units(settings).items():
        path = unit_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
        written.append(path)
    return written


BROKER_DROP_IN = Path("hall-.service.d") / "20-broker.conf"


def broker_drop_in(broker: str) -> str:
    """Every daemon wants the broker this hall runs, so starting one daemon alone (`systemctl
    start hall-queue`) brings its broker up too; the units' After= already order them."""
    return (f"# Written by `hall install --broker {broker}`: the broker of this hall.\n"
            f"[Unit]\nWants={BROKERS[broker]}\n")


def instance_unit(template: str, instance: str) -> str:
    """`hall-line@.service` + `l1` -> `hall-line@l1.service`. Site names are [a-z0-9_-], which
    systemd takes as they are in an instance name."""
    stem, suffix = template.split("@.", 1)
    return f"{stem}@{instance}.{suffix}"


def wanted_units(
    site: SiteConfig, *, broker: str = "mosquitto", kiosk: bool = False, console: bool = True,
    metrics: bool = True,
) -> list[str]:
    """The units hall.target starts on this machine for `site`."""
    units = [BROKERS[broker], "hall-queue.service", "hall-voice.service"]
    if site.bridge is not None:
        units.append("hall-bridge.service")
    if console:
        units.append("hall-console.service")
    if metrics:
        units.append("hall-metrics.service")
    if kiosk:
        units.append("hall-kiosk.service")
    units += [instance_unit("hall-line@.service", line.id) for line in site.lines]
    units += [instance_unit("hall-camera@.service", camera.name) for camera in site.cameras]
    return units


def template_of(unit: str) -> str:
    """The file a unit is loaded from: its template for an instance, else itself."""
    if "@" not in unit:
        return unit
    stem, rest = unit.split("@", 1)
    return f"{stem}@.{rest.rsplit('.', 1)[1]}"


CREDENTIAL_DROP_IN = "30-broker-password.conf"
KIOSK_UNIT = "hall-kiosk.service"


def unit_accounts(kiosk_id: str | None) -> dict[str, str]:
    """Unit (or template) -> the broker account its daemon logs in as; `%i` is the instance
    (a line's id, a camera's name), so every line and camera unit gets its own account's file."""
    accounts = {
        "hall-queue.service": QUEUE,
        "hall-voice.service": VOICE,
        "hall-bridge.service": BRIDGE,
        "hall-console.service": CONSOLE,
        "hall-metrics.service": METRICS,
        "hall-line@.service": "%i",
        "hall-camera@.service": camera_account("%i"),
    }
    if kiosk_id is not None:
        accounts[KIOSK_UNIT] = kiosk_id
    return accounts


def credential_drop_ins(credentials_dir: Path, kiosk_id: str | None) -> dict[Path, str]:
    """`<unit>.d/30-broker-password.conf` for every daemon: its own password as the systemd
    credential `broker-password`, nothing else of the root-only credentials folder. The embedded
    broker checks every login, so its unit alone loads the whole folder."""
    drop_ins = {}
    for unit, account in unit_accounts(kiosk_id).items():
        source = password_path(credentials_dir, account)
        lines = [f"# Written by `hall install`: broker account {account}, its password only.",
                 "[Service]", f"LoadCredential={CREDENTIAL}:{source}"]
        if unit == KIOSK_UNIT:
            # The kiosk logs in as the kiosk it runs: the one whose password it was given.
            lines.append(f'Environment="HALL_KIOSK_ARGS=--kiosk {account}"')
        drop_ins[Path(f"{unit}.d") / CREDENTIAL_DROP_IN] = "\n".join(lines) + "\n"
    drop_ins[Path(f"{EMBEDDED_BROKER_UNIT}.d") / CREDENTIAL_DROP_IN] = (
        "# Written by `hall install`: the embedded broker checks every account's login.\n"
        f"[Service]\nLoadCredential={ALL_CREDENTIALS}:{credentials_dir}\n")
    return drop_ins

