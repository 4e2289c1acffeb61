"""`hall config show | diff | migrate | check`: the site file as the hall's staff work with it.

- show: the site as the daemons see it, every default filled in (YAML, or JSON with --json);
  the shared broker password is masked.
- diff: what differs between two site files, one key path a line, list items named by their id.
- migrate: what loading an older config version changes; --write rewrites the file in place
  (comments kept, the old file kept as FILE.bak).
- check: the whole-site cross-check (firmware_config/site_check.py).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from firmware_config.loader import (
    ConfigError,
    ConfigIssue,
    SiteDocument,
    add_site_argument,
    read_site,
    read_site_or_exit,
)
from firmware_config.site import SiteConfig

MASK = "********"
_ITEM_KEYS = ("id", "name", "service", "window")  # what names a list item in a diff


def resolved(site: SiteConfig) -> dict[str, Any]:
    """The site with every default, as plain data; the shared broker password masked."""
    data: dict[str, Any] = site.model_dump(mode="json")
    data["broker"]["password"] = MASK
    return data


def _load(path: Path | None) -> SiteDocument | None:
    """For the checkers (diff, check), which report an invalid file among their findings."""
    try:
        return read_site(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def add_show_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall config show`."""
    add_site_argument(parser)
    parser.add_argument("--json", action="store_true", help="JSON instead of YAML")


def run_show_command(args: argparse.Namespace) -> int:
    document = read_site_or_exit(args.site)
    data = resolved(document.site)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100), end="")
    return 0


# --- diff ---------------------------------------------------------------------------------------


def _item_name(item: object, index: int) -> str:
    if isinstance(item, dict):
        for key in _ITEM_KEYS:
            value = item.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return f"{key}={value}"
    return str(index)


def _flatten(value: object, path: str = "", items: dict[str, object] | None = None
             ) -> Iterator[tuple[str, object]]:
    """(key path, leaf value) pairs; `items` collects every named list item by its path."""
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield from _flatten(inner, f"{path}.{key}" if path else str(key), items)
    elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        names = [_item_name(item, i) for i, item in enumerate(value)]
        if len(set(names)) != len(names):  # not uniquely named: compare by position
            names = [str(i) for i in range(len(value))]
        for name, item in zip(names, value, strict=True):
            if items is not None:
                items[f"{path}[{name}]"] = item
            yield from _flatten(item, f"{path}[{name}]", items)
    else:
        yield path, value


def _whole_item(path: str, other_items: dict[str, object]) -> str | None:
    """The outermost list item around `path` that the other side lacks altogether."""
    for end in range(len(path)):
        if path[end] == "]" and path[:end + 1] not in other_items:
            return path[:end + 1]
    return None


def diff_sites(old: SiteConfig, new: SiteConfig) -> list[str]:
    """Readable differences, one key path a line: `~ a.b: x → y`, `+ a.c: z`, `- a.d: w`; an
    added or removed list item is one line."""
    old_items: dict[str, object] = {}
    new_items: dict[str, object] = {}
    before = dict(_flatten(resolved(old), items=old_items))
    after = dict(_flatten(resolved(new), items=new_items))
    lines: list[str] = []
    for path in dict.fromkeys([*before, *after]):
        if path in before and path in after:
            if before[path] != after[path]:
                lines.append(f"~ {path}: {_show(before[path])} → {_show(after[path])}")
            continue
        sign, value, own, other = (("-", before[path], old_items, new_items) if path in before
                                   else ("+", after[path], new_items, old_items))
        item = _whole_item(path, other)
        line = f"{sign} {path}: {_show(value)}" if item is None else f"{sign} {item}: " \
            f"{_show(own[item])}"
        if line not in lines:
            lines.append(line)
    return lines


def _show(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def add_diff_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall config diff`."""
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)


def run_diff_command(args: argparse.Namespace) -> int:
    """Exit 0 when the two sites are the same hall, 1 when they differ, 2 when one is invalid."""
    old, new = _load(args.old), _load(args.new)
    if old is None or new is None:
        return 2
    lines = diff_sites(old.site, new.site)
    for line in lines:
        print(line)
    if not lines:
        print("相同 / no differences")
    return 1 if lines else 0


# --- migrate ------------------------------------------------------------------------------------


def _rewrite(text: str, document: SiteDocument, changes: list[ConfigIssue],
             renames: dict[str, str]) -> str:
    """The file's text with migrated keys renamed where they stand and the new version."""
    lines = text.splitlines(keepends=True)
    for issue in changes:
        new_key = renames.get(issue.path)
        if new_key is None or issue.line is None or issue.column is None:
            continue
        old_key = issue.path.rsplit(".", 1)[-1]
        row, start = issue.line - 1, issue.column - 1
        if lines[row][start:start + len(old_key)] == old_key:
            lines[row] = lines[row][:start] + new_key + lines[row][start + len(old_key):]
    version = document.site.version
    version_line = re.compile(r"^(version\s*:\s*)\S+(.*)$", re.S)
    for row, line in enumerate(lines):
        match = version_line.match(line)
        if match:
            lines[row] = f"{match.group(1)}{version}{match.group(2)}"
            break
    else:
        first = next((row for row, line in enumerate(lines)
                      if line.strip() and not line.lstrip().startswith("#")), len(lines))
        lines.insert(first, f"version: {version}\n")
    return "".join(lines)


def add_migrate_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall config migrate`."""
    parser.add_argument("file", type=Path)
    parser.add_argument("--write", action="store_true", help="rewrite FILE (old one: FILE.bak)")


def run_migrate_command(args: argparse.Namespace) -> int:
    path: Path = args.file
    document = read_site_or_exit(path)
    if not document.migrated:
        print(f"{path}: 已是当前版本 {document.site.version} / already config version "
              f"{document.site.version}")
        return 0
    for issue in document.migrated:
        print(issue)
    if not args.write:
        print("未写入；加 --write 保存（原文件保留为 .bak） / not written; add --write to "
              "save it (the old file is kept as FILE.bak)")
        return 0
    new_text = _rewrite(document.text, document, document.migrated, document.renames)
    try:
        check = read_site_text_checked(new_text, str(path))
    except ConfigError as exc:
        print(f"迁移后的文件无效，未写入 / the migrated file would be invalid, not written:\n{exc}",
              file=sys.stderr)
        return 1
    backup = path.with_name(path.name + ".bak")
    shutil.copy2(path, backup)
    path.write_text(new_text, encoding="utf-8")
    print(f"已写入 / written: {path} (version {check.site.version}); 原文件 / old file: {backup}")
    return 0


def read_site_text_checked(text: str, file: str) -> SiteDocument:
    """The rewritten text must load as the current version with nothing left to migrate."""
    from firmware_config.loader import read_site_text

    document = read_site_text(text, file)
    if document.migrated:
        raise ConfigError(document.migrated)
    return document


# --- check --------------------------------------------------------------------------------------


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall config check`."""
    parser.add_argument("files", type=Path, nargs="+")


def run_check_command(args: argparse.Namespace) -> int:
    from firmware_config.site_check import check_site

    failed = 0
    for path in args.files:
        document = _load(path)
        if document is None:
            failed += 1
            continue
        issues = check_site(document)
        for issue in issues:
            print(issue, file=sys.stderr)
        if issues:
            failed += 1
            print(f"{path}: 交叉检查未通过，共 {len(issues)} 处 / cross-check failed: "
                  f"{len(issues)} issue(s)", file=sys.stderr)
        else:
            site = document.site
            devices = sum(len(line.devices) for line in site.lines) + len(site.network_devices)
            print(f"OK: {path}: {len(site.windows)} windows, {len(site.lines)} lines, "
                  f"{devices} devices, {len(site.kiosks)} kiosks, {len(site.cameras)} cameras")
    return 1 if failed else 0
