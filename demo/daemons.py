"""The processes of the default run, one per daemon, as systemd would start them in a hall.

Every daemon of the hall that has a simulated mode adds itself to `demo_daemons`; the runner
starts them in this order, restarts any that dies, and stops them in reverse order.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from firmware_config.site import SiteConfig
from hall_bus.netutil import free_port
from hall_bus.simclock import ScaledClock

log = logging.getLogger("hall.demo")


@dataclass(frozen=True)
class DemoContext:
    site: SiteConfig
    site_path: Path
    data_dir: Path
    clock: ScaledClock


def hall_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "operations.cli", *args]


class Daemon:
    """A child process of the demo, restarted with a pause if it dies (as systemd would)."""

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start(self) -> None:
        with self.log_path.open("ab") as log_file:
            # A session of its own: Ctrl-C in the terminal reaches only the runner, which then
            # stops the daemons in order after collecting what it needs from them.
            self.process = subprocess.Popen(
                self.argv, stdout=log_file, stderr=log_file, start_new_session=True
            )

    def check(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            log.warning(
                "%s 已退出 (%s)，正在重启 / exited with %s, restarting",
                self.name,
                self.process.returncode,
                self.process.returncode,
            )
            self.restarts += 1
            self.start()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _camera_daemons(context: DemoContext, site_arg: tuple[str, str]) -> list[Daemon]:
    # Only generated scenes: a laptop running the demo has no hall cameras. The first frame shows
    # the seats empty, so the daemon takes its empty-seat references from it.
    return [
        Daemon(
            f"camera-{camera.name}",
            hall_command("camera", "--camera", camera.name, *site_arg,
                         "--sim-clock", context.clock.describe(), "--capture-reference"),
            context.data_dir / f"camera-{camera.name}.log",
        )
        for camera in context.site.cameras
        if camera.source.startswith("generated:")
    ]


def _bridge_daemons(context: DemoContext, site_arg: tuple[str, str]) -> list[Daemon]:
    """The reference backend on loopback and the bridge feeding it, unless the site links to a
    real backend (then `hall bridge` is started as configured) or bench/ is not shipped."""
    if context.site.bridge is not None:
        return [Daemon("bridge", hall_command("bridge", *site_arg),
                       context.data_dir / "bridge.log")]
    backend_script = Path(__file__).resolve().parents[1] / "bench" / "reference_backend.py"
    if not backend_script.exists():
        return []
    key_file = context.data_dir / "backend.key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(24) + "\n")
        key_file.chmod(0o600)
    port = free_port()
    backend = [sys.executable, str(backend_script), "--port", str(port),
               "--db", str(context.data_dir / "backend.sqlite3"),
               "--hall", f"{context.site.hall_id}={key_file}"]
    return [
        Daemon("backend", backend, context.data_dir / "backend.log"),
        Daemon("bridge", hall_command("bridge", *site_arg, "--backend-url",
                                      f"http://127.0.0.1:{port}", "--key-file", str(key_file)),
               context.data_dir / "bridge.log"),
    ]


def _kiosk_daemons(context: DemoContext, site_arg: tuple[str, str]) -> list[Daemon]:
    """The site's first kiosk, windowed on a desktop and offscreen without a display; its
    simulated printer saves receipts under <data dir>/<kiosk>-receipts/."""
    if not context.site.kiosks:
        return []
    kiosk = context.site.kiosks[0]
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return [Daemon(
        f"kiosk-{kiosk.id}",
        hall_command("kiosk", *site_arg, "--kiosk", kiosk.id, "--data-dir", str(context.data_dir),
                     *(["--windowed"] if has_display
                       else ["--offscreen", "--prompts-dir", str(context.data_dir / "kiosk")])),
        context.data_dir / f"kiosk-{kiosk.id}.log",
    )]


def _line_daemons(context: DemoContext, site_arg: tuple[str, str]) -> list[Daemon]:
    """Each simulated RS-485 line (`port: sim:<name>`): its devices on a pty, then its daemon;
    the simulator logs what every strip and the hall screen show."""
    daemons = []
    for line in context.site.lines:
        if line.port.startswith("sim:"):
            daemons.append(Daemon(f"line-sim-{line.id}",
                                  hall_command("line", *site_arg, "--port", line.id, "--simulate"),
                                  context.data_dir / f"line-sim-{line.id}.log"))
            daemons.append(Daemon(f"line-{line.id}",
                                  hall_command("line", *site_arg, "--port", line.id),
                                  context.data_dir / f"line-{line.id}.log"))
    return daemons


def _console_daemons(context: DemoContext, site_arg: tuple[str, str]) -> list[Daemon]:
    """The duty manager's web console, when the site has someone who may log in."""
    if not context.site.console.managers:
        return []
    return [Daemon("console", hall_command("console", *site_arg),
                   context.data_dir / "console.log")]


def demo_daemons(context: DemoContext) -> list[Daemon]:
    site_arg = ("--site", str(context.site_path))
    logs = context.data_dir
    return [
        Daemon("broker", hall_command("broker", *site_arg), logs / "broker.log"),
        Daemon(
            "queue",
            hall_command("queue", *site_arg, "--sim-clock", context.clock.describe()),
            logs / "queue.log",
        ),
        *_camera_daemons(context, site_arg),
        # The announcer writes one WAV per announcement under <data dir>/voice/out/<zone>/.
        Daemon(
            "voice",
            hall_command("voice", *site_arg, "--data-dir", str(context.data_dir),
                         "--sim-clock", context.clock.describe()),
            logs / "voice.log",
        ),
        *_bridge_daemons(context, site_arg),
        *_kiosk_daemons(context, site_arg),
        *_line_daemons(context, site_arg),
        *_console_daemons(context, site_arg),
    ]
