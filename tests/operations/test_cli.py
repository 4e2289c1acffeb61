"""The `hall` command: a table of subcommands, each owning its options, one way to refuse a site."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import repo_paths

from firmware_config.loader import EXIT_CONFIG
from operations import cli

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

REPO = repo_paths.REPO
SITES = REPO / "firmware_config" / "sites"


def _broken_site(folder: Path) -> tuple[Path, int]:
    """The township sample with one bad value; the file and the bad value's line."""
    text = (SITES / "township.yaml").read_text(encoding="utf-8")
    text = text.replace("expected_service_min: 8", "expected_service_min: -3", 1)
    line = next(number for number, content in enumerate(text.splitlines(), 1)
                if "expected_service_min: -3" in content)
    path = folder / "site.yaml"
    path.write_text(text, encoding="utf-8")
    return path, line

# Every command that reads the site, with the arguments it needs besides --site.
SITE_COMMANDS = [
    ["queue"], ["voice"], ["camera", "--camera", "desk"], ["bridge"], ["console"], ["metrics"],
    ["line", "--port", "line1"], ["kiosk", "--offscreen"], ["broker"],
    ["bus", "request", "describe"], ["config", "show"], ["config", "udev"], ["doctor"],
    ["voice", "pack"], ["demo", "--headless", "--seconds", "1"],
]


@pytest.mark.parametrize("command", SITE_COMMANDS, ids=" ".join)
def test_every_command_refuses_a_broken_site_the_same_way(
    tmp_path: Path, command: list[str]
) -> None:
    site, line = _broken_site(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "operations.cli", *command, "--site", str(site)],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
    )
    assert done.returncode == EXIT_CONFIG, done.stderr
    assert "invalid site configuration, 1 error(s)" in done.stderr
    # The error names the key path and the line, as `hall config validate` does.
    assert f"site.yaml:{line}: services.0.expected_service_min:" in done.stderr
    assert "Traceback" not in done.stderr


def test_only_the_chosen_commands_modules_are_loaded_to_parse() -> None:
    probe = (
        "import sys\n"
        "from operations.cli import build_parser\n"
        "build_parser(['config', 'validate', 'x.yaml']).parse_args(['config', 'validate', 'x'])\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('daemons', 'demo', 'kiosk', 'paho', 'amqtt', 'PySide6'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, cwd=REPO, check=True)
    assert done.stdout.strip() == ""


@pytest.mark.parametrize(("argv", "module", "function"), [
    (["voice"], "daemons.voice.daemon", "run_voice_command"),
    (["voice", "--site", "a.yaml", "pack"], "daemons.voice.pack_builder", "run_pack_command"),
    (["line", "--port", "line1"], "daemons.line.command", "run_line_command"),
    (["line", "--picture", "out"], "demo.pictures.line", "run_pictures_command"),
    (["kiosk", "--screenshots", "out"], "demo.pictures.kiosk", "run_pictures_command"),
    (["console", "--screenshots", "out"], "demo.pictures.console", "run_pictures_command"),
    (["-v", "config", "validate", "f.yaml"], "firmware_config.loader", "run_validate_command"),
])
def test_the_table_dispatches_each_command_to_its_own_code(
    argv: list[str], module: str, function: str
) -> None:
    handler = cli._handler_for(cli.build_parser(argv).parse_args(argv))
    assert (handler.__module__, handler.__name__) == (module, function)


def test_every_command_in_the_table_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for command in cli.COMMANDS:
        assert f"`hall {' '.join(command.words)}" in readme, command.words
