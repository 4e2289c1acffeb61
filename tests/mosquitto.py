"""A real Mosquitto broker for integration tests: private port, password, persistence.

`Mosquitto(workdir).start()` writes a config into `workdir`, starts `mosquitto -c` on a free
127.0.0.1 port and returns once the port accepts connections. `stop()` sends SIGTERM (Mosquitto
then saves its persistence file), `restart()` comes back on the same port, optionally without its
saved state to play a broker that lost everything, and `kill()` is for teardown.

The password file is made with `mosquitto_passwd -b -c` (Debian ships it in package `mosquitto`);
where that tool is missing the file is written here in Mosquitto 2's own `$7$` format
(PBKDF2-SHA512, 101 rounds, 12-byte salt), which Mosquitto 2.0 reads the same way.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from hall_bus.contract.base import MAX_PACKET_BYTES

MOSQUITTO_CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
START_TIMEOUT_S = 10.0


def find_mosquitto() -> str | None:
    override = os.environ.get("MOSQUITTO")
    if override:
        return override if os.access(override, os.X_OK) else None
    for candidate in MOSQUITTO_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_password_file(path: Path, user: str, password: str) -> None:
    tool = shutil.which("mosquitto_passwd")
    if tool:
        subprocess.run([tool, "-b", "-c", str(path), user, password], check=True,
                       capture_output=True)
    else:
        salt = os.urandom(12)
        iterations = 101
        digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
        salt_b64, digest_b64 = (base64.b64encode(x).decode() for x in (salt, digest))
        path.write_text(f"{user}:$7${iterations}${salt_b64}${digest_b64}\n")
    path.chmod(0o600)


class Mosquitto:
    def __init__(self, workdir: Path, *, user: str = "hall", password: str = "test-secret",
                 extra_lines: tuple[str, ...] = ()) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise FileNotFoundError("mosquitto is not installed")
        self.binary = binary
        self.workdir = workdir
        self.host = "127.0.0.1"
        self.port = free_port()
        self.user = user
        self.password = password
        self.extra_lines = extra_lines  # appended to the config, e.g. bridge sections
        self.data_dir = workdir / "data"
        self.log_file = workdir / "mosquitto.log"
        self.config_file = workdir / "mosquitto.conf"
        self.stderr_file = workdir / "mosquitto.stderr"
        self._process: subprocess.Popen[bytes] | None = None

    def _write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        password_file = self.workdir / "passwd"
        if not password_file.exists():
            write_password_file(password_file, self.user, self.password)
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous false",
            f"password_file {password_file}",
            "persistence true",
            f"persistence_location {self.data_dir}/",
            f"log_dest file {self.log_file}",
            "log_type all",
            # As in the shipped hall.conf: without it, Nagle's algorithm meets delayed ACKs and
            # every request/response round trip costs tens of milliseconds.
            "set_tcp_nodelay true",
            # As in the shipped hall.conf: a bigger packet drops its sender's connection, so an
            # answer that would not fit shows up in the tests, not at a busy hall.
            f"max_packet_size {MAX_PACKET_BYTES}",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # otherwise it drops to `mosquitto`, who cannot read workdir
        lines += self.extra_lines  # last: a bridge `connection` section runs to the end
        self.config_file.write_text("\n".join(lines) + "\n")

    def start(self) -> Mosquitto:
        if self.running:
            return self
        self._write_config()
        with self.stderr_file.open("ab") as stderr:
            self._process = subprocess.Popen(
                [self.binary, "-c", str(self.config_file)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self._process.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"mosquitto did not open port {self.port}\n{self.log_tail()}")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM: clients see their connection drop; Mosquitto saves its persistence file."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self, *, forget_state: bool = False) -> Mosquitto:
        """Stop, start on the same port; `forget_state` drops retained messages and sessions."""
        self.stop()
        if forget_state:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return self.start()

    def kill(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("mosquitto is not running")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        text = []
        for path in (self.stderr_file, self.log_file):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text)
