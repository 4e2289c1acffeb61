"""The layout shows the architecture: import layers hold, and each unit runs its own folder's code.

The layers are import-linter contracts in pyproject.toml, checked by the test command. These tests
show that the contracts bite (a wrong-way import is reported) and that every systemd unit's
`Code:` folder is where its `hall` subcommand's code lives.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.line.caller_keypad import ACTIONS
from hall_bus.contract import QUEUE_ACTIONS
from hall_bus.contract.line import KEYPAD_ACTIONS, PAD_ACTIONS
from operations import cli

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("operations", "demo", "daemons", "kiosk", "drivers", "firmware_config", "hall_bus")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first, so the packages are read from `tree`, not from the installed project.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _copy_packages(target: Path) -> None:
    shutil.copy(REPO / "pyproject.toml", target / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(REPO / package, target / package,
                        ignore=shutil.ignore_patterns("__pycache__", "static", "*.yaml"))


def test_the_import_contracts_hold() -> None:
    done = _lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(("module", "wrong_import", "complaint"), [
    ("hall_bus/ids.py", "from daemons.queue import store", "hall_bus is not allowed to import"),
    ("daemons/voice/pack.py", "from daemons.queue import rows",
     "daemons.voice is not allowed to import daemons.queue"),
    ("firmware_config/line.py", "from drivers.line import frame",
     "firmware_config is not allowed to import drivers"),
    ("kiosk/strings.py", "from demo import report", "kiosk is not allowed to import demo"),
])
def test_a_wrong_way_import_breaks_the_contracts(
    tmp_path: Path, module: str, wrong_import: str, complaint: str
) -> None:
    _copy_packages(tmp_path)
    path = tmp_path / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{wrong_import}  # noqa\n",
                    encoding="utf-8")
    done = _lint_imports(tmp_path)
    assert done.returncode != 0
    assert complaint in done.stdout, done.stdout


def _unit_homes() -> dict[str, tuple[str, str]]:
    """unit file -> (its `Code:` folder, the `hall` subcommand its ExecStart runs)."""
    found = {}
    for unit in sorted((REPO / "systemd").glob("*.service")):
        text = unit.read_text(encoding="utf-8")
        home = re.search(r"^# Code: (\S+)/ ", text, re.MULTILINE)
        command = re.search(r"^ExecStart=@HALL_BIN@ (\w+)", text, re.MULTILINE)
        assert home is not None and command is not None, unit.name
        found[unit.name] = (home.group(1), command.group(1))
    return found


def test_every_daemon_unit_runs_code_from_its_own_folder() -> None:
    homes = _unit_homes()
    assert len(homes) == 9
    entries = {command.words: command for command in cli.COMMANDS}
    for unit, (home, command) in homes.items():
        _, handler = entries[(command,)].load()
        package = home.replace("/", ".")
        assert handler.__module__.startswith(package + "."), (unit, handler.__module__)
    # One folder per unit: no two units share a home.
    assert len({home for home, _ in homes.values()}) == len(homes)


def test_keypad_keys_ask_only_for_the_actions_the_contract_grants_a_line() -> None:
    assert set(ACTIONS.values()) == set(KEYPAD_ACTIONS)
    assert set(KEYPAD_ACTIONS) | set(PAD_ACTIONS) <= set(QUEUE_ACTIONS)
