"""`hall install`: put a hall on a Debian machine, as root.

It creates the `hall` user and its state folder, copies the site config to /etc/hall, writes the
systemd units, links the units this site needs into hall.target.wants (as `systemctl enable`
would), writes the udev rules and the Mosquitto configuration, then reloads systemd and udev and
enables hall.target. `--root DIR` writes everything below a staging folder and runs nothing (for
images and tests); `--dry-run` prints the plan and changes nothing.

With `broker.credentials_dir` the folder of every account's password becomes root's alone (0700,
files 0600), and each daemon's unit loads just its own password as a systemd credential
(units.credential_drop_ins): a daemon taken over cannot log in as another daemon or a LAN device.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from firmware_config.site import SiteConfig
from operations.deploy.preflight import check_before_install
from operations.deploy.udev_rules import RULES_NAME, render_rules
from operations.deploy.units import (
    BROKER_DROP_IN,
    BROKERS,
    CREDENTIAL_DROP_IN,
    EMBEDDED_BROKER_UNIT,
    MOSQUITTO_UNIT,
    TARGET,
    UnitSettings,
    broker_drop_in,
    credential_drop_ins,
    template_of,
    unit_sources,
    wanted_units,
    write_units,
)

CONFIG_DIR = Path("/etc/hall")
SITE_FILE = CONFIG_DIR / "site.yaml"
UNIT_DIR = Path("/etc/systemd/system")
VENDOR_UNIT_DIR = Path("/lib/systemd/system")
UDEV_DIR = Path("/etc/udev/rules.d")
MOSQUITTO_DIR = Path("/etc/mosquitto/hall")
MOSQUITTO_STATE = Path("/var/lib/mosquitto")


def default_hall_bin() -> Path:
    """The `hall` of the environment running this command (the checkout's .venv)."""
    return Path(sys.executable).parent / "hall"


@dataclass(frozen=True)
class InstallOptions:
    site_source: Path
    root: Path | None = None  # staging root: write below it, run nothing
    broker: str = "mosquitto"
    kiosk: bool = False
    kiosk_id: str | None = None  # which of the site's kiosks this machine is (default: the first)
    console: bool = True
    metrics: bool = True
    user: str = "hall"
    hall_bin: Path = field(default_factory=default_hall_bin)

    @property
    def staged(self) -> bool:
        return self.root is not None

    def path(self, real: Path) -> Path:
        """Where a file of the real machine is written: below the staging root, if any."""
        return self.root / real.relative_to("/") if self.root is not None else real


@dataclass
class Step:
    text: str
    action: Callable[[], None]
    # Commands on the live system (user, chown, systemctl, udevadm): not run into a staging root.
    system_only: bool = False


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True)


def _run_each(*commands: list[str]) -> Callable[[], None]:
    def run() -> None:
        for argv in commands:
            _run(*argv)

    return run


def _chown(path: Path, user: str, group: str) -> None:
    shutil.chown(path, user, group)


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


def _user_exists(user: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def plan(site: SiteConfig, options: InstallOptions) -> list[Step]:
    o = options
    data_dir = site.data_dir
    check_before_install(site, o.hall_bin, o.broker, on_this_machine=not o.staged)
    steps: list[Step] = []

    def add(text: str, action: Callable[[], None], system_only: bool = False) -> None:
        steps.append(Step(text, action, system_only))

    if not _user_exists(o.user) or o.staged:
        add(f"创建系统用户 / create system user {o.user} (home {data_dir}, no login)",
            _run_each(["useradd", "--system", "--user-group", "--home-dir", str(data_dir),
                       "--no-create-home", "--shell", "/usr/sbin/nologin", o.user]),
            system_only=True)

    def make_dirs() -> None:
        o.path(CONFIG_DIR).mkdir(mode=0o750, parents=True, exist_ok=True)
        o.path(data_dir).mkdir(mode=0o750, parents=True, exist_ok=True)

    add(f"创建目录 / create {CONFIG_DIR} and the state folder {data_dir}", make_dirs)

    def copy_site() -> None:
        target = o.path(SITE_FILE)
        if o.site_source.resolve() != target.resolve():
            shutil.copyfile(o.site_source, target)
        target.chmod(0o640)  # it holds the broker password

    add(f"复制站点配置 / copy the site config {o.site_source} -> {SITE_FILE}", copy_site)

    def own() -> None:
        _chown(CONFIG_DIR, "root", o.user)
        _chown(SITE_FILE, "root", o.user)
        _chown(data_dir, o.user, o.user)

    add(f"设置属主 / owners: {CONFIG_DIR} root:{o.user}, {data_dir} {o.user}:{o.user}", own,
        system_only=True)

    kiosk_id = _kiosk_id(site, o)
    settings = UnitSettings(hall_bin=o.hall_bin, site_file=SITE_FILE, data_dir=data_dir,
                            config_dir=CONFIG_DIR, mosquitto_conf=MOSQUITTO_DIR / "hall.conf",
                            user=o.user)
    add(f"写入 systemd 单元 / write the systemd units into {UNIT_DIR}",
        lambda: _write_units(settings, o, site, kiosk_id))
    units = wanted_units(site, broker=o.broker, kiosk=o.kiosk, console=o.console,
                         metrics=o.metrics)
    add(f"{TARGET} 需要 / wants: {' '.join(units)}", lambda: _link_wants(units, o))
    add(f"写入 udev 规则 / write the udev rules {UDEV_DIR / RULES_NAME}",
        lambda: _write_udev(site, o))
    if o.broker == "mosquitto":
        add(f"生成 Mosquitto 配置 / write the Mosquitto config into {MOSQUITTO_DIR}",
            lambda: _write_mosquitto(site, o))
        add("Mosquitto 配置交给 mosquitto 组 / Mosquitto config readable by group mosquitto",
            _own_mosquitto_files, system_only=True)
    else:
        add(f"停用系统 Mosquitto / disable the system {MOSQUITTO_UNIT} (the hall runs "
            f"{EMBEDDED_BROKER_UNIT})",
            _run_each(["systemctl", "disable", "--now", MOSQUITTO_UNIT]), system_only=True)
    credentials = site.broker.credentials_dir
    if credentials is not None:
        add(f"账号密码仅 root 可读 / broker passwords in {credentials}: root only (0700, files "
            "0600); each unit loads its own",
            lambda: _lock_credentials(site, credentials, o))
        add(f"账号密码属主 / owner of {credentials}: root:root",
            lambda: _own_by_root(credentials), system_only=True)
    add("重新加载 udev 规则 / reload udev rules",
        _run_each(["udevadm", "control", "--reload"], ["udevadm", "trigger"]),
        system_only=True)
    add(f"重新加载 systemd 并启用 / systemctl daemon-reload, enable {TARGET}",
        _run_each(["systemctl", "daemon-reload"], ["systemctl", "enable", TARGET]),
        system_only=True)
    return steps


def _kiosk_id(site: SiteConfig, o: InstallOptions) -> str | None:
    """The kiosk this machine runs, whose broker password its unit loads."""
    if not o.kiosk:
        return None
    known = [kiosk.id for kiosk in site.kiosks]
    if o.kiosk_id is None:
        return known[0] if known else None
    if o.kiosk_id not in known:
        raise ValueError(f"站点中没有取号机 {o.kiosk_id!r} / no kiosk {o.kiosk_id!r} in the site "
                         f"(kiosks: {', '.join(known) or '—'})")
    return o.kiosk_id


def _write_units(settings: UnitSettings, o: InstallOptions, site: SiteConfig,
                 kiosk_id: str | None) -> None:
    write_units(settings, o.path(UNIT_DIR))
    credentials = site.broker.credentials_dir
    drop_ins = {} if credentials is None else credential_drop_ins(credentials, kiosk_id)
    units = [source.name for source in unit_sources() if source.parent == Path(".")]
    for unit in [*units, *BROKERS.values()]:
        # A password drop-in of an earlier install (another kiosk, no credentials folder now).
        stale = o.path(UNIT_DIR / f"{unit}.d" / CREDENTIAL_DROP_IN)
        if stale.relative_to(o.path(UNIT_DIR)) not in drop_ins:
            stale.unlink(missing_ok=True)
    for relative, text in drop_ins.items():
        path = o.path(UNIT_DIR / relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
    o.path(UNIT_DIR / BROKER_DROP_IN).write_text(broker_drop_in(o.broker), encoding="utf-8")
    if o.broker != "mosquitto":
        # Debian's Mosquitto, if started by hand, runs its own config, not a hall config that
        # this install does not write.
        o.path(UNIT_DIR / f"{MOSQUITTO_UNIT}.d" / "hall.conf").unlink(missing_ok=True)
    # What `systemctl enable hall.target` makes; made here too so a staged root boots the hall.
    _link(o.path(UNIT_DIR / "multi-user.target.wants" / TARGET), UNIT_DIR / TARGET)


def _link_wants(units: list[str], o: InstallOptions) -> None:
    wants = o.path(UNIT_DIR / f"{TARGET}.wants")
    wants.mkdir(parents=True, exist_ok=True)
    # A line or camera taken out of the site, or a broker swapped, must stop being started.
    managed = {*BROKERS.values()}
    for old in wants.iterdir():
        if (old.name.startswith("hall-") or old.name in managed) and old.name not in units:
            old.unlink()
    for unit in units:
        home = VENDOR_UNIT_DIR if unit == MOSQUITTO_UNIT else UNIT_DIR
        _link(wants / unit, home / template_of(unit))


def _write_udev(site: SiteConfig, o: InstallOptions) -> None:
    rules = o.path(UDEV_DIR / RULES_NAME)
    rules.parent.mkdir(parents=True, exist_ok=True)
    rules.write_text(render_rules(site), encoding="utf-8")
    rules.chmod(0o644)


def _write_mosquitto(site: SiteConfig, o: InstallOptions) -> None:
    from firmware_config.mosquitto_config import render_mosquitto_config

    credentials = site.broker.credentials_dir
    if o.root is not None and credentials is not None:
        # Passwords made for missing accounts go into the staging root too.
        broker = site.broker.model_copy(update={"credentials_dir": o.path(credentials)})
        site = site.model_copy(update={"broker": broker})
    conf = render_mosquitto_config(site, o.path(MOSQUITTO_DIR),
                                   data_dir=o.path(MOSQUITTO_STATE), run_user="mosquitto")
    if o.root is not None:
        # The files name each other by absolute path: the machine's, not the staging folder's.
        staged_prefix = str(o.root.resolve())
        for path in conf.parent.iterdir():
            text = path.read_text(encoding="utf-8")
            if staged_prefix in text:
                path.write_text(text.replace(staged_prefix, ""), encoding="utf-8")


def _lock_credentials(site: SiteConfig, credentials: Path, o: InstallOptions) -> None:
    from firmware_config.broker_accounts import site_accounts
    from firmware_config.broker_credentials import ensure_passwords

    # The embedded broker's hall has no `hall config mosquitto` to make them: make them here.
    folder = o.path(credentials)
    ensure_passwords(folder, [account.name for account in site_accounts(site)])
    folder.chmod(0o700)
    for path in folder.iterdir():
        path.chmod(0o600)


def _own_by_root(credentials: Path) -> None:
    # Only root (systemd, loading each unit's credential; the operator's tools) reads them.
    _chown(credentials, "root", "root")
    for path in credentials.iterdir():
        _chown(path, "root", "root")


def _own_mosquitto_files() -> None:
    for path in MOSQUITTO_DIR.iterdir():
        _chown(path, "root", "mosquitto")


def run_plan(steps: list[Step], o: InstallOptions, dry_run: bool) -> int:
    for number, step in enumerate(steps, start=1):
        skipped = dry_run or (step.system_only and o.staged)
        note = " (计划 / planned)" if dry_run else " (跳过：暂存目录 / skipped: staging root)" \
            if skipped else ""
        print(f"{number:2d}. {step.text}{note}", flush=True)
        if not skipped:
            step.action()
    return 0


def add_install_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall install`."""
    parser.add_argument("--site", type=Path, default=None,
                        help="site YAML to install (default: /etc/hall/site.yaml)")
    parser.add_argument("--root", type=Path, default=None,
                        help="write below this staging folder, run no system command")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--broker", choices=["mosquitto", "embedded"], default="mosquitto",
                        help="the hall's broker: Debian's Mosquitto (default) or `hall broker`")
    parser.add_argument("--kiosk", nargs="?", const="", default=None, metavar="ID",
                        help="this machine is also a kiosk: the site's kiosk ID (default: first)")
    parser.add_argument("--no-console", action="store_true", help="no manager console here")
    parser.add_argument("--no-metrics", action="store_true", help="no metrics exporter here")
    parser.add_argument("--user", default="hall", help="system user the daemons run as")
    parser.add_argument("--hall-bin", type=Path, default=None,
                        help="the `hall` program the units run (default: this one)")


def run_install_command(args: argparse.Namespace) -> int:
    from firmware_config.loader import load_site_or_exit

    site_source: Path = args.site or SITE_FILE
    site = load_site_or_exit(site_source)
    options = InstallOptions(site_source=site_source, root=args.root, broker=args.broker,
                             kiosk=args.kiosk is not None, kiosk_id=args.kiosk or None,
                             console=not args.no_console,
                             metrics=not args.no_metrics, user=args.user,
                             hall_bin=args.hall_bin or default_hall_bin())
    if options.root is None and not args.dry_run and os.geteuid() != 0:
        print("需要 root 权限 / run as root (or use --root DIR / --dry-run)", file=sys.stderr)
        return 2
    try:
        steps = plan(site, options)
        result = run_plan(steps, options, args.dry_run)
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:
        print(f"安装失败 / install failed: {exc}", file=sys.stderr)
        return 1
    if not args.dry_run:
        print(f"完成 / done. 启动 / start: systemctl start {TARGET}; 检查 / check: hall doctor")
    return result
