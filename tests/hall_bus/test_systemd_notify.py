"""sd_notify spoken by the daemons: the datagrams, their timing, and a stuck loop going quiet."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import repo_paths
from line_fixtures import make_line
from mosquitto import free_port
from notify_listener import NotifyListener
from queue_fixtures import make_site

from bench.engine_process import write_site
from daemons.queue.service import QueueEngine
from firmware_config.kiosk import KioskConfig, ScannerConfig
from firmware_config.site import BrokerConfig
from hall_bus.lifecycle import serve_until
from hall_bus.liveness import Heartbeat, WatchdogPinger
from hall_bus.systemd_notify import Notifier, socket_address, watchdog_interval

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

REPO = repo_paths.REPO


def test_notifier_sends_exact_datagrams_to_a_path_socket(tmp_path: Path) -> None:
    listener = NotifyListener(str(tmp_path / "notify"))
    try:
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": str(tmp_path / "notify")})
        assert notifier.ready("serving") and notifier.watchdog() and notifier.stopping()
        listener.wait_for(lambda: len(listener.messages()) == 3)
        assert [m for _, m in listener.messages()] == [
            "READY=1\nSTATUS=serving", "WATCHDOG=1", "STOPPING=1"
        ]
    finally:
        listener.close()


def test_abstract_socket_names_and_unset_socket() -> None:
    assert socket_address("@hall/notify") == b"\0hall/notify"
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("vsock:2:1234") is None
    quiet = Notifier.from_environment({})
    assert not quiet.active and not quiet.ready() and quiet.watchdog_interval_s is None


def test_watchdog_interval_is_half_the_period_and_only_for_the_watched_pid() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}, 42) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, 42) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 42) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}, 42) is None
    assert watchdog_interval({}, 42) is None


def test_a_paused_loop_keeps_beating_but_a_busy_one_does_not() -> None:
    beat = Heartbeat("loop")
    stop = threading.Event()
    assert not beat.pause(stop, 0.6)
    assert beat.age() < 0.3
    time.sleep(0.3)  # doing "work" without beating
    assert beat.age() >= 0.3
    stop.set()
    assert beat.pause(stop, 10)  # returns at once when stopping


def test_queue_process_notifies_ready_watchdog_and_stopping(
    broker_config: BrokerConfig, tmp_path: Path
) -> None:
    site = make_site().model_copy(update={"broker": broker_config, "data_dir": tmp_path / "data"})
    site_path = write_site(site, tmp_path / "site.yaml")
    listener = NotifyListener.abstract()  # '@' names: how systemd passes its socket today
    log_path = tmp_path / "queue.log"
    try:
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "operations.cli", "queue", "--site", str(site_path)],
                cwd=REPO, stdout=log_file, stderr=log_file,
                env={**os.environ, "NOTIFY_SOCKET": listener.address,
                     "WATCHDOG_USEC": "600000"},
            )
        try:
            listener.wait_for(lambda: len(listener.times_of("WATCHDOG=1")) >= 8, timeout=30)
            pings = listener.times_of("WATCHDOG=1")
            ready = listener.times_of("READY=1")
            assert len(ready) == 1 and ready[0] <= pings[0]
            gaps = [later - earlier for earlier, later in itertools.pairwise(pings)]
            # Half of WATCHDOG_USEC (0.3 s): never sooner; later only by a busy machine's delay,
            # and on average close to it (a ping at the whole period would average 0.6 s).
            assert all(0.25 <= gap <= 0.9 for gap in gaps), gaps
            assert 0.28 <= sum(gaps) / len(gaps) <= 0.4, gaps
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        messages = [m for _, m in listener.messages()]
        assert messages[-1] == "STOPPING=1", log_path.read_text()
        assert messages.count("STOPPING=1") == 1
    finally:
        listener.close()


def test_a_stuck_queue_engine_stops_its_watchdog_pings(
    broker_config: BrokerConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A request handler stuck holding the store (here: the test holds its lock) stops the
    maintenance loop, its heartbeat goes stale and the pings stop; they resume once it frees."""
    site = make_site().model_copy(update={"broker": broker_config, "data_dir": tmp_path / "data"})
    engine = QueueEngine(site, tmp_path / "queue.sqlite3")
    listener = NotifyListener(str(tmp_path / "notify"))
    notifier = Notifier(socket_address(listener.address), watchdog_interval_s=0.1)
    sent: list[bool] = []  # every ping the engine's loop sent, as it sent it
    ping = notifier.watchdog

    def counted_ping() -> bool:
        sent.append(True)
        return ping()

    notifier.watchdog = counted_ping  # type: ignore[method-assign]
    stop = threading.Event()
    runner = threading.Thread(
        target=serve_until, args=(engine, stop, "stopping", notifier), daemon=True
    )
    runner.start()
    try:
        listener.wait_for(lambda: len(listener.times_of("WATCHDOG=1")) >= 5)
        with engine._store_lock:
            # The loop's heartbeat goes stale and the pinger says it withholds the pings ...
            listener.wait_for(lambda: any("withheld" in r.message for r in caplog.records))
            withheld_after = len(sent)
            # ... and sends none while the loop stays stuck (ten intervals to get it wrong in).
            time.sleep(1.0)
            assert len(sent) == withheld_after
        # Freed, the loop beats again and the pings resume.
        listener.wait_for(lambda: len(sent) > withheld_after)
        received = len(listener.times_of("WATCHDOG=1"))
        listener.wait_for(lambda: len(listener.times_of("WATCHDOG=1")) > received)
    finally:
        stop.set()
        runner.join(10)
        listener.close()
    assert not runner.is_alive()


def test_pinger_without_watchdog_never_pings() -> None:
    pinger = WatchdogPinger(Notifier("/nonexistent/socket", None), [Heartbeat("loop")])
    assert pinger.next_wait() is None and pinger.next_wait(at_most=1.0) == 1.0
    assert not pinger.tick()


@pytest.mark.parametrize("stale_for", [0.0, 0.5])
def test_pinger_withholds_pings_while_a_heartbeat_is_stale(
    stale_for: float, tmp_path: Path
) -> None:
    now = [100.0]
    beat = Heartbeat("loop", clock=lambda: now[0])
    listener = NotifyListener(str(tmp_path / "notify"))
    try:
        pinger = WatchdogPinger(Notifier(str(tmp_path / "notify"), 0.2), [beat],
                                clock=lambda: now[0])
        now[0] += stale_for
        sent = pinger.tick()
        assert sent is (stale_for <= 0.4)
        assert not pinger.tick()  # not due again until the interval passed
    finally:
        listener.close()


def _daemon_argv(kind: str, site_path: Path, tmp_path: Path) -> list[str]:
    site = ["--site", str(site_path)]
    return {
        "broker": ["broker", *site, "--port", str(free_port())],
        "line": ["line", *site, "--port", "line1"],
        "voice": ["voice", *site, "--data-dir", str(tmp_path / "voice")],
        "kiosk": ["kiosk", *site, "--offscreen", "--no-voice", "--data-dir",
                  str(tmp_path / "kiosk")],
    }[kind]


@pytest.mark.parametrize("kind", ["broker", "line", "voice", "kiosk"])
def test_every_kind_of_daemon_notifies_ready_watchdog_and_stopping(
    kind: str, broker_config: BrokerConfig, tmp_path: Path
) -> None:
    """The daemons outside the queue engine's path: their own main loops ping too."""
    line, sim = make_line(tmp_path / "ttyLINE1")
    site = make_site().model_copy(update={
        "broker": broker_config, "data_dir": tmp_path / "data", "lines": [line],
        "kiosks": [KioskConfig(id="kiosk1", printer_port="sim",
                               scanners=[ScannerConfig(device="sim")])],
    })
    site_path = write_site(site, tmp_path / "site.yaml")
    sim.line.start()
    listener = NotifyListener.abstract()
    log_path = tmp_path / f"{kind}.log"
    try:
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "operations.cli", *_daemon_argv(kind, site_path, tmp_path)],
                cwd=REPO, stdout=log_file, stderr=log_file,
                env={**os.environ, "NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000",
                     "QT_QPA_PLATFORM": "offscreen"},
            )
        try:
            listener.wait_for(lambda: len(listener.times_of("WATCHDOG=1")) >= 4, timeout=60)
            assert len(listener.times_of("READY=1")) == 1
            pings = listener.times_of("WATCHDOG=1")
            gaps = [later - earlier for earlier, later in itertools.pairwise(pings)]
            assert all(0.45 <= gap <= 1.5 for gap in gaps), (gaps, log_path.read_text())
            assert sum(gaps) / len(gaps) <= 0.75, gaps  # half of the 1 s period, not all of it
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0, log_path.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert [m for _, m in listener.messages()][-1] == "STOPPING=1"
    finally:
        listener.close()
        sim.line.stop()


def test_a_watchdog_abort_leaves_every_threads_stack_in_the_log(
    broker_config: BrokerConfig, tmp_path: Path
) -> None:
    """systemd sends SIGABRT when the pings stop; the journal then shows where each loop was."""
    site = make_site().model_copy(update={"broker": broker_config, "data_dir": tmp_path / "data"})
    site_path = write_site(site, tmp_path / "site.yaml")
    listener = NotifyListener.abstract()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "operations.cli", "queue", "--site", str(site_path)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "NOTIFY_SOCKET": listener.address},
        )
        listener.wait_for(lambda: bool(listener.times_of("READY=1")), timeout=30)
        process.send_signal(signal.SIGABRT)
        _, stderr = process.communicate(timeout=20)
    finally:
        listener.close()
    assert process.returncode == -signal.SIGABRT
    text = stderr.decode()
    assert "Fatal Python error: Aborted" in text
    assert 'daemons/queue/service.py", line' in text and "in _maintenance_loop" in text


def test_mosquitto_with_the_hall_config_tells_systemd_it_is_ready(tmp_path: Path) -> None:
    """mosquitto.service.d/hall.conf keeps Debian's Type=notify: Mosquitto, started on the
    rendered hall.conf, must send READY=1 or systemd would time its start out."""
    from mosquitto import find_mosquitto

    from firmware_config.mosquitto_config import render_mosquitto_config

    site = make_site().model_copy(update={
        "broker": BrokerConfig(host="127.0.0.1", port=free_port()), "data_dir": tmp_path})
    conf = render_mosquitto_config(site, tmp_path / "conf", data_dir=tmp_path / "persistence",
                                   run_user="root" if os.geteuid() == 0 else "mosquitto")
    listener = NotifyListener.abstract()
    binary = find_mosquitto() or "/usr/sbin/mosquitto"
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL,
                               env={**os.environ, "NOTIFY_SOCKET": listener.address})
    try:
        listener.wait_for(lambda: bool(listener.times_of("READY=1")), timeout=15)
    finally:
        process.terminate()
        process.wait(timeout=10)
        listener.close()
