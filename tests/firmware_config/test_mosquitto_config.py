"""The rendered production Mosquitto configuration, run on the real /usr/sbin/mosquitto.

Each test renders the configuration into its own folder with a free port and starts its own
Mosquitto (never the system one on 1883), which is killed at teardown whatever happens.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mqtt_peer import ANSWER_S, Peer, wait_until
from mqtt_peer import peers as peers  # a fixture, used by name

from firmware_config.loader import load_site
from firmware_config.mosquitto_config import (
    ACL_NAME,
    PASSWD_NAME,
    hash_password,
    render_mosquitto_config,
)
from firmware_config.site import SiteConfig
from hall_bus.credentials import read_password
from hall_bus.netutil import free_port, port_is_free

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

MOSQUITTO = Path("/usr/sbin/mosquitto")

KIOSK = "kiosk1"  # the demo site's kiosk


class Mosquitto:
    def __init__(self, conf: Path, port: int, log: Path) -> None:
        self.conf, self.port, self.log = conf, port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(MOSQUITTO), "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        process = self.process

        def listening() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"mosquitto exited:\n{self.log.read_text()}")
            return not port_is_free("127.0.0.1", self.port)

        wait_until(listening, 10, "mosquitto to listen")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()  # SIGTERM: Mosquitto saves its database on the way out
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture(scope="module")
def site() -> SiteConfig:
    return load_site(None)


@pytest.fixture
def root(site: SiteConfig) -> str:
    return f"hall/{site.hall_id}"


@pytest.fixture
def secured(site: SiteConfig, tmp_path: Path) -> SiteConfig:
    """The demo site with an account per daemon and device, passwords under tmp_path."""
    broker = site.broker.model_copy(update={"credentials_dir": tmp_path / "credentials"})
    return site.model_copy(update={"broker": broker})


@pytest.fixture
def accounts(secured: SiteConfig, broker: Mosquitto) -> dict[str, str]:
    assert secured.broker.credentials_dir is not None
    return {name: read_password(secured.broker.credentials_dir, name)
            for name in ("queue", "console", KIOSK)}


@pytest.fixture
def broker(secured: SiteConfig, tmp_path: Path) -> Iterator[Mosquitto]:
    port = free_port()
    conf = render_mosquitto_config(
        secured, tmp_path / "conf", port=port, data_dir=tmp_path / "data",
        # As root Mosquitto would switch to its own user, who cannot write tmp_path.
        run_user="root" if os.geteuid() == 0 else "mosquitto",
    )
    running = Mosquitto(conf, port, tmp_path / "mosquitto.log")
    try:
        running.start()
        yield running
    finally:
        running.stop()


def test_rendered_files_are_self_contained(site: SiteConfig, tmp_path: Path) -> None:
    conf = render_mosquitto_config(site, tmp_path / "conf", port=18999, data_dir=tmp_path / "d")
    text = conf.read_text()
    assert not re.search(r"^\s*include", text, re.MULTILINE)
    assert not re.search(r"[{}]", text), "a template placeholder was left unfilled"
    assert "listener 18999 127.0.0.1" in text
    assert "max_queued_messages 100000" in text
    for key in ("password_file", "acl_file", "persistence_location"):
        values = re.findall(rf"^{key} (\S+)", text, re.MULTILINE)
        assert values and all(Path(v).is_absolute() for v in values), key
    assert (tmp_path / "d").is_dir()
    acl = (tmp_path / "conf" / ACL_NAME).read_text()
    # No credentials_dir: development, the shared account alone may do anything in the hall.
    assert f"user {site.broker.username}\ntopic readwrite hall/{site.hall_id}/#" in acl
    assert not re.search(r"[{}]", acl)
    passwd = tmp_path / "conf" / PASSWD_NAME
    assert passwd.stat().st_mode & 0o007 == 0, "password file must not be world-readable"
    assert passwd.read_text().startswith(f"{site.broker.username}:$7$101$")


def test_hash_matches_mosquitto_passwd(tmp_path: Path) -> None:
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed")
    file = tmp_path / "pw"
    subprocess.run([tool, "-c", "-b", str(file), "someone", "s3cret-密码"], check=True)
    stored = file.read_text().strip().split(":", 1)[1]
    _, kind, iterations, salt, _digest = stored.split("$")
    assert kind == "7"
    ours = hash_password("s3cret-密码", salt=base64.b64decode(salt), iterations=int(iterations))
    assert ours == stored


def test_render_refuses_ambiguous_accounts(site: SiteConfig, tmp_path: Path) -> None:
    clash = site.model_copy(update={"broker": site.broker.model_copy(update={"username": "queue"})})
    with pytest.raises(ValueError, match="daemon's account"):
        render_mosquitto_config(clash, tmp_path, data_dir=tmp_path / "d")
    spaced = site.model_copy(update={"broker": site.broker.model_copy(
        update={"username": "Kiosk 1"})})
    with pytest.raises(ValueError, match="node names"):
        render_mosquitto_config(spaced, tmp_path, data_dir=tmp_path / "d")


def test_only_known_users_connect(
    broker: Mosquitto, site: SiteConfig, accounts: dict[str, str], peers: Callable[..., Peer]
) -> None:
    assert peers(broker.port, "t-anon").connect().is_failure
    assert peers(broker.port, "t-wrong", KIOSK, "wrong").connect().is_failure
    assert peers(broker.port, "t-nobody", "nobody", "x").connect().is_failure
    assert peers(
        broker.port, "t-site", site.broker.username, site.broker.password
    ).connect().is_failure, "the shared development account is not in a per-account config"
    assert not peers(broker.port, "t-kiosk", KIOSK, accounts[KIOSK]).connect().is_failure


def test_acl_keeps_a_kiosk_to_its_role(
    broker: Mosquitto, root: str, accounts: dict[str, str], peers: Callable[..., Peer]
) -> None:
    console = peers(broker.port, "t-console", "console", accounts["console"])
    queue = peers(broker.port, "t-queue", "queue", accounts["queue"])
    kiosk = peers(broker.port, "t-kiosk", KIOSK, accounts[KIOSK])
    for peer in (console, queue, kiosk):
        assert not peer.connect().is_failure
    console.subscribe(f"{root}/#")
    kiosk.subscribe(f"{root}/queue/state")
    kiosk.subscribe(f"{root}/line1/#")

    queue.publish(f"{root}/queue/state", b"real", retain=True)
    console.publish(f"{root}/line1/w01-strip/set", b"for line 1")
    # Denied first, allowed after: one publisher's messages arrive in order, so once the allowed
    # ones are in, the denied one would have been too.
    kiosk.publish(f"{root}/queue/state", b"forged")
    kiosk.publish(f"{root}/queue/request/call_next", b"{}")
    kiosk.publish(f"{root}/{KIOSK}/status", b"online", retain=True)
    kiosk.publish(f"{root}/queue/request/take_ticket", b"{}")

    request = f"{root}/queue/request/take_ticket"
    wait_until(lambda: bool(console.payloads(request)), ANSWER_S, "the request")
    assert console.payloads(f"{root}/queue/state") == [b"real"]
    assert console.payloads(f"{root}/{KIOSK}/status") == [b"online"]
    assert console.payloads(f"{root}/queue/request/call_next") == []
    wait_until(lambda: bool(kiosk.payloads(f"{root}/queue/state")), ANSWER_S,
               "queue state at the kiosk")
    assert kiosk.payloads(f"{root}/queue/state") == [b"real"]
    assert kiosk.payloads(f"{root}/line1/w01-strip/set") == [], "read a line's topics"


def test_retained_message_survives_restart(
    broker: Mosquitto, root: str, accounts: dict[str, str], peers: Callable[..., Peer]
) -> None:
    queue = peers(broker.port, "t-queue", "queue", accounts["queue"])
    assert not queue.connect().is_failure
    queue.publish(f"{root}/queue/state", b'{"v":1}', retain=True)
    queue.close()
    broker.stop()
    broker.start()
    reader = peers(broker.port, "t-reader", KIOSK, accounts[KIOSK])
    assert not reader.connect().is_failure
    reader.subscribe(f"{root}/queue/state")
    wait_until(lambda: bool(reader.payloads(f"{root}/queue/state")), ANSWER_S, "the retained state")
    assert reader.messages[0].retain
    assert reader.payloads(f"{root}/queue/state") == [b'{"v":1}']


def test_offline_persistent_session_gets_a_5000_message_backlog(
    broker: Mosquitto, root: str, accounts: dict[str, str], peers: Callable[..., Peer]
) -> None:
    count = 5000  # five times Mosquitto's default max_queued_messages
    topic = f"{root}/queue/event"
    slow = peers(broker.port, "t-slow", "console", accounts["console"], clean_session=False)
    assert not slow.connect().is_failure
    slow.subscribe(topic)
    slow.close()

    queue = peers(broker.port, "t-queue", "queue", accounts["queue"])
    assert not queue.connect().is_failure
    infos = [queue.client.publish(topic, str(i).encode(), qos=1) for i in range(count)]
    for info in infos:
        info.wait_for_publish(10)

    back = peers(broker.port, "t-slow", "console", accounts["console"], clean_session=False)
    assert not back.connect().is_failure
    wait_until(lambda: len(back.messages) >= count, 10, f"{count} queued messages")
    assert sorted(int(m.payload) for m in back.messages) == list(range(count))


def test_hall_config_mosquitto_command_writes_a_config_for_the_site(tmp_path: Path) -> None:
    out = tmp_path / "broker"
    done = subprocess.run(
        [sys.executable, "-m", "operations.cli", "config", "mosquitto", "--out", str(out),
         "--port", "28830"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    conf = (out / "hall.conf").read_text(encoding="utf-8")
    assert "listener 28830 127.0.0.1" in conf
    assert f"password_file {out / 'hall.passwd'}" in conf
    assert "hall/demo-county/" in (out / "hall.acl").read_text(encoding="utf-8")
    assert (out / "hall.passwd").read_text(encoding="utf-8").startswith("hall:$7$")
