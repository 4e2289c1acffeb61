"""Voice packs for the tests: synthetic tone packs (one pure tone per clip, so the clip sequence
can be read back from the samples) and the real espeak-ng pack, generated once per session."""

from __future__ import annotations

import io
import math
import wave
from pathlib import Path

import numpy as np
import pytest

from daemons.voice.audio import Samples
from daemons.voice.pack import write_manifest
from daemons.voice.pack_builder import build_pack
from daemons.voice.phrases import CHIME
from firmware_config.site import SiteConfig, WindowConfig, WindowServiceConfig

RATE = 22050

CALL_KEYS = [CHIME, "zh/请", "zh/A", "zh/B", "zh/零", "zh/一", "zh/二", "zh/三", "zh/十",
             "zh/号", "zh/到", "zh/号窗口", "zh/综合窗口", "zh/办理", "zh/四", "zh/五", "zh/六",
             "zh/七", "zh/八", "zh/九"]


def tone_frequencies(keys: list[str], base: float = 301.3, step: float = 44.7) -> dict[str, float]:
    # Not whole multiples of 5 Hz: a 0.2 s clip then ends mid-cycle, as speech does, so a join
    # without a crossfade would click.
    return {key: base + step * index for index, key in enumerate(keys)}


def tone_wav(frequency: float, seconds: float, rate: int, channels: int = 1,
             width: int = 2) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    wave_samples = 0.5 * np.sin(2 * math.pi * frequency * t)
    if width == 1:
        ints = np.round(wave_samples * 127 + 128).astype(np.uint8)
    else:
        ints = np.round(wave_samples * 32767).astype("<i2")
    frames = np.repeat(ints, channels)
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(frames.tobytes())
    return out.getvalue()


def write_tone_pack(
    folder: Path,
    frequencies: dict[str, float],
    *,
    seconds: float = 0.2,
    rate: int = RATE,
    channels: int = 1,
    width: int = 2,
    name: str = "tones",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for index, (key, frequency) in enumerate(frequencies.items()):
        filename = f"clip-{index:03d}.wav"
        (folder / filename).write_bytes(tone_wav(frequency, seconds, rate, channels, width))
        files[key] = filename
    write_manifest(folder, name, files)
    return folder


def dominant_frequency(samples: Samples, rate: int) -> float:
    windowed = samples * np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(windowed, n=max(samples.size, rate)))
    return float(np.argmax(spectrum) * rate / max(samples.size, rate))


def silent_runs(samples: Samples, rate: int, level: float = 0.01,
                window_s: float = 0.005) -> list[tuple[float, float]]:
    """(start s, length s) of every quiet stretch between the first and last sound."""
    size = int(window_s * rate)
    count = samples.size // size
    rms = np.sqrt(np.mean(samples[: count * size].reshape(count, size) ** 2, axis=1))
    loud = np.flatnonzero(rms >= level)
    runs: list[tuple[float, float]] = []
    if loud.size == 0:
        return runs
    start = None
    for index in range(int(loud[0]), int(loud[-1]) + 1):
        if rms[index] < level and start is None:
            start = index
        elif rms[index] >= level and start is not None:
            runs.append((start * window_s, (index - start) * window_s))
            start = None
    return runs


def peak_site(zones: int = 3) -> SiteConfig:
    """30 windows over `zones` floors, as a busy county hall."""
    names = ["综合受理窗口", "社保医保窗口", "不动产登记窗口", "税务窗口", "户籍窗口"]
    windows = [
        WindowConfig(
            id=f"w{number}", number=number, name_zh=names[number % len(names)],
            name_en=f"Window {number}", zone=f"floor{1 + (number - 1) * zones // 30}",
            services=[WindowServiceConfig(service="general")],
        )
        for number in range(1, 31)
    ]
    return SiteConfig.model_validate({
        "hall_id": "peak-hall", "name_zh": "高峰测试大厅", "name_en": "Peak test hall",
        "services": [{"id": "general", "prefix": "A", "name_zh": "综合", "name_en": "General"}],
        "windows": [window.model_dump() for window in windows],
    })


@pytest.fixture(scope="session")
def espeak_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real default pack for the peak hall, generated once (espeak-ng, offline)."""
    folder = tmp_path_factory.mktemp("espeak-pack")
    build_pack(peak_site(), folder)
    return folder
