"""The `hall` command: one entry point, one subcommand per daemon or tool.

`COMMANDS` is the table. Each entry's loader imports the module that runs the subcommand and
returns that module's option declarations and its run function, so each command owns its options
next to its code. Only the chosen command's modules load (`hall config validate` does not pay for
the broker or the MQTT client), and import-linter still sees every edge: the imports are plain,
inside the loaders.
"""

from __future__ import annotations

import argparse
import faulthandler
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hall_bus import logs

Options = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]
Entry = tuple[Options, Handler]


def _no_options(parser: argparse.ArgumentParser) -> None:
    pass


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]  # ("config", "show") for `hall config show`
    help: str
    load: Callable[[], Entry]
    # A picture tool answering an option of this command (`hall line --picture DIR`): the
    # option's name, its declaration (light) and the tool, which starts a whole hall.
    picture: tuple[str, Options, Callable[[], Handler]] | None = None


def _demo() -> Entry:
    from demo import runner
    return runner.add_demo_arguments, runner.run_demo_command


def _broker() -> Entry:
    from daemons.broker import embedded
    return embedded.add_broker_arguments, embedded.run_broker_command


def _queue() -> Entry:
    from daemons.queue import service
    return service.add_queue_arguments, service.run_queue_command


def _voice() -> Entry:
    from daemons.voice import daemon
    return daemon.add_voice_arguments, daemon.run_voice_command


def _voice_pack() -> Entry:
    from daemons.voice import pack_builder
    return pack_builder.add_pack_arguments, pack_builder.run_pack_command


def _line() -> Entry:
    from daemons.line import command
    return command.add_line_arguments, command.run_line_command


# The picture tools' options come from demo/pictures/__init__.py, which is light; imported only
# when their command is chosen, like everything else here.
def _line_picture_options(parser: argparse.ArgumentParser) -> None:
    from demo.pictures import add_line_picture_arguments
    add_line_picture_arguments(parser)


def _line_pictures() -> Handler:
    from demo.pictures import line
    return line.run_pictures_command


def _camera() -> Entry:
    from daemons.camera import daemon
    return daemon.add_camera_arguments, daemon.run_camera_command


def _bridge() -> Entry:
    from daemons.bridge import daemon
    return daemon.add_bridge_arguments, daemon.run_bridge_command


def _kiosk() -> Entry:
    from kiosk import runner
    return runner.add_kiosk_arguments, runner.run_kiosk_command


def _kiosk_picture_options(parser: argparse.ArgumentParser) -> None:
    from demo.pictures import add_kiosk_picture_arguments
    add_kiosk_picture_arguments(parser)


def _kiosk_pictures() -> Handler:
    from demo.pictures import kiosk
    return kiosk.run_pictures_command


def _console() -> Entry:
    from daemons.console import daemon
    return daemon.add_console_arguments, daemon.run_console_command


def _console_picture_options(parser: argparse.ArgumentParser) -> None:
    from demo.pictures import add_console_picture_arguments
    add_console_picture_arguments(parser)


def _console_pictures() -> Handler:
    from demo.pictures import console
    return console.run_pictures_command


def _metrics() -> Entry:
    from daemons.metrics import exporter
    return exporter.add_metrics_arguments, exporter.run_metrics_command


def _bus_schema() -> Entry:
    from hall_bus import schema_doc
    return _no_options, schema_doc.run_schema_command


def _bus_docs() -> Entry:
    from hall_bus import schema_doc
    return schema_doc.add_docs_arguments, schema_doc.run_docs_command


def _bus_request() -> Entry:
    from operations import bus_request
    return bus_request.add_request_arguments, bus_request.run_request_command


def _config_validate() -> Entry:
    from firmware_config import loader
    return loader.add_validate_arguments, loader.run_validate_command


def _config_mosquitto() -> Entry:
    from firmware_config import mosquitto_config
    return mosquitto_config.add_render_arguments, mosquitto_config.run_render_command


def _config_show() -> Entry:
    from firmware_config import config_tools
    return config_tools.add_show_arguments, config_tools.run_show_command


def _config_diff() -> Entry:
    from firmware_config import config_tools
    return config_tools.add_diff_arguments, config_tools.run_diff_command


def _config_migrate() -> Entry:
    from firmware_config import config_tools
    return config_tools.add_migrate_arguments, config_tools.run_migrate_command


def _config_check() -> Entry:
    from firmware_config import config_tools
    return config_tools.add_check_arguments, config_tools.run_check_command


def _config_udev() -> Entry:
    from operations.deploy import udev_rules
    return udev_rules.add_udev_arguments, udev_rules.run_udev_command


def _install() -> Entry:
    from operations.deploy import install
    return install.add_install_arguments, install.run_install_command


def _doctor() -> Entry:
    from operations.doctor import command
    return command.add_doctor_arguments, command.run_doctor_command


COMMANDS: tuple[Command, ...] = (
    Command(("demo",), "run a whole simulated hall on this machine", _demo),
    Command(("broker",), "run the embedded MQTT broker", _broker),
    Command(("queue",), "run the queue engine daemon", _queue),
    Command(("line",), "run the RS-485 line daemon of one serial port", _line,
            picture=("picture", _line_picture_options, _line_pictures)),
    Command(("bridge",), "run the bridge to the central backend", _bridge),
    Command(("voice",), "run the voice announcer daemon", _voice),
    Command(("voice", "pack"), "generate the default voice pack offline (espeak-ng)", _voice_pack),
    Command(("camera",), "run one camera's supervision daemon", _camera),
    Command(("kiosk",), "run a touchscreen kiosk (取号机)", _kiosk,
            picture=("screenshots", _kiosk_picture_options, _kiosk_pictures)),
    Command(("console",), "the duty manager's web console (值班长)", _console,
            picture=("screenshots", _console_picture_options,
                     _console_pictures)),
    Command(("bus", "schema"), "print the JSON Schema of every payload", _bus_schema),
    Command(("bus", "docs"), "print (or check) docs/bus.md from the registry", _bus_docs),
    Command(("bus", "request"), "send one request to the queue engine", _bus_request),
    Command(("config", "validate"), "check a site YAML file", _config_validate),
    Command(("config", "mosquitto"), "write the production Mosquitto config", _config_mosquitto),
    Command(("config", "show"), "print the site as the daemons see it, with defaults",
            _config_show),
    Command(("config", "diff"), "key-path differences between two site files", _config_diff),
    Command(("config", "migrate"), "bring a site file to the current config version",
            _config_migrate),
    Command(("config", "check"), "cross-check whole sites: devices, ports, profiles",
            _config_check),
    Command(("config", "udev"), "write udev rules: stable names for USB devices", _config_udev),
    Command(("metrics",), "Prometheus exporter of the hall's figures", _metrics),
    Command(("install",), "install the hall on this Debian machine (root)", _install),
    Command(("doctor",), "check a running hall and report what is wrong", _doctor),
)
# Words that only group subcommands (`hall bus …`, `hall config …`).
GROUPS = {"bus": "the bus contract", "config": "site configuration"}


def _chosen_word(argv: Sequence[str]) -> str | None:
    """The first word that names a command: only that command's modules are loaded to parse."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hall", description="政务服务大厅控制器 / Service hall controller"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    top = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = _chosen_word(argv)
    parsers: dict[tuple[str, ...], argparse.ArgumentParser] = {}
    nested: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for command in COMMANDS:
        first = command.words[0]
        if first in GROUPS and (first,) not in parsers:
            parsers[(first,)] = top.add_parser(first, help=GROUPS[first])
        if len(command.words) == 1:
            sub = top.add_parser(first, help=command.help)
        else:
            if first not in nested:
                # A group needs its subcommand; `hall voice` runs without one.
                nested[first] = parsers[(first,)].add_subparsers(
                    dest=f"{first}_command", required=first in GROUPS,
                    metavar=f"{first.upper()}_COMMAND")
            sub = nested[first].add_parser(command.words[1], help=command.help)
        parsers[command.words] = sub
        if first != chosen:
            continue
        add_options, run = command.load()
        add_options(sub)
        sub.set_defaults(run=run)
        if command.picture is not None:
            option, add_picture, load_picture = command.picture
            add_picture(sub)
            sub.set_defaults(picture_tool=(option, load_picture))
    return parser


def _daemon_name(args: argparse.Namespace) -> str:
    """`queue`, `line:line1`, `camera:desk`: what a log line says about where it came from."""
    instance = getattr(args, "port", None) if args.command == "line" else \
        getattr(args, "camera", None) or getattr(args, "kiosk", None)
    return f"{args.command}:{instance}" if isinstance(instance, str) and instance else args.command


def _handler_for(args: argparse.Namespace) -> Handler:
    run: Handler = args.run
    picture = getattr(args, "picture_tool", None)
    if isinstance(picture, tuple):
        option, load_picture = picture
        if getattr(args, option, None) is not None:
            tool: Handler = load_picture()
            return tool
    return run


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(words).parse_args(words)
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
