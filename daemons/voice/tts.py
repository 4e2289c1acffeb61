"""The offline speech engine: espeak-ng from Debian, run as a subprocess. Never the internet.

It speaks free text (notices) and fills in for any clip a voice pack lacks. Its output is trimmed
of the silence it puts around every utterance so joined speech has no holes.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from daemons.voice.audio import AudioError, Samples, read_wav, resample, trim_silence

ESPEAK = "espeak-ng"
# Mandarin through the pinyin voice: in Debian 12's espeak-ng 1.51 the plain `cmn` voice reads a
# character as its pinyin with the tone digit in English (三 → "san one", 号 → "hao four"); this
# one says it in Mandarin, and still names a Latin letter in English (A → "ei").
VOICES = {"zh": "cmn-latn-pinyin", "en": "en-us"}
# Words per minute: a little brisker than the default 175, still clear over a hall's echo.
DEFAULT_SPEED_WPM = 230
TIMEOUT_S = 20.0


class TtsError(RuntimeError):
    """The engine is missing or failed."""


class EspeakEngine:
    def __init__(self, speed_wpm: int = DEFAULT_SPEED_WPM, executable: str = ESPEAK) -> None:
        self.speed_wpm = speed_wpm
        self.executable = executable
        self._cache: dict[tuple[str, str, int], Samples] = {}
        self._lock = threading.Lock()
        self.calls = 0  # engine runs, for tests that keep them few

    def available(self) -> bool:
        return shutil.which(self.executable) is not None

    def speak(self, text: str, language: str, rate: int) -> Samples:
        """The text as trimmed mono samples at `rate`; cached, as hall phrases repeat a lot."""
        key = (text, language, rate)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        samples = self._run(text, language, rate)
        with self._lock:
            if len(self._cache) > 512:
                self._cache.clear()
            self._cache[key] = samples
        return samples

    def _run(self, text: str, language: str, rate: int) -> Samples:
        voice = VOICES.get(language)
        if voice is None:
            raise TtsError(f"no offline voice for language {language!r}")
        with tempfile.TemporaryDirectory(prefix="hall-tts-") as folder:
            out = Path(folder) / "speech.wav"
            argv = [self.executable, "-v", voice, "-s", str(self.speed_wpm), "-w", str(out),
                    "--", text]
            self.calls += 1
            try:
                result = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_S, check=False)
            except FileNotFoundError as exc:
                missing = f"{self.executable} is not installed (apt install espeak-ng)"
                raise TtsError(missing) from exc
            except subprocess.TimeoutExpired as exc:
                raise TtsError(f"{self.executable} took longer than {TIMEOUT_S:g} s") from exc
            if result.returncode != 0 or not out.exists():
                stderr = result.stderr.decode(errors="replace").strip()[:200]
                raise TtsError(f"{self.executable} failed ({result.returncode}): {stderr}")
            try:
                samples, engine_rate = read_wav(out)
            except AudioError as exc:
                raise TtsError(f"{self.executable} wrote an unreadable file: {exc}") from exc
        return trim_silence(resample(samples, engine_rate, rate), rate)
