"""Sample-level audio helpers: mono float32 buffers in [-1, 1] at one sample rate.

Everything the announcer plays is built here, in memory, into one buffer per announcement, so a
sink receives a single stream and nothing can overlap or stutter between clips.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]

# A word boundary is overlapped by this much: long enough to hide a discontinuity (a click),
# short enough not to smear two syllables into one.
CROSSFADE_S = 0.008
# The level below which the engine's output counts as silence when trimming it.
SILENCE_LEVEL = 0.02
# Kept around a trimmed clip so the start of a soft consonant is not cut off.
TRIM_MARGIN_S = 0.012


class AudioError(ValueError):
    """A file is not a WAV this announcer can read."""


def read_wav_bytes(data: bytes) -> tuple[Samples, int]:
    """Decode a PCM WAV (8/16/32-bit, any channel count) to mono float32 and its rate."""
    try:
        with wave.open(io.BytesIO(data)) as reader:
            rate = reader.getframerate()
            channels = reader.getnchannels()
            width = reader.getsampwidth()
            raw = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"not a PCM WAV file: {exc}") from exc
    if width == 1:
        ints = np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0
        scale = 128.0
    elif width == 2:
        ints = np.frombuffer(raw, dtype="<i2").astype(np.float32)
        scale = 32768.0
    elif width == 4:
        ints = np.frombuffer(raw, dtype="<i4").astype(np.float32)
        scale = 2147483648.0
    else:
        raise AudioError(f"unsupported sample width {width} bytes")
    if channels < 1 or rate < 1000:
        raise AudioError(f"implausible format: {channels} channels at {rate} Hz")
    usable = len(ints) - len(ints) % channels
    mono = ints[:usable].reshape(-1, channels).mean(axis=1) / scale
    if mono.size == 0:
        raise AudioError("the file holds no samples")
    return mono.astype(np.float32), rate


def read_wav(path: Path) -> tuple[Samples, int]:
    return read_wav_bytes(path.read_bytes())


def to_pcm16(samples: Samples) -> bytes:
    clipped = np.clip(samples, -1.0, 1.0)
    return (clipped * 32767.0).round().astype("<i2").tobytes()


def wav_bytes(samples: Samples, rate: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(to_pcm16(samples))
    return out.getvalue()


def write_wav(path: Path, samples: Samples, rate: int) -> None:
    path.write_bytes(wav_bytes(samples, rate))


def resample(samples: Samples, from_rate: int, to_rate: int) -> Samples:
    """Linear-interpolation resampling; enough for speech between the common rates."""
    if from_rate == to_rate or samples.size == 0:
        return samples
    count = max(1, round(samples.size * to_rate / from_rate))
    positions = np.linspace(0.0, samples.size - 1, count)
    return np.interp(positions, np.arange(samples.size), samples).astype(np.float32)


def trim_silence(samples: Samples, rate: int, level: float = SILENCE_LEVEL) -> Samples:
    """Cut the leading and trailing silence a speech engine puts around every word."""
    loud = np.flatnonzero(np.abs(samples) >= level)
    if loud.size == 0:
        return samples[:0]
    margin = int(TRIM_MARGIN_S * rate)
    start = max(0, int(loud[0]) - margin)
    end = min(samples.size, int(loud[-1]) + 1 + margin)
    return samples[start:end]


def fade_edges(samples: Samples, rate: int, seconds: float = CROSSFADE_S) -> Samples:
    """Ramp both ends to zero so a clip starts and ends without a step (no click)."""
    out = samples.astype(np.float32, copy=True)
    n = min(int(seconds * rate), out.size // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, endpoint=False, dtype=np.float32)
        out[:n] *= ramp
        out[-n:] *= ramp[::-1]
    return out


def silence(seconds: float, rate: int) -> Samples:
    return np.zeros(round(seconds * rate), dtype=np.float32)


def crossfade_overlap(rate: int) -> int:
    return int(CROSSFADE_S * rate)
