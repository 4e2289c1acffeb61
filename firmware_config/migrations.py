"""Site files of older config versions, brought up to the current one.

A hall's site file outlives the software that wrote it. On load, a file with an older `version:`
is migrated in memory, one version step at a time, and every change is reported so the operator
can see it and make it permanent with `hall config migrate FILE --write`. A file from a newer
version is refused: guessing what its unknown keys mean could run a hall wrongly.

Each step works on the plain data read from YAML, before validation, and returns what it changed
as `(key path, explanation)` pairs; the loader turns a key path into the file's line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firmware_config.site import CONFIG_VERSION

Data = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """One thing a migration step changed; `path` is dotted, in the file as it was written."""

    path: str
    message: str
    renamed_to: str | None = None  # the key's new name, when the change is a rename


class NewerVersionError(ValueError):
    """The file was written for a newer config version than this software knows."""


def _v1_to_v2(data: Data) -> list[Change]:
    # `ratings.time_limit_h` was read as "the time limit of a rating" and confused with the
    # bridge's `rating_upload_limit_h`; it is how long after service a late rating is accepted.
    changes = []
    ratings = data.get("ratings")
    if isinstance(ratings, dict) and "time_limit_h" in ratings:
        ratings["late_rating_limit_h"] = ratings.pop("time_limit_h")
        changes.append(Change("ratings.time_limit_h",
                              "改名为 / renamed to ratings.late_rating_limit_h",
                              renamed_to="late_rating_limit_h"))
    return changes


# version -> the step that turns a file of that version into the next one.
STEPS: dict[int, Callable[[Data], list[Change]]] = {1: _v1_to_v2}


def file_version(data: Data) -> int:
    """The file's `version:` (1 when absent: version 1 files could leave it out)."""
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"version: 应为正整数 / must be a positive integer, got {version!r}")
    return version


def migrate(data: Data) -> list[Change]:
    """Bring `data` (changed in place) to CONFIG_VERSION; returns the changes, [] if current."""
    version = file_version(data)
    if version > CONFIG_VERSION:
        raise NewerVersionError(
            f"version: 此文件为配置版本 {version}，本软件只支持到 {CONFIG_VERSION}，请先升级软件 / "
            f"the file is config version {version}; this software knows versions up to "
            f"{CONFIG_VERSION}: update the software first"
        )
    changes: list[Change] = []
    while version < CONFIG_VERSION:
        changes += STEPS[version](data)
        changes.append(Change("version", f"{version} → {version + 1}"))
        version += 1
        data["version"] = version
    return changes
