"""Whether the broker passwords are still root's alone.

Every daemon runs as the same user; only a root-only folder (its units hand each daemon its own
password as a systemd credential) keeps a daemon taken over from logging in as any other
daemon or as a network pad. A folder left readable by an old install or by hand is a warning,
not a fault: the hall still runs, but it has lost that wall."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from operations.doctor.findings import Finding, Level

AREA = "credentials"


def _loose(path: Path) -> str | None:
    """What makes `path` readable by others than root, or None."""
    info = path.lstat()
    if info.st_uid != 0:
        return f"{path.name}: 属主 / owner uid {info.st_uid}"
    if info.st_mode & 0o077:
        return f"{path.name}: {stat.filemode(info.st_mode)}"
    return None


def credentials_finding(folder: Path | None) -> Finding | None:
    """None for a development site (no per-account passwords)."""
    if folder is None:
        return None
    try:
        loose = [found for path in [folder, *sorted(folder.iterdir())]
                 if (found := _loose(path)) is not None]
    except FileNotFoundError:
        return Finding(AREA, str(folder), Level.FAILED,
                       "账号密码目录不存在 / the broker passwords folder is missing: run "
                       "`hall config mosquitto` or `hall install`")
    except PermissionError:
        if os.geteuid() != 0:
            # Not root: it is closed to us, as it should be, but the files cannot be looked at.
            return Finding(AREA, str(folder), Level.UNKNOWN,
                           "非 root 无法检查 / only root can look inside")
        raise
    if loose:
        return Finding(AREA, str(folder), Level.WARNING,
                       "不止 root 可读 / readable by others than root ("
                       + ", ".join(loose[:3]) + (", …" if len(loose) > 3 else "")
                       + "): a daemon could log in as another; run `hall install` again")
    return Finding(AREA, str(folder), Level.OK, "仅 root 可读 / root only; each unit loads its own")
