"""The queue engine daemon as a child process, for benchmarks and crash tests."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import yaml

from firmware_config.site import SiteConfig


def write_site(site: SiteConfig, path: Path) -> Path:
    """Write a site as YAML for a daemon to load with `--site`."""
    path.write_text(
        yaml.safe_dump(site.model_dump(mode="json"), allow_unicode=True), encoding="utf-8"
    )
    return path


class EngineProcess:
    def __init__(self, site_path: Path, db_path: Path, log_path: Path) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "operations.cli",
            "queue",
            "--site",
            str(site_path),
            "--db",
            str(db_path),
        ]
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(self.argv, stdout=log_file, stderr=log_file)

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def signal(self, signum: int) -> int:
        """Send a signal and wait for the exit status."""
        assert self.process is not None
        self.process.send_signal(signum)
        return self.process.wait(timeout=15)
