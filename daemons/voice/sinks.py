"""Where rendered announcements go: a WAV file per announcement, or the ALSA sound card.

A sink's `play` blocks for as long as the audio lasts (the zone is busy while it speaks) and
returns the monotonic time its first sample was handed over. A failure raises `SinkError`; the
zone worker reports it as the zone's sink health and retries after a pause.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Protocol

from daemons.voice.audio import Samples, to_pcm16, wav_bytes

APLAY = "aplay"
CHUNK_FRAMES = 2048


class SinkError(RuntimeError):
    """The audio output is missing, busy or failed."""


class Sink(Protocol):
    kind: str
    target: str

    def play(self, samples: Samples, rate: int, name: str) -> float: ...

    def close(self) -> None: ...


class WavFileSink:
    """One WAV per announcement in `folder`, named `<sequence>-<name>.wav`.

    With `realtime`, `play` then waits for the audio's duration, so a zone is busy exactly as long
    as it would be on speakers and the load policy behaves as in a hall.
    """

    kind = "file"

    def __init__(self, folder: Path, *, realtime: bool = True, keep: int = 200) -> None:
        self.folder = folder
        self.target = str(folder)
        self.realtime = realtime
        self.keep = keep
        self._sequence = 0
        self._closed = threading.Event()

    def play(self, samples: Samples, rate: int, name: str) -> float:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._sequence = max(self._sequence, self._last_sequence()) + 1
            final = self.folder / f"{self._sequence:06d}-{name}.wav"
            partial = final.with_suffix(".part")
            partial.write_bytes(wav_bytes(samples, rate))
            os.replace(partial, final)  # readers never see half a file
        except OSError as exc:
            raise SinkError(f"cannot write {self.folder}: {exc.strerror or exc}") from exc
        first_sample = time.monotonic()
        self._prune()
        if self.realtime:
            self._closed.wait(samples.size / rate)
        return first_sample

    def close(self) -> None:
        self._closed.set()

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("*.wav"))

    def _last_sequence(self) -> int:
        names = [path.name.split("-", 1)[0] for path in self.folder.glob("*.wav")]
        return max((int(name) for name in names if name.isdigit()), default=0)

    def _prune(self) -> None:
        files = self.files()
        for old in files[: max(0, len(files) - self.keep)]:
            old.unlink(missing_ok=True)


class AlsaSink:
    """Plays through `aplay` (alsa-utils) on one ALSA device; one process per announcement.

    A process per announcement releases the device between announcements, so another program
    (a fire alarm's audio, say) can use the card, and a card that was unplugged is picked up
    again without restarting the daemon.
    """

    kind = "alsa"

    def __init__(self, device: str, executable: str = APLAY) -> None:
        self.device = device
        self.target = device
        self.executable = executable
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def play(self, samples: Samples, rate: int, name: str) -> float:
        argv = [self.executable, "-q", "-D", self.device, "-t", "raw", "-f", "S16_LE",
                "-r", str(rate), "-c", "1", "-"]
        try:
            process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        except FileNotFoundError as exc:
            raise SinkError(f"{self.executable} not installed (apt install alsa-utils)") from exc
        with self._lock:
            self._process = process
        pcm = to_pcm16(samples)
        first_sample = time.monotonic()
        assert process.stdin is not None and process.stderr is not None
        try:
            step = CHUNK_FRAMES * 2
            for offset in range(0, len(pcm), step):
                process.stdin.write(pcm[offset:offset + step])
                if offset == 0:
                    first_sample = time.monotonic()
            process.stdin.close()
        except (BrokenPipeError, OSError):
            pass  # aplay gave up (device missing or busy); its exit status says why
        error = process.stderr.read().decode(errors="replace").strip()
        returncode = process.wait()
        with self._lock:
            self._process = None
        if returncode != 0:
            last_line = error.splitlines()[-1] if error else f"exit status {returncode}"
            raise SinkError(f"ALSA device {self.device}: {last_line}")
        return first_sample

    def close(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                self._process.terminate()
