"""Moves the code into the layered layout (docs/ARCHITECTURE.md) and rewrites every reference.

Run from the repository root: `python .ci/relayout.py`. It is re-runnable: a file already at its
new place is left alone, and the rewrite only touches names that still use an old module path, so
a second run changes nothing. Files move with `git mv` so history and blame follow them.

Two kinds of reference are rewritten, in Python, Markdown, TOML, YAML, unit files and scripts:
- dotted module names (`hall_bus.queue.store`), including `from <package> import <module>` where
  the module moved to another package or took another name;
- paths (`hall_bus/queue/store.py`, `hall_bus/queue/`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# Old module (dotted, a package means all of it) -> new module.
MOVES: dict[str, str] = {
    # Daemons: one folder per systemd unit.
    "hall_bus.queue": "daemons.queue",
    "hall_bus.voice": "daemons.voice",
    "hall_bus.bridge": "daemons.bridge",
    "hall_bus.metrics": "daemons.metrics",
    "hall_bus.console.screenshots": "demo.pictures.console",
    "hall_bus.console.demo_login": "demo.console_login",
    "hall_bus.console": "daemons.console",
    "hall_bus.broker": "daemons.broker.embedded",
    "drivers.line_daemon": "daemons.line.daemon",
    "drivers.line_devices": "daemons.line.devices",
    "drivers.line_scheduler": "daemons.line.scheduler",
    "drivers.line_command": "daemons.line.command",
    "drivers.press_memory": "daemons.line.press_memory",
    "drivers.camera.daemon": "daemons.camera.daemon",
    "drivers.camera.supervisor": "daemons.camera.supervisor",
    "drivers.camera.attendance": "daemons.camera.attendance",
    "drivers.camera.crowd": "daemons.camera.crowd",
    "drivers.camera.faces": "daemons.camera.faces",
    "drivers.camera.health": "daemons.camera.health",
    "drivers.camera.references": "daemons.camera.references",
    "drivers.camera.seat": "daemons.camera.seat",
    "drivers.camera.snapshot": "daemons.camera.snapshot",
    # The demo harness and the picture tools: they start whole halls.
    "hall_bus.demo": "demo",
    "drivers.line_picture": "demo.pictures.line",
    "kiosk.screenshots": "demo.pictures.kiosk",
    # Operations: the `hall` command, install, doctor.
    "hall_bus.cli": "operations.cli",
    "hall_bus.request_tool": "operations.bus_request",
    "hall_bus.deploy": "operations.deploy",
    "hall_bus.doctor": "operations.doctor",
    # Device families.
    "drivers.led_text": "drivers.led.text",
    "drivers.led_render": "drivers.led.render",
    "drivers.led_onbon": "drivers.led.onbon",
    "drivers.led_aa_strip": "drivers.led.aa_strip",
    "drivers.led_strip": "drivers.led.window_strip",
    "drivers.display_framing": "drivers.led.framing",
    "drivers.hall_screen": "drivers.led.hall_screen",
    "drivers.reference_frame": "drivers.line.frame",
    "drivers.reference_commands": "drivers.line.commands",
    "drivers.caller_keypad": "drivers.line.caller_keypad",
    "drivers.evaluation_pad": "drivers.line.evaluation_pad",
    "drivers.line_transport": "drivers.line.transport",
    "drivers.line_simulator": "drivers.line.simulator",
    "drivers.line_press_channel": "drivers.line.press_channel",
    "drivers.escpos_codec": "drivers.printer.escpos_codec",
    "drivers.escpos_parse": "drivers.printer.escpos_parse",
    "drivers.printer_sim": "drivers.printer.simulator",
    "drivers.printer_status": "drivers.printer.status",
    "drivers.printer_transport": "drivers.printer.transport",
    "drivers.receipt_render": "drivers.printer.receipt_render",
    "drivers.ticket_layout": "drivers.printer.ticket_layout",
    "drivers.ticket_printer": "drivers.printer.ticket_printer",
    "drivers.udev": "drivers.printer.udev",
    "drivers.scanner_evdev": "drivers.scanner.evdev_reader",
    "drivers.scanner_keys": "drivers.scanner.keys",
    "drivers.scanner_sim": "drivers.scanner.simulator",
    "drivers.scanner_thread": "drivers.scanner.reading_thread",
    "drivers.id_card": "drivers.scanner.id_card",
    "drivers.network_pad": "drivers.network.pad",
    "drivers.network_screen": "drivers.network.screen",
    "drivers.camera.regions": "drivers.camera.regions",
    # A printer's profile is device configuration, read by the site's kiosk section.
    "drivers.printer_profile": "firmware_config.printer_profile",
}

# New packages that need an __init__.py, with the docstring that says what lives there.
PACKAGES: dict[str, str] = {
    "daemons": "The hall's daemons, one folder per systemd unit. A daemon never imports another.",
    "daemons.line": "The RS-485 line daemon: one serial port and every device on it.",
    "daemons.camera": "One camera's supervision: seat presence, absences, waiting-area crowding.",
    "daemons.broker": "The embedded MQTT broker for development runs.",
    "demo": "The default hall (`hall demo`) and the picture tools: they start whole halls.",
    "demo.pictures": "Pictures of screens, displays and the console from a real in-process hall.",
    "operations": "The `hall` command, installation and the health check of a running hall.",
    "drivers.led": "LED displays: GBK text layout, framings, what a strip and a hall screen show.",
    "drivers.line": "RS-485 line devices: frames, commands, keypads, pads, transport, simulator.",
    "drivers.printer": "Ticket printers: ESC/POS bytes, layout, status, transport, simulator.",
    "drivers.scanner": "QR and ID-card scanners: key events to text, evdev reader, simulator.",
    "drivers.network": "Devices that speak MQTT themselves (pads and screens on the LAN).",
}

# Tests mirror the packages: tests/<package>/<subpackage>/test_*.py. Helpers and fixtures stay at
# tests/ (conftest.py puts that folder on the import path); tests of the whole tree stay there too.
TEST_HOMES: dict[str, tuple[str, ...]] = {
    "hall_bus": ("bus_client", "bus_docs", "channels", "structured_logs", "systemd_notify"),
    "daemons/queue": ("appointment_id_digest", "camera_queue_alert", "queue_crash",
                      "queue_device_alerts", "queue_documents", "queue_engine",
                      "queue_manager_actions", "queue_notices", "queue_policy", "queue_store"),
    "daemons/bridge": ("bridge_backend", "bridge_crash", "bridge_daemon", "bridge_device_events",
                       "bridge_disk_refusal", "bridge_engine_documents", "bridge_id_digest",
                       "bridge_mqtt_uplink", "bridge_store"),
    "daemons/camera": ("camera_bus", "camera_command", "camera_crowd", "camera_presence"),
    "daemons/console": ("console_absence", "console_actions", "console_auth",
                        "console_broker_account", "console_browser", "console_privacy"),
    "daemons/line": ("line_daemon", "line_devices", "line_scheduler", "press_memory"),
    "daemons/voice": ("voice_daemon", "voice_phrases", "voice_render", "voice_scheduler",
                      "voice_stretch"),
    "daemons/metrics": ("metrics_exporter",),
    "daemons/broker": ("embedded_broker",),
    "drivers/line": ("line_codecs", "line_transport", "line_press_channel"),
    "drivers/led": ("led_render",),
    "drivers/printer": ("printer_simulator", "ticket_printer_bytes"),
    "drivers/scanner": ("scanner",),
    "drivers/network": ("network_pad", "network_screen"),
    "kiosk": ("kiosk_app", "kiosk_catalogue", "kiosk_command", "kiosk_id_check_in"),
    "firmware_config": ("bridge_config", "camera_config", "central_bridge", "config_tools",
                        "kiosk_config", "line_config", "mosquitto_config", "site_config",
                        "broker_security"),
    "operations": ("cli", "deploy_install", "doctor", "udev_rules", "unit_credentials",
                   "deployment_docs"),
    "demo": ("demo_keypad_traffic", "console_demo_login"),
}
# How a test file found the repository from tests/; below it, the shared helper says.
_REPO_FROM_TESTS = re.compile(r"Path\(__file__\)\.resolve\(\)\.(?:parent\.parent|parents\[1\])")

TEXT_SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".service", ".conf", ".cfg", ".ini",
                 ".txt", ".rules", ".target", ""}
SKIP_DIRS = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def module_path(module: str) -> Path:
    return Path(*module.split("."))


def source_of(module: str) -> Path | None:
    """The file or folder that holds `module`, if it exists."""
    base = module_path(module)
    if base.is_dir():
        return base
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def git(*args: str) -> None:
    subprocess.run(["git", *args], check=True)


def ensure_package(module: str) -> None:
    init = module_path(module) / "__init__.py"
    if init.exists():
        return
    init.parent.mkdir(parents=True, exist_ok=True)
    init.write_text(f'"""{PACKAGES.get(module, "")}"""\n' if module in PACKAGES else "")
    git("add", str(init))


def move_files() -> None:
    # Longest first, so `hall_bus.console.screenshots` leaves before `hall_bus.console` moves.
    for old in sorted(MOVES, key=len, reverse=True):
        new = MOVES[old]
        if old == new:
            continue
        source = source_of(old)
        if source is None:
            continue
        parts = new.split(".")
        for depth in range(1, len(parts)):
            ensure_package(".".join(parts[:depth]))
        target = module_path(new)
        if source.suffix == ".py":
            target = target.with_suffix(".py")
        if target.exists() and target.is_dir() and source.is_dir():
            for child in sorted(source.iterdir()):
                if child.name != "__pycache__" and not (target / child.name).exists():
                    git("mv", str(child), str(target / child.name))
            # The target package already has its own __init__.py (made for a sibling that moved
            # first); the old one goes.
            if (source / "__init__.py").exists():
                git("rm", "-q", str(source / "__init__.py"))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        git("mv", str(source), str(target))
    for module in PACKAGES:
        ensure_package(module)


def _parent_and_name(module: str) -> tuple[str, str]:
    parent, _, name = module.rpartition(".")
    return parent, name


def _new_module(old: str) -> str | None:
    """Where `old` lives now, by the longest matching move, or None if it did not move."""
    for prefix in sorted(MOVES, key=len, reverse=True):
        if old == prefix or old.startswith(prefix + "."):
            return MOVES[prefix] + old[len(prefix):]
    return None


_FROM_IMPORT = re.compile(
    r"^(?P<indent>[ \t]*)from (?P<package>[a-z_][\w.]*) import (?P<names>[\w ,]+?)[ \t]*$",
    re.MULTILINE)


def rewrite_from_imports(text: str) -> str:
    """`from drivers import led_onbon, crc` -> one statement per new home of each module."""

    def replace(match: re.Match[str]) -> str:
        package = match["package"]
        items = [item.strip() for item in match["names"].split(",") if item.strip()]
        groups: dict[str, list[str]] = {}
        changed = False
        for item in items:
            name, _, alias = item.partition(" as ")
            name, alias = name.strip(), alias.strip()
            moved = _new_module(f"{package}.{name}")
            if moved is None or "." not in moved:
                parent, new_name = (_new_module(package) or package), name
            else:
                parent, new_name = _parent_and_name(moved)
                changed = True
            if new_name != name and not alias:
                alias = name
            groups.setdefault(parent, []).append(
                f"{new_name} as {alias}" if alias and alias != new_name else new_name)
        if not changed:
            return match.group(0)
        indent = match["indent"]
        return "\n".join(f"{indent}from {parent} import {', '.join(names)}"
                         for parent, names in groups.items())

    return _FROM_IMPORT.sub(replace, text)


def _dotted_pattern() -> re.Pattern[str]:
    names = sorted(MOVES, key=len, reverse=True)
    return re.compile(r"(?<![\w.])(" + "|".join(re.escape(n) for n in names) + r")(?![\w])")


def _path_pattern() -> re.Pattern[str]:
    names = sorted((n.replace(".", "/") for n in MOVES), key=len, reverse=True)
    alternatives = "|".join(re.escape(n) for n in names)
    return re.compile(r"(?<![\w/.])(" + alternatives + r")(?=[/.\s`'\")\]:,]|$)", re.MULTILINE)


def rewrite_text(text: str) -> str:
    text = rewrite_from_imports(text)
    dotted = _dotted_pattern()
    text = dotted.sub(lambda m: _new_module(m.group(1)) or m.group(1), text)
    paths = _path_pattern()

    def new_path(match: re.Match[str]) -> str:
        moved = _new_module(match.group(1).replace("/", "."))
        return match.group(1) if moved is None else moved.replace(".", "/")

    return paths.sub(new_path, text)


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], check=True, capture_output=True, text=True)
    files = []
    for name in listed.stdout.splitlines():
        path = Path(name)
        if path.name == "relayout.py" or not path.is_file():
            continue
        if any(part in SKIP_DIRS for part in path.parts):
            continue
        if path.suffix in TEXT_SUFFIXES or path.parent.name == ".ci":
            files.append(path)
    return files


def rewrite_references() -> int:
    changed = 0
    for path in tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        new = rewrite_text(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
    return changed


def move_tests() -> int:
    moved = 0
    for home, names in TEST_HOMES.items():
        for name in names:
            source = Path("tests") / f"test_{name}.py"
            target = Path("tests") / home / source.name
            if not source.exists() or target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            git("mv", str(source), str(target))
            text = target.read_text(encoding="utf-8")
            if _REPO_FROM_TESTS.search(text):
                text = _REPO_FROM_TESTS.sub("repo_paths.REPO", text)
                anchor = "\nimport pytest\n" if "\nimport pytest\n" in text else \
                    "from pathlib import Path\n"
                text = text.replace(anchor, f"{anchor}import repo_paths\n", 1)
                target.write_text(text, encoding="utf-8")
            moved += 1
    return moved


def main() -> int:
    if not Path(".git").exists():
        print("run from the repository root", file=sys.stderr)
        return 2
    move_files()
    changed = rewrite_references()
    print(f"rewrote references in {changed} files")
    print(f"moved {move_tests()} test files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
