"""Each installed daemon gets its own broker password as a systemd credential, and nothing else.

`hall install` makes the credentials folder root's alone and writes, per daemon unit, the one
`LoadCredential=broker-password:` line of the account the daemon logs in as; the daemons read it
from `$CREDENTIALS_DIRECTORY`. Without systemd as PID 1 here, the tests do what systemd would:
copy the file the unit names into a private folder and start the daemon with that folder, while
the site's credentials folder is out of its reach, then watch a real Mosquitto (started from the
rendered per-account config) let it in.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import repo_paths
from line_fixtures import make_line
from mqtt_peer import Peer, wait_until
from queue_fixtures import make_site
from test_deploy_install import ALL_UNITS, _install, _site, _verify
from test_doctor import _by_name, _doctor
from test_metrics_exporter import scrape, value
from test_mosquitto_config import Mosquitto

from bench.engine_process import write_site
from firmware_config.broker_accounts import CAMERA_PREFIX, Role, site_accounts
from firmware_config.broker_credentials import ensure_passwords
from firmware_config.kiosk import KioskConfig
from firmware_config.mosquitto_config import render_mosquitto_config
from firmware_config.network_devices import NetworkDeviceConfig
from firmware_config.site import BrokerConfig, SiteConfig
from hall_bus import topics
from hall_bus.client import BusClient
from hall_bus.contract import QUEUE_ACTIONS, ResponseStatus
from hall_bus.credentials import ALL_CREDENTIALS, CREDENTIAL, password_path
from hall_bus.netutil import free_port
from operations.deploy.units import credential_drop_ins, instance_unit, template_of

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

REPO = repo_paths.REPO
CREDENTIALS = Path("/etc/hall/credentials")
LOAD = f"LoadCredential={CREDENTIAL}:"


def _with_credentials(site: SiteConfig, folder: Path) -> SiteConfig:
    return site.model_copy(update={
        "broker": site.broker.model_copy(update={"credentials_dir": folder}),
        "network_devices": [NetworkDeviceConfig(id="pad-w1", kind="pad",
                                                window=site.windows[0].id),
                            NetworkDeviceConfig(id="screen-hall", kind="hall_screen")],
    })


def _unit_settings(unit_dir: Path, unit: str) -> list[str]:
    """Every line systemd reads for `unit`: its file (or template), then its drop-ins."""
    files = [unit_dir / template_of(unit)]
    for folder in ("hall-.service.d", f"{template_of(unit)}.d", f"{unit}.d"):
        files += sorted((unit_dir / folder).glob("*.conf"))
    return [line for path in dict.fromkeys(files) if path.exists()
            for line in path.read_text(encoding="utf-8").splitlines()]


def _loaded_credentials(unit_dir: Path, unit: str) -> list[str]:
    instance = unit.split("@", 1)[1].rsplit(".", 1)[0] if "@" in unit else ""
    return [line.removeprefix("LoadCredential=").replace("%i", instance)
            for line in _unit_settings(unit_dir, unit) if line.startswith("LoadCredential=")]


def _unit_of(account_name: str, role: Role) -> str | None:
    """The unit of a daemon account (None for a LAN device, which has no unit)."""
    fixed = {Role.QUEUE: "hall-queue.service", Role.VOICE: "hall-voice.service",
             Role.BRIDGE: "hall-bridge.service", Role.CONSOLE: "hall-console.service",
             Role.METRICS: "hall-metrics.service", Role.KIOSK: "hall-kiosk.service"}
    if role is Role.LINE:
        return instance_unit("hall-line@.service", account_name)
    if role is Role.CAMERA:
        return instance_unit("hall-camera@.service", account_name.removeprefix(CAMERA_PREFIX))
    return fixed.get(role)


def test_each_installed_unit_loads_exactly_its_own_accounts_password(tmp_path: Path) -> None:
    site = _with_credentials(_site(tmp_path), CREDENTIALS)
    root = tmp_path / "root"
    done = _install(write_site(site, tmp_path / "site.yaml"), root, "--kiosk", "kiosk2")
    assert done.returncode == 0, done.stderr
    unit_dir = root / "etc" / "systemd" / "system"
    installed = sorted(link.name for link in (unit_dir / "hall.target.wants").iterdir())

    # What each daemon of this machine should load: the account broker_accounts gives it.
    # This machine runs kiosk2, so kiosk1's account belongs to another machine's unit.
    expected = {}
    for account in site_accounts(site):
        unit = _unit_of(account.name, account.role)
        if unit in installed and not (account.role is Role.KIOSK and account.name != "kiosk2"):
            expected[unit] = [f"{CREDENTIAL}:{password_path(CREDENTIALS, account.name)}"]
    daemons = [unit for unit in installed if unit.startswith("hall-")]
    assert {unit: _loaded_credentials(unit_dir, unit) for unit in daemons} == expected
    assert sorted(expected) == daemons  # every daemon of the machine has its password
    # The kiosk runs the kiosk whose password it loads.
    assert 'Environment="HALL_KIOSK_ARGS=--kiosk kiosk2"' in _unit_settings(
        unit_dir, "hall-kiosk.service")
    # The embedded broker, which checks every login, alone loads the whole folder.
    assert _loaded_credentials(unit_dir, "hall-broker.service") == [
        f"broker-passwords:{CREDENTIALS}"]

    verified = _verify(unit_dir, ALL_UNITS)
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")


def test_credentials_folder_is_root_only_and_a_later_install_without_it_drops_the_lines(
    tmp_path: Path,
) -> None:
    site = _with_credentials(_site(tmp_path), CREDENTIALS)
    root = tmp_path / "root"
    done = _install(write_site(site, tmp_path / "site.yaml"), root, "--broker", "embedded")
    assert done.returncode == 0, done.stderr
    assert f"broker passwords in {CREDENTIALS}: root only (0700, files 0600)" in done.stdout
    folder = root / CREDENTIALS.relative_to("/")
    # The embedded broker's hall has no Mosquitto render: the install made every password.
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        f"{account.name}.password" for account in site_accounts(site))
    assert folder.stat().st_mode & 0o777 == 0o700
    assert {path.stat().st_mode & 0o777 for path in folder.iterdir()} == {0o600}
    if os.getuid() == 0:
        assert {(path.stat().st_uid, path.stat().st_gid)
                for path in [folder, *folder.iterdir()]} == {(0, 0)}

    unit_dir = root / "etc" / "systemd" / "system"
    assert (unit_dir / "hall-line@.service.d" / "30-broker-password.conf").exists()
    shared = site.model_copy(update={"broker": site.broker.model_copy(
        update={"credentials_dir": None})})
    assert _install(write_site(shared, tmp_path / "shared.yaml"), root).returncode == 0
    assert not list(unit_dir.glob("*.d/30-broker-password.conf"))


def test_an_unknown_kiosk_is_refused(tmp_path: Path) -> None:
    site = _with_credentials(_site(tmp_path), CREDENTIALS)
    done = _install(write_site(site, tmp_path / "site.yaml"), tmp_path / "root", "--kiosk", "k9")
    assert done.returncode == 1
    assert "no kiosk 'k9' in the site (kiosks: kiosk1, kiosk2)" in done.stderr


class SecuredHall:
    """A real Mosquitto from the per-account config; daemons as processes."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.folder = tmp_path / "credentials"
        line, self.sim = make_line(tmp_path / "ttyLINE1")
        broker = BrokerConfig(host="127.0.0.1", port=free_port(), keepalive_s=5,
                              reconnect_min_s=0.1, reconnect_max_s=1.0)
        self.site = _with_credentials(make_site().model_copy(update={
            "broker": broker, "data_dir": tmp_path / "data", "lines": [line],
            "kiosks": [KioskConfig(id="kiosk1", printer_port="sim")]}), self.folder)
        conf = render_mosquitto_config(self.site, tmp_path / "conf",
                                       data_dir=tmp_path / "mosquitto",
                                       run_user="root" if os.geteuid() == 0 else "mosquitto")
        self.mosquitto = Mosquitto(conf, broker.port, tmp_path / "mosquitto.log")
        # What the daemons are given: the same site, but its credentials folder out of reach.
        self.daemon_site = write_site(
            _with_credentials(self.site, tmp_path / "no-such-folder"), tmp_path / "site.yaml")
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def logs_text(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')}"
                         for log in self.logs)

    def credentials_for(self, unit: str) -> Path:
        """What systemd would do for `unit`: copy the file its drop-in names into a private
        folder (0500, the file 0400) as the credential `broker-password`."""
        template, instance = template_of(unit), unit.partition("@")[2].rsplit(".", 1)[0]
        drop_ins = credential_drop_ins(self.folder, kiosk_id=None)
        text = drop_ins[Path(f"{template}.d") / "30-broker-password.conf"]
        source = next(line.removeprefix(LOAD) for line in text.splitlines()
                      if line.startswith(LOAD)).replace("%i", instance)
        private = self.tmp_path / "run-credentials" / unit
        private.mkdir(parents=True)
        shutil.copyfile(source, private / CREDENTIAL)
        (private / CREDENTIAL).chmod(0o400)
        private.chmod(0o500)
        return private

    def spawn(self, credentials: Path, *args: str) -> subprocess.Popen[bytes]:
        log = self.tmp_path / f"{args[0]}.log"
        self.logs.append(log)
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "operations.cli", args[0], "--site", str(self.daemon_site),
                 *args[1:]], cwd=REPO, stdout=out, stderr=out,
                env={**os.environ, "CREDENTIALS_DIRECTORY": str(credentials)})
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.mosquitto.stop()
        self.sim.line.stop()


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[SecuredHall]:
    hall = SecuredHall(tmp_path)
    ensure_passwords(hall.folder, [account.name for account in site_accounts(hall.site)])
    hall.mosquitto.start()
    hall.sim.line.start()
    try:
        yield hall
    finally:
        hall.stop()


def _watch_statuses(hall: SecuredHall) -> Peer:
    """The console account reads the whole hall: it sees which daemons came online."""
    peer = Peer(hall.site.broker.port, "test-watch", "console",
                (hall.folder / "console.password").read_text().strip())
    assert not peer.connect().is_failure
    peer.subscribe(topics.any_node_status(hall.site.hall_id))
    return peer


def _online(hall: SecuredHall, watcher: Peer, *nodes: str) -> None:
    def seen(node: str) -> bool:
        status = topics.Endpoint(hall.site.hall_id, node).status
        return watcher.payloads(status)[-1:] == [topics.ONLINE.encode()]

    for node in nodes:
        try:
            wait_until(lambda node=node: seen(node), 30, f"{node} online")  # type: ignore[misc]
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{hall.logs_text()}") from exc


def test_daemons_log_in_with_only_their_unit_credential(secured: SecuredHall) -> None:
    """Queue engine, line daemon and metrics exporter, each with its unit's credential only and a
    site whose credentials folder does not exist; then the exporter's figures and `hall doctor`
    (as root, from the folder, on the read-only metrics account) see the whole hall."""
    hall = secured
    watcher = _watch_statuses(hall)
    metrics_port = free_port()
    try:
        hall.spawn(hall.credentials_for("hall-queue.service"), "queue")
        hall.spawn(hall.credentials_for("hall-line@line1.service"), "line", "--port", "line1")
        hall.spawn(hall.credentials_for("hall-metrics.service"), "metrics",
                   "--port", str(metrics_port))
        _online(hall, watcher, "queue", "line1", "metrics")
        assert all(process.poll() is None for process in hall.processes), hall.logs_text()

        # A kiosk takes a ticket on its own account: the exporter saw the request, the answer
        # and the new state, all under the metrics account's read-only grant.
        kiosk = BusClient(hall.site.hall_id, "kiosk1", hall.site.broker)
        kiosk.start(wait=10)
        try:
            take = QUEUE_ACTIONS["take_ticket"].request.model_validate({"service_id": "household"})
            answer = kiosk.request(topics.queue_endpoint(hall.site.hall_id), "take_ticket", take)
            assert answer.status is ResponseStatus.OK, answer
        finally:
            kiosk.stop()

        def figures() -> tuple[float | None, ...]:
            samples = scrape(metrics_port)
            return (value(samples, "hall_tickets_issued_total", service="household"),
                    value(samples, "hall_tickets_waiting", service="household"),
                    value(samples, "hall_request_latency_seconds_count", action="take_ticket"),
                    value(samples, "hall_daemon_online", node="queue"),
                    value(samples, "hall_daemon_online", node="line1"))

        wait_until(lambda: figures() == (1, 1, 1, 1, 1), 15, "the exporter's figures")

        report = json.loads(_doctor(write_site(hall.site, hall.tmp_path / "root-site.yaml"),
                                    "--json").stdout)
        seen = _by_name(report)
        assert seen[("daemon", "queue")] == ("ok", "在线 / online")
        assert seen[("daemon", "metrics")] == ("ok", "在线 / online")
        assert seen[("broker", f"127.0.0.1:{hall.site.broker.port}")][0] == "ok"
        if os.geteuid() == 0:  # the folder the test made is root's, as an install leaves it
            assert seen[("credentials", str(hall.folder))][0] == "ok"
    finally:
        watcher.close()


def test_the_embedded_broker_takes_every_login_from_its_units_folder_credential(
    tmp_path: Path,
) -> None:
    """systemd loads the folder as `broker-passwords_<file>`; the site's folder is out of reach."""
    folder = tmp_path / "credentials"
    broker = BrokerConfig(host="127.0.0.1", port=free_port(), keepalive_s=5,
                          reconnect_min_s=0.1, reconnect_max_s=1.0, credentials_dir=folder)
    site = make_site().model_copy(update={"broker": broker, "data_dir": tmp_path / "data"})
    ensure_passwords(folder, ["queue", "pad-w1"])
    loaded = tmp_path / "run-credentials"
    loaded.mkdir()
    for path in folder.iterdir():
        shutil.copyfile(path, loaded / f"{ALL_CREDENTIALS}_{path.name}")
    unreachable = _with_credentials(site, tmp_path / "no-such-folder")
    log = tmp_path / "broker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "operations.cli", "broker", "--site",
             str(write_site(unreachable, tmp_path / "site.yaml"))], cwd=REPO, stdout=out,
            stderr=out, env={**os.environ, "CREDENTIALS_DIRECTORY": str(loaded)})
    try:
        def answer(username: str, password: str) -> bool:
            peer = Peer(broker.port, f"test-{username}", username, password)
            try:
                return not peer.connect().is_failure
            finally:
                peer.close()

        def listening() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return answer("pad-w1", (folder / "pad-w1.password").read_text().strip())
            except OSError:
                return False

        wait_until(listening, 30, "the embedded broker to let pad-w1 in")
        assert answer("queue", (folder / "queue.password").read_text().strip())
        assert not answer("queue", (folder / "pad-w1.password").read_text().strip())
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


def test_a_unit_given_another_accounts_password_is_refused(secured: SecuredHall) -> None:
    """A line daemon cannot log in as line1 with the pad's password (the credential names the
    unit's own account only, and Mosquitto checks it)."""
    hall = secured
    pads = hall.tmp_path / "run-credentials" / "wrong"
    pads.mkdir(parents=True)
    shutil.copyfile(hall.folder / "pad-w1.password", pads / CREDENTIAL)
    watcher = _watch_statuses(hall)
    try:
        hall.spawn(pads, "line", "--port", "line1")
        log = hall.tmp_path / "line.log"
        wait_until(lambda: "not authori" in log.read_text(encoding="utf-8", errors="replace")
                   .lower(), 30, "the refused login in the line daemon's log")
        status = topics.Endpoint(hall.site.hall_id, "line1").status
        assert watcher.payloads(status) == []
    finally:
        watcher.close()


def test_a_missing_credential_is_named_and_exits_2(tmp_path: Path) -> None:
    broker = BrokerConfig(host="127.0.0.1", port=free_port(), credentials_dir=tmp_path / "creds")
    site_path = write_site(make_site().model_copy(update={
        "broker": broker, "data_dir": tmp_path / "data"}), tmp_path / "site.yaml")
    empty = tmp_path / "empty-credentials"
    empty.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "operations.cli", "queue", "--site", str(site_path)], cwd=REPO,
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "CREDENTIALS_DIRECTORY": str(empty)})
    assert done.returncode == 2, done.stderr
    assert (f"no systemd credential 'broker-password' with the password of broker account "
            f"'queue' ({empty / CREDENTIAL}); the unit needs "
            f"LoadCredential=broker-password:{tmp_path / 'creds'}/queue.password") in done.stderr
    assert "Traceback" not in done.stderr

    # The embedded broker's unit loads the whole folder: none of it loaded is named too.
    done = subprocess.run(
        [sys.executable, "-m", "operations.cli", "broker", "--site", str(site_path), "--port",
         str(free_port())], cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ, "CREDENTIALS_DIRECTORY": str(empty)})
    assert done.returncode == 2, done.stderr
    assert (f"no broker-passwords_<account>.password credential in {empty}; the unit needs "
            f"LoadCredential=broker-passwords:{tmp_path / 'creds'}") in done.stderr


def test_doctor_warns_when_the_passwords_are_readable_by_more_than_root(tmp_path: Path) -> None:
    from operations.doctor.credential_checks import credentials_finding
    from operations.doctor.findings import Level

    folder = tmp_path / "credentials"
    ensure_passwords(folder, ["queue", "pad-w1"])  # 0700, files 0600
    assert credentials_finding(None) is None  # a development site has no folder
    found = credentials_finding(folder)
    assert found is not None
    if os.geteuid() != 0:
        assert found.level is Level.WARNING and f"owner uid {os.geteuid()}" in found.detail
        return
    assert (found.area, found.name, found.level) == ("credentials", str(folder), Level.OK)

    # What an install before systemd credentials left: the folder and files group-readable.
    folder.chmod(0o750)
    (folder / "pad-w1.password").chmod(0o640)
    found = credentials_finding(folder)
    assert found is not None and found.level is Level.WARNING
    assert found.detail == ("不止 root 可读 / readable by others than root (credentials: "
                            "drwxr-x---, pad-w1.password: -rw-r-----): a daemon could log in as "
                            "another; run `hall install` again")
    os.chown(folder / "queue.password", 999, 999)
    folder.chmod(0o700)
    (folder / "pad-w1.password").chmod(0o600)
    found = credentials_finding(folder)
    assert found is not None and "queue.password: 属主 / owner uid 999" in found.detail

    missing = credentials_finding(tmp_path / "gone")
    assert missing is not None and missing.level is Level.FAILED
