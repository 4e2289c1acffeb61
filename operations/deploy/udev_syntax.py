"""A strict check of udev rules syntax (udev(7)), for rules we generate.

Debian 12's udevadm (systemd 252) has no `udevadm verify` (it came with 253), and udev itself
only logs a bad rule and skips it, so a typo would silently leave a device unnamed. This checks
every line: `KEY[{attr}] OP "value"` pairs split by commas, known keys, operators each key
allows, and the values we rely on (MODE in octal, names and symlinks that are plain paths).
"""

from __future__ import annotations

import re

# key -> (may match, may assign, takes {attribute}: "yes" / "no" / "optional")
_KEYS: dict[str, tuple[bool, bool, str]] = {
    "ACTION": (True, False, "no"), "DEVPATH": (True, False, "no"),
    "KERNEL": (True, False, "no"), "KERNELS": (True, False, "no"),
    "SUBSYSTEM": (True, False, "no"), "SUBSYSTEMS": (True, False, "no"),
    "DRIVER": (True, False, "no"), "DRIVERS": (True, False, "no"),
    "ATTRS": (True, False, "yes"), "TAGS": (True, False, "no"),
    "TEST": (True, False, "optional"), "PROGRAM": (True, False, "no"),
    "RESULT": (True, False, "no"), "CONST": (True, False, "yes"),
    "NAME": (True, True, "no"), "SYMLINK": (True, True, "no"), "TAG": (True, True, "no"),
    "ATTR": (True, True, "yes"), "SYSCTL": (True, True, "yes"), "ENV": (True, True, "yes"),
    "OWNER": (False, True, "no"), "GROUP": (False, True, "no"), "MODE": (False, True, "no"),
    "RUN": (False, True, "optional"), "LABEL": (False, True, "no"),
    "GOTO": (False, True, "no"), "IMPORT": (False, True, "yes"),
    "OPTIONS": (False, True, "no"), "SECLABEL": (False, True, "yes"),
}
_MATCH_OPS = {"==", "!="}
_ASSIGN_OPS = {"=", "+=", "-=", ":="}
_PAIR = re.compile(r'\s*([A-Z]+)(?:\{([^{}"]+)\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"\\]*)"\s*')
_NAME = re.compile(r"^[a-z_][a-z0-9_-]*$")
_LINK = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class UdevSyntaxError(ValueError):
    pass


def _check_pair(key: str, attr: str | None, op: str, value: str, where: str) -> None:
    if key not in _KEYS:
        raise UdevSyntaxError(f"{where}: unknown key {key}")
    can_match, can_assign, takes_attr = _KEYS[key]
    if takes_attr == "yes" and attr is None:
        raise UdevSyntaxError(f"{where}: {key} needs an {{attribute}}")
    if takes_attr == "no" and attr is not None:
        raise UdevSyntaxError(f"{where}: {key} takes no {{attribute}}")
    if op in _MATCH_OPS and not can_match:
        raise UdevSyntaxError(f"{where}: {key} cannot be matched with {op}")
    if op in _ASSIGN_OPS and not can_assign:
        raise UdevSyntaxError(f"{where}: {key} cannot be assigned with {op}")
    if op in _ASSIGN_OPS:
        if key == "MODE" and not re.fullmatch(r"0?[0-7]{3}", value):
            raise UdevSyntaxError(f"{where}: MODE {value!r} is not an octal mode")
        if key in {"OWNER", "GROUP"} and not _NAME.match(value):
            raise UdevSyntaxError(f"{where}: {key} {value!r} is not a user or group name")
        if key == "SYMLINK" and (not _LINK.match(value) or ".." in value.split("/")):
            raise UdevSyntaxError(f"{where}: SYMLINK {value!r} must be a relative path")


def check_line(line: str, number: int) -> None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return
    if stripped.endswith("\\"):
        raise UdevSyntaxError(f"line {number}: continuation lines are not used here")
    position, pairs, assigns = 0, 0, 0
    while position < len(line):
        match = _PAIR.match(line, position)
        if match is None:
            raise UdevSyntaxError(f"line {number}: cannot parse at column {position + 1}: "
                                  f"{line[position:position + 30]!r}")
        key, attr, op, value = match.groups()
        _check_pair(key, attr, op, value, f"line {number}")
        pairs += 1
        assigns += op in _ASSIGN_OPS
        position = match.end()
        if position < len(line):
            if line[position] != ",":
                raise UdevSyntaxError(f"line {number}: expected ',' at column {position + 1}")
            position += 1
            if position == len(line):
                raise UdevSyntaxError(f"line {number}: trailing ','")
    if assigns == 0:
        raise UdevSyntaxError(f"line {number}: a rule that assigns nothing does nothing")


def check_rules(text: str) -> None:
    """Raise UdevSyntaxError naming the first bad line."""
    for number, line in enumerate(text.splitlines(), start=1):
        check_line(line, number)
