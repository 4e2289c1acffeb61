"""Spoken prompts on the kiosk's own speaker for elderly mode, with espeak-ng's Mandarin voice.

The kiosk window calls the prompt with a phrase; speech runs in its own process so the screen
never waits for it, and a new phrase cuts off the one still playing (the newest is what the
citizen needs). Without a sound card the phrases can be written as WAV files instead.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


class SpokenPrompt:
    def __init__(self, voice: str = "cmn", out_dir: Path | None = None,
                 executable: str = "espeak-ng") -> None:
        self.voice = voice
        self.out_dir = out_dir
        self.executable = shutil.which(executable)
        self._current: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.spoken = 0
        if self.executable is None:
            log.warning("没有 %s，长辈模式不播报语音 / %s not installed: no spoken prompts",
                        executable, executable)

    def __call__(self, phrase: str) -> None:
        if self.executable is None:
            return
        argv = [self.executable, "-v", self.voice, "-s", "150"]
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            argv += ["-w", str(self.out_dir / f"prompt-{time.time_ns()}.wav")]
        with self._lock:
            if self._current is not None and self._current.poll() is None:
                self._current.terminate()
            try:
                self._current = subprocess.Popen([*argv, phrase], stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.DEVNULL)
            except OSError as exc:
                log.warning("spoken prompt failed: %s", exc)
                return
            self.spoken += 1

    def wait(self, timeout: float) -> bool:
        """For tests and shutdown: wait until the current phrase is finished."""
        with self._lock:
            current = self._current
        if current is None:
            return True
        try:
            current.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self) -> None:
        with self._lock:
            if self._current is not None and self._current.poll() is None:
                self._current.terminate()
                self._current.wait(timeout=5)
