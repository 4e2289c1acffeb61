"""Read a site YAML file into a `SiteConfig`, with every error pointing at its line.

A site file is edited by hand on the hall's machine, often over SSH, so an error has to say where
it is: each one is reported as `FILE:LINE: key.path: message`. The YAML is composed into a node
tree first, which still knows where every key and list item came from; that tree gives a
path -> position index and catches duplicate keys (plain PyYAML keeps the last one silently).
Only then is the data built and handed to pydantic, whose error locations are looked up in the
index. Errors raised by the cross-checks in site.py start with a dotted path of their own, which
is parsed and looked up the same way.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from firmware_config.migrations import migrate
from firmware_config.site import SiteConfig

log = logging.getLogger("hall.config")

_SITES_DIR = Path(__file__).resolve().parent / "sites"


def default_site_path() -> Path:
    """The bundled demo hall, found next to this module so it works from any working directory."""
    return _SITES_DIR / "demo.yaml"


# --- errors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a site file; `line` and `column` are 1-based, None when unknown."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(ValueError):
    """A site file could not be read or is invalid; the message has one line per issue."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = issues

    @classmethod
    def single(
        cls, file: str, message: str, line: int | None = None, column: int | None = None
    ) -> ConfigError:
        """An error about the file as a whole (or one spot in it, outside any key path)."""
        return cls([ConfigIssue(file, line, column, "", message)])


# --- YAML ---------------------------------------------------------------------------------------

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


class _SiteYamlLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's base-60 and leading-zero-octal numbers.

    Under YAML 1.1 `closing_time: 17:30` is the integer 1050 (base 60), which pydantic would then
    read as 00:17:30; `08:30` stays a string only by luck of its leading zero, and `010` would be 8.
    Site authors mean the text they typed, so only plain decimal (and 0x hex) numbers are numbers.
    """


# The resolver table is a class attribute shared with SafeLoader; rebuild a private copy without
# the int and float rules, then add narrower ones.
_SiteYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in rules if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, rules in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SiteYamlLoader.add_implicit_resolver(
    _INT_TAG,
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_SiteYamlLoader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)

_MERGE_TAG = "tag:yaml.org,2002:merge"

# A key path as text segments: mapping keys as written, list indices as decimal strings. Pydantic's
# `loc` and the dotted paths of site.py both reduce to this form.
_KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class _Position:
    line: int
    column: int


def _position(node: yaml.Node) -> _Position:
    return _Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _dotted(path: _KeyPath) -> str:
    return ".".join(path)


def _index_nodes(
    node: yaml.Node,
    path: _KeyPath,
    positions: dict[_KeyPath, _Position],
    duplicates: list[ConfigIssue],
    file: str,
    active: set[int],
) -> None:
    # `active` holds the nodes on the current branch: an alias may point back at its own ancestor.
    if id(node) in active:
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_seen: dict[tuple[str, str], _Position] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue  # `<<: *anchor`: keys written here override merged ones by design
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            here = _position(key_node)
            seen = first_seen.get((key_node.tag, key))
            if seen is not None:
                duplicates.append(
                    ConfigIssue(
                        file, here.line, here.column, _dotted((*path, key)),
                        f"重复的键 {key!r}，第 {seen.line} 行已经写过 / "
                        f"duplicate key {key!r}, first at line {seen.line}",
                    )
                )
                continue
            first_seen[(key_node.tag, key)] = here
            positions[(*path, key)] = here
            _index_nodes(value_node, (*path, key), positions, duplicates, file, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            positions[(*path, str(index))] = _position(item)
            _index_nodes(item, (*path, str(index)), positions, duplicates, file, active)
    active.discard(id(node))


@dataclass(frozen=True)
class _Document:
    data: Any
    positions: dict[_KeyPath, _Position]


def _parse_yaml(text: str, file: str) -> _Document:
    loader: _SiteYamlLoader | None = None
    try:
        # Inside the try: the reader already rejects control characters while being built.
        loader = _SiteYamlLoader(text)
        root = loader.get_single_node()
        if root is None:
            raise ConfigError.single(
                file, "文件为空（或只有注释） / the file is empty (or only comments)"
            )
        positions: dict[_KeyPath, _Position] = {(): _position(root)}
        duplicates: list[ConfigIssue] = []
        _index_nodes(root, (), positions, duplicates, file, set())
        if duplicates:
            raise ConfigError(duplicates)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = ", ".join(part for part in (exc.context, exc.problem) if part) or "unreadable"
        line = None if mark is None else mark.line + 1
        column = None if mark is None else mark.column + 1
        raise ConfigError.single(
            file, f"YAML 语法错误 / YAML syntax error: {problem}", line, column
        ) from exc
    except yaml.reader.ReaderError as exc:
        # A character YAML forbids (e.g. a control character); it knows only its offset.
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError.single(
            file, f"YAML 读取错误 / YAML error: character #x{exc.character:04x} is not allowed",
            line,
        ) from exc
    except yaml.YAMLError as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError.single(file, f"YAML 读取错误 / YAML error: {message}") from exc
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict):
        kind = "list" if isinstance(data, list) else type(data).__name__
        where = positions[()]
        raise ConfigError.single(
            file,
            f"顶层必须是“键: 值”映射 / the top level must be a mapping of keys, got {kind}",
            where.line,
            where.column,
        )
    return _Document(data, positions)


# --- validation errors -> lines -----------------------------------------------------------------

_ZH_BY_TYPE = {
    "missing": "缺少必填项",
    "extra_forbidden": "未知的键（拼写错误，或此处不允许）",
    "greater_than": "数值超出范围",
    "greater_than_equal": "数值超出范围",
    "less_than": "数值超出范围",
    "less_than_equal": "数值超出范围",
    "string_too_short": "长度不符合要求",
    "string_too_long": "长度不符合要求",
    "too_short": "数量不符合要求",
    "too_long": "数量不符合要求",
    "string_pattern_mismatch": "格式不符合要求",
    "time_parsing": "时间格式错误，应为 HH:MM",
    "time_type": "时间格式错误，应为 HH:MM",
}

# Chinese for the English messages of site.py's own validators, matched by a phrase in them;
# a message not listed here still gets a generic Chinese label.
_ZH_BY_MESSAGE = (
    ("unknown service", "未知的事项"),
    ("unknown window", "未知的窗口"),
    ("unknown time zone", "未知的时区"),
    ("listed twice", "重复列出"),
    ("duplicate", "重复"),
    ("no window serves", "没有窗口办理此事项"),
    ("opening_time must be before", "开始营业时间必须早于结束营业时间"),
)

# Leading dotted path of a site.py message: `windows.3.services.1.service: unknown service 'x'`.
_LEADING_PATH = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)(?::\s+|\s+)(.*)$", re.S)


def _describe_input(value: object) -> str:
    if isinstance(value, bool | int | float | str) or value is None:
        return f" (got {value!r})"
    return ""


def _issue_message(error: ErrorDetails) -> tuple[_KeyPath, str]:
    """The key path an error belongs to and its Chinese / English message."""
    loc = tuple(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "missing":
        return loc, "缺少必填项 / required key is missing"
    if kind == "extra_forbidden":
        return loc, "未知的键（拼错了，或此处不允许） / unknown key (misspelt, or not allowed here)"
    if kind == "value_error":
        cause = (error.get("ctx") or {}).get("error")
        english = str(cause) if cause is not None else error["msg"].removeprefix("Value error, ")
        match = _LEADING_PATH.match(english)
        if not loc and match and match.group(1).split(".")[0] in SiteConfig.model_fields:
            # A cross-check in site.py: its message names the path; `loc` is only the root.
            loc = tuple(match.group(1).split("."))
            if english[len(match.group(1))] == ":":
                english = match.group(2)
        zh = next((zh for phrase, zh in _ZH_BY_MESSAGE if phrase in english), "取值无效")
        return loc, f"{zh} / {english}"
    if kind in _ZH_BY_TYPE:
        zh = _ZH_BY_TYPE[kind]
    elif kind.endswith(("_type", "_parsing")):
        zh = "类型错误"
    else:
        zh = "取值无效"
    english = error["msg"] + _describe_input(error.get("input"))
    if kind == "string_type" and isinstance(error.get("input"), int | float):
        zh += "（纯数字请加引号，如 \"1001\"）"
    return loc, f"{zh} / {english}"


def _locate(path: _KeyPath, positions: dict[_KeyPath, _Position]) -> _Position | None:
    # A missing key has no node of its own: point at the deepest part of its path that exists.
    for end in range(len(path), -1, -1):
        found = positions.get(path[:end])
        if found is not None:
            return found
    return None


def _validation_issues(exc: ValidationError, document: _Document, file: str) -> list[ConfigIssue]:
    issues = []
    for error in exc.errors():
        path, message = _issue_message(error)
        where = _locate(path, document.positions)
        issues.append(
            ConfigIssue(
                file,
                None if where is None else where.line,
                None if where is None else where.column,
                _dotted(path),
                message,
            )
        )
    issues.sort(key=lambda issue: (issue.line or 0, issue.column or 0))
    return issues


# --- public API ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteDocument:
    """A validated site with where its keys are in the file and what a migration changed."""

    site: SiteConfig
    file: str
    text: str
    migrated: list[ConfigIssue]  # one per change, at the line of the key as written
    positions: dict[_KeyPath, _Position]
    # Key path as written -> the key's new name, for the migrations that rename a key.
    renames: dict[str, str] = field(default_factory=dict)

    def issue(self, path: str, message: str) -> ConfigIssue:
        """An issue about `path` (dotted key path), located at its line in the file."""
        return _issue_at(self.file, path, self.positions, message)


def _issue_at(
    file: str, path: str, positions: dict[_KeyPath, _Position], message: str
) -> ConfigIssue:
    where = _locate(tuple(path.split(".")) if path else (), positions)
    return ConfigIssue(file, None if where is None else where.line,
                       None if where is None else where.column, path, message)


def read_site_text(text: str, file: str = "<site>") -> SiteDocument:
    """Parse, migrate (an older `version:`) and validate site YAML text."""
    document = _parse_yaml(text, file)
    try:
        changes = migrate(document.data)
    except ValueError as exc:
        message = str(exc).removeprefix("version: ")
        raise ConfigError([_issue_at(file, "version", document.positions, message)]) from exc
    migrated = [_issue_at(file, change.path, document.positions, change.message)
                for change in changes]
    if migrated:
        log.warning("%s: 旧版本配置已在内存中迁移，用 `hall config migrate %s --write` 保存 / "
                    "migrated from an older config version in memory:\n%s",
                    file, file, "\n".join(f"  {issue}" for issue in migrated))
    try:
        site = SiteConfig.model_validate(document.data)
    except ValidationError as exc:
        raise ConfigError(_validation_issues(exc, document, file)) from exc
    renames = {change.path: change.renamed_to for change in changes if change.renamed_to}
    return SiteDocument(site, file, text, migrated, document.positions, renames)


def parse_site(text: str, file: str = "<site>") -> SiteConfig:
    """Validate site YAML text; `file` is only used to label errors."""
    return read_site_text(text, file).site


def read_site(path: Path | None = None) -> SiteDocument:
    """Like `load_site`, keeping the text, key positions and migration changes."""
    path = default_site_path() if path is None else path
    return read_site_text(_read_text(path), str(path))


def _read_text(path: Path) -> str:
    file = str(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError.single(file, "找不到文件 / file not found") from exc
    except IsADirectoryError as exc:
        raise ConfigError.single(file, "这是目录，不是文件 / is a directory, not a file") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError.single(file, "文件不是 UTF-8 编码 / the file is not UTF-8 text") from exc
    except OSError as exc:
        raise ConfigError.single(
            file, f"无法读取文件 / cannot read the file: {exc.strerror}"
        ) from exc


def load_site(path: Path | None = None) -> SiteConfig:
    """Load and validate a site file (default: the bundled demo hall); raises `ConfigError`."""
    return read_site(path).site


def add_site_argument(parser: argparse.ArgumentParser) -> None:
    """`--site FILE`, the same for every command that reads the hall's site."""
    parser.add_argument(
        "--site",
        type=Path,
        default=None,
        help="site YAML (default: the bundled demo hall, firmware_config/sites/demo.yaml)",
    )


# sysexits.h EX_CONFIG. A daemon whose site file is broken exits with it, and its unit does not
# restart it (RestartPreventExitStatus= in systemd/hall-.service.d): restarting cannot mend a file.
EXIT_CONFIG = 78


def read_site_or_exit(path: Path | None) -> SiteDocument:
    """The site file for a command, or exit with `EXIT_CONFIG` and every error logged, key path
    and line included: the one way every command and daemon reports a site it cannot use."""
    try:
        return read_site(path)
    except ConfigError as exc:
        logging.getLogger("hall.config").error(
            "站点配置无效，共 %d 处错误 / invalid site configuration, %d error(s):\n%s",
            len(exc.issues), len(exc.issues), exc)
        raise SystemExit(EXIT_CONFIG) from None


def load_site_or_exit(path: Path | None) -> SiteConfig:
    """The site for a command, or exit with `EXIT_CONFIG` (see `read_site_or_exit`)."""
    return read_site_or_exit(path).site


def add_validate_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall config validate`."""
    parser.add_argument("file", type=Path)


def run_validate_command(args: argparse.Namespace) -> int:
    """`hall config validate FILE`: 0 and a one-line summary, or 1 and the errors on stderr."""
    file: Path = args.file
    try:
        site = load_site(file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        count = len(exc.issues)
        print(f"配置无效，共 {count} 处错误 / invalid site configuration: {count} error(s)",
              file=sys.stderr)
        return 1
    print(
        f"OK: {file}: hall {site.hall_id} {site.name_zh}, {len(site.services)} services, "
        f"{len(site.windows)} windows, {len(site.staff)} staff"
    )
    return 0
