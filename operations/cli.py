"""The `hall` command: one entry point, one subcommand per daemon or tool.

Subcommand implementations are imported only when chosen, so `hall config validate` does not pay
for the broker or the MQTT client.
"""

from __future__ import annotations

import argparse
import faulthandler
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hall_bus import logs

Handler = Callable[[argparse.Namespace], int]


# One function per subcommand: a plain import inside, so only the chosen command's code loads and
# import-linter still sees every edge from the command to the code it runs.
def _demo() -> Handler:
    from demo.runner import run_demo_command
    return run_demo_command


def _broker() -> Handler:
    from daemons.broker.embedded import run_broker_command
    return run_broker_command


def _queue() -> Handler:
    from daemons.queue.service import run_queue_command
    return run_queue_command


def _voice() -> Handler:
    from daemons.voice.daemon import run_voice_command
    return run_voice_command


def _voice_pack() -> Handler:
    from daemons.voice.pack_builder import run_pack_command
    return run_pack_command


def _line() -> Handler:
    from daemons.line.command import run_line_command
    return run_line_command


def _line_pictures() -> Handler:
    from demo.pictures.line import run_pictures_command
    return run_pictures_command


def _bus_schema() -> Handler:
    from hall_bus.schema_doc import run_schema_command
    return run_schema_command


def _bus_docs() -> Handler:
    from hall_bus.schema_doc import run_docs_command
    return run_docs_command


def _bus_request() -> Handler:
    from operations.bus_request import run_request_command
    return run_request_command


def _config_validate() -> Handler:
    from firmware_config.loader import run_validate_command
    return run_validate_command


def _config_mosquitto() -> Handler:
    from firmware_config.mosquitto_config import run_render_command
    return run_render_command


def _config_show() -> Handler:
    from firmware_config.config_tools import run_show_command
    return run_show_command


def _config_diff() -> Handler:
    from firmware_config.config_tools import run_diff_command
    return run_diff_command


def _config_migrate() -> Handler:
    from firmware_config.config_tools import run_migrate_command
    return run_migrate_command


def _config_check() -> Handler:
    from firmware_config.config_tools import run_check_command
    return run_check_command


def _config_udev() -> Handler:
    from operations.deploy.udev_rules import run_udev_command
    return run_udev_command


def _metrics() -> Handler:
    from daemons.metrics.exporter import run_metrics_command
    return run_metrics_command


def _install() -> Handler:
    from operations.deploy.install import run_install_command
    return run_install_command


def _doctor() -> Handler:
    from operations.doctor.command import run_doctor_command
    return run_doctor_command


def _camera() -> Handler:
    from daemons.camera.daemon import run_camera_command
    return run_camera_command


def _bridge() -> Handler:
    from daemons.bridge.daemon import run_bridge_command
    return run_bridge_command


def _kiosk() -> Handler:
    from kiosk.runner import run_kiosk_command
    return run_kiosk_command


def _kiosk_pictures() -> Handler:
    from demo.pictures.kiosk import run_pictures_command
    return run_pictures_command


def _console() -> Handler:
    from daemons.console.daemon import run_console_command
    return run_console_command


def _console_pictures() -> Handler:
    from demo.pictures.console import run_pictures_command
    return run_pictures_command


_HANDLERS: dict[str, Callable[[], Handler]] = {
    "demo": _demo,
    "broker": _broker,
    "queue": _queue,
    "voice": _voice,
    "voice pack": _voice_pack,
    "line": _line,
    "line --picture": _line_pictures,
    "bus schema": _bus_schema,
    "bus docs": _bus_docs,
    "bus request": _bus_request,
    "config validate": _config_validate,
    "config mosquitto": _config_mosquitto,
    "config show": _config_show,
    "config diff": _config_diff,
    "config migrate": _config_migrate,
    "config check": _config_check,
    "config udev": _config_udev,
    "metrics": _metrics,
    "install": _install,
    "doctor": _doctor,
    "camera": _camera,
    "bridge": _bridge,
    "kiosk": _kiosk,
    "kiosk --screenshots": _kiosk_pictures,
    "console": _console,
    "console --screenshots": _console_pictures,
}
# The picture tools answer an option of a daemon's command, but start a whole hall: they live in
# demo/pictures, which no daemon imports.
_PICTURE_OPTIONS = {"line": "picture", "kiosk": "screenshots", "console": "screenshots"}


def _site_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--site",
        type=Path,
        default=None,
        help="site YAML (default: the bundled demo hall, firmware_config/sites/demo.yaml)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hall", description="政务服务大厅控制器 / Service hall controller"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run a whole simulated hall on this machine")
    _site_argument(demo)
    demo.add_argument("--headless", action="store_true", help="no live screen; log only")
    demo.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    demo.add_argument("--report", type=Path, default=None, help="write a JSON report here")
    demo.add_argument(
        "--speed",
        type=float,
        default=None,
        help="simulated seconds per real second (default 60, or the whole day in --seconds)",
    )
    demo.add_argument("--data-dir", type=Path, default=None, help="state folder (default: temp)")
    demo.add_argument("--seed", type=int, default=None, help="random seed for the traffic")

    broker = commands.add_parser("broker", help="run the embedded MQTT broker")
    _site_argument(broker)
    broker.add_argument("--host", default=None, help="bind address (default from the site)")
    broker.add_argument("--port", type=int, default=None, help="port (default from the site)")

    queue = commands.add_parser("queue", help="run the queue engine daemon")
    _site_argument(queue)
    queue.add_argument("--db", type=Path, default=None, help="SQLite file (default in data_dir)")
    queue.add_argument(
        "--sim-clock",
        default=None,
        metavar="START@ANCHORxSPEED",
        help="run on a simulated, faster clock (used by `hall demo`)",
    )

    line = commands.add_parser("line", help="run the RS-485 line daemon of one serial port")
    _site_argument(line)
    line.add_argument("--port", default=None, help="serial port, pty link or line id")
    line.add_argument(
        "--simulate", action="store_true", help="be the line's simulated devices instead"
    )
    line.add_argument(
        "--picture", type=Path, default=None, metavar="DIR",
        help="write PNGs of a window strip and the hall screen after a simulated call",
    )

    bridge = commands.add_parser("bridge", help="run the bridge to the central backend")
    _site_argument(bridge)
    bridge.add_argument("--db", type=Path, default=None, help="outbox SQLite file")
    bridge.add_argument(
        "--backend-url", default=None, help="for a site without `bridge:` (the demo): backend URL"
    )
    bridge.add_argument("--key-file", type=Path, default=None, help="with --backend-url: hall key")
    bridge.add_argument(
        "--open-session", action="store_true",
        help="install step: create the bridge's broker session (so events wait for it) and exit",
    )

    voice = commands.add_parser("voice", help="run the voice announcer daemon")
    _site_argument(voice)
    voice.add_argument("--data-dir", type=Path, default=None, help="default: the site's data_dir")
    voice.add_argument("--sim-clock", default=None, metavar="START@ANCHORxSPEED",
                       help="simulated clock for quiet hours and notices (used by `hall demo`)")
    voice_commands = voice.add_subparsers(dest="voice_command", metavar="VOICE_COMMAND")
    voice_pack = voice_commands.add_parser(
        "pack", help="generate the default voice pack offline (espeak-ng)"
    )
    # SUPPRESS: when not given here, `hall voice --site X pack` keeps the X given before `pack`.
    voice_pack.add_argument("--site", type=Path, default=argparse.SUPPRESS,
                            help="site YAML (default: the bundled demo hall)")
    voice_pack.add_argument("--out", type=Path, default=None, help="pack folder")

    camera = commands.add_parser("camera", help="run one camera's supervision daemon")
    _site_argument(camera)
    camera.add_argument("--camera", required=True, help="camera name from the site config")
    camera.add_argument("--sim-clock", default=None, metavar="START@ANCHORxSPEED",
                        help="simulated clock (used by `hall demo`)")
    camera.add_argument("--capture-reference", action="store_true",
                        help="take missing empty-seat references from the first frame "
                        "(seats must be empty: installation)")

    kiosk = commands.add_parser("kiosk", help="run a touchscreen kiosk (取号机)")
    _site_argument(kiosk)
    kiosk.add_argument("--kiosk", default=None, help="kiosk id from the site (default: first)")
    kiosk.add_argument("--data-dir", type=Path, default=None, help="receipts and scanner FIFO")
    kiosk.add_argument("--windowed", action="store_true", help="a window, not full screen")
    kiosk.add_argument("--offscreen", action="store_true", help="no display (QT_QPA_PLATFORM)")
    kiosk.add_argument("--seconds", type=float, default=None, help="stop after this long")
    kiosk.add_argument("--scan-fifo", type=Path, default=None, help="simulated scanner FIFO")
    kiosk.add_argument("--no-voice", action="store_true", help="no spoken elderly-mode prompts")
    kiosk.add_argument("--prompts-dir", type=Path, default=None,
                       help="write spoken prompts as WAV files here instead of playing them")
    kiosk.add_argument("--screenshots", type=Path, default=None, metavar="DIR",
                       help="save pictures of the main screens to DIR and exit")

    console = commands.add_parser("console", help="the duty manager's web console (值班长)")
    _site_argument(console)
    console.add_argument("--listen", default=None, help="address (default from the site)")
    console.add_argument("--port", type=int, default=None, help="port (default from the site)")
    console.add_argument("--hash-password", action="store_true",
                         help="read a password (stdin) and print its hash for `console.managers`")
    console.add_argument("--screenshots", type=Path, default=None, metavar="DIR",
                         help="save pictures of the main views from a simulated hall and exit")

    bus = commands.add_parser("bus", help="the bus contract").add_subparsers(
        dest="bus_command", required=True, metavar="BUS_COMMAND"
    )
    bus.add_parser("schema", help="print the JSON Schema of every payload")
    docs = bus.add_parser("docs", help="print (or check) docs/bus.md from the registry")
    docs.add_argument("--check", type=Path, default=None, help="fail if this file differs")
    request = bus.add_parser("request", help="send one request to the queue engine")
    _site_argument(request)
    request.add_argument("action", help="queue action, e.g. take_ticket")
    request.add_argument("fields", nargs="*", help="request fields as key=value")
    request.add_argument("--timeout", type=float, default=5.0)

    config = commands.add_parser("config", help="site configuration").add_subparsers(
        dest="config_command", required=True, metavar="CONFIG_COMMAND"
    )
    validate = config.add_parser("validate", help="check a site YAML file")
    validate.add_argument("file", type=Path)
    mosquitto = config.add_parser("mosquitto", help="write the production Mosquitto config")
    _site_argument(mosquitto)
    mosquitto.add_argument("--out", type=Path, required=True, help="folder for the files")
    mosquitto.add_argument("--listen", default=None, help="listener address (default loopback)")
    mosquitto.add_argument("--port", type=int, default=None, help="port (default from the site)")
    mosquitto.add_argument("--run-user", default="mosquitto", help="user the broker runs as")
    show = config.add_parser("show", help="print the site as the daemons see it, with defaults")
    _site_argument(show)
    show.add_argument("--json", action="store_true", help="JSON instead of YAML")
    diff = config.add_parser("diff", help="key-path differences between two site files")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)
    migrate = config.add_parser("migrate", help="bring a site file to the current config version")
    migrate.add_argument("file", type=Path)
    migrate.add_argument("--write", action="store_true", help="rewrite FILE (old one: FILE.bak)")
    check = config.add_parser("check", help="cross-check whole sites: devices, ports, profiles")
    check.add_argument("files", type=Path, nargs="+")

    metrics = commands.add_parser("metrics", help="Prometheus exporter of the hall's figures")
    _site_argument(metrics)
    metrics.add_argument("--listen", default="127.0.0.1", help="HTTP address (default loopback)")
    metrics.add_argument("--port", type=int, default=9464, help="HTTP port (default 9464)")
    udev = config.add_parser("udev", help="write udev rules: stable names for USB devices")
    _site_argument(udev)
    udev.add_argument("--out", type=Path, default=None, help="rules file (default: print)")

    install = commands.add_parser("install", help="install the hall on this Debian machine (root)")
    install.add_argument("--site", type=Path, default=None,
                         help="site YAML to install (default: /etc/hall/site.yaml)")
    install.add_argument("--root", type=Path, default=None,
                         help="write below this staging folder, run no system command")
    install.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    install.add_argument("--broker", choices=["mosquitto", "embedded"], default="mosquitto",
                         help="the hall's broker: Debian's Mosquitto (default) or `hall broker`")
    install.add_argument("--kiosk", nargs="?", const="", default=None, metavar="ID",
                         help="this machine is also a kiosk: the site's kiosk ID (default: first)")
    install.add_argument("--no-console", action="store_true", help="no manager console here")
    install.add_argument("--no-metrics", action="store_true", help="no metrics exporter here")
    install.add_argument("--user", default="hall", help="system user the daemons run as")
    install.add_argument("--hall-bin", type=Path, default=None,
                         help="the `hall` program the units run (default: this one)")

    doctor = commands.add_parser("doctor", help="check a running hall and report what is wrong")
    doctor.add_argument("--site", type=Path, default=None,
                        help="site YAML (default: /etc/hall/site.yaml, else the demo hall)")
    doctor.add_argument("--json", action="store_true", help="the report as JSON")
    doctor.add_argument("--timeout", type=float, default=5.0, help="seconds to reach the broker")
    doctor.add_argument("--settle", type=float, default=1.0,
                        help="seconds to collect the retained statuses")
    return parser


def _handler_for(args: argparse.Namespace) -> Handler:
    key = args.command
    for nested in ("bus_command", "config_command", "voice_command"):
        if getattr(args, nested, None):
            key = f"{key} {getattr(args, nested)}"
    option = _PICTURE_OPTIONS.get(key)
    if option is not None and getattr(args, option, None) is not None:
        key = f"{key} --{option}"
    return _HANDLERS[key]()


def _daemon_name(args: argparse.Namespace) -> str:
    """`queue`, `line:line1`, `camera:desk`: what a log line says about where it came from."""
    instance = getattr(args, "port", None) if args.command == "line" else \
        getattr(args, "camera", None) or getattr(args, "kiosk", None)
    return f"{args.command}:{instance}" if isinstance(instance, str) and instance else args.command


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # systemd kills a daemon whose watchdog pings stopped with SIGABRT: print every thread's
    # stack first, so the journal shows where the loop was stuck.
    faulthandler.enable()
    # JSON lines under systemd or with HALL_LOG_FORMAT=json, readable text otherwise.
    logs.configure(_daemon_name(args), verbose=args.verbose)
    try:
        return _handler_for(args)(args)
    except KeyboardInterrupt:
        return 130
    except ValueError as exc:
        from hall_bus.credentials import CredentialsError

        if not isinstance(exc, CredentialsError):
            raise
        # A daemon without its broker password: name the file, no traceback.
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
