"""Time compression at a burst: shorter by the factor, same pitch, no clicks, marks still right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from voice_fixtures import (
    CALL_KEYS,
    RATE,
    dominant_frequency,
    silent_runs,
    tone_frequencies,
    write_tone_pack,
)

from daemons.voice.announce import CallRequest, call_tokens
from daemons.voice.audio import CROSSFADE_S, fade_edges
from daemons.voice.pack import load_pack
from daemons.voice.phrases import as_text
from daemons.voice.render import Renderer
from daemons.voice.stretch import FRAME_S, time_compress
from firmware_config.voice import VoiceConfig
from hall_bus.contract.voice import VoicePolicy

SPEEDS = [1.2, 1.4, 1.5]


def _tone(frequency: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def _envelope(samples: np.ndarray, window_s: float = 0.005) -> np.ndarray:
    size = int(window_s * RATE)
    count = samples.size // size
    return np.sqrt(np.mean(samples[: count * size].reshape(count, size) ** 2, axis=1))


@pytest.mark.parametrize("speed", SPEEDS)
@pytest.mark.parametrize("frequency", [180.7, 437.3, 1213.9])
def test_a_tone_gets_shorter_by_the_factor_and_keeps_its_pitch(speed: float,
                                                               frequency: float) -> None:
    tone = _tone(frequency, 1.0)
    out = time_compress(tone, RATE, speed)
    assert out.size / RATE == pytest.approx(1.0 / speed, abs=0.002)
    # The FFT over a whole second resolves 1 Hz; a resampled (sped-up tape) tone would be
    # `speed` times higher.
    assert dominant_frequency(out, RATE) == pytest.approx(frequency, abs=2.0)


@pytest.mark.parametrize("speed", SPEEDS)
def test_joins_are_seamless_no_clicks_no_dips(speed: float) -> None:
    tone = _tone(437.3, 1.0)
    out = time_compress(tone, RATE, speed)
    # A click is a step: the largest sample-to-sample change of a clean tone is fixed by its
    # frequency and level; a misaligned splice jumps far past it.
    assert np.abs(np.diff(out)).max() <= np.abs(np.diff(tone)).max() * 1.05
    # Frames out of phase would cancel and leave a dip in the level at every join; the level
    # over 5 ms stays within what the tone itself shows over 5 ms.
    level, reference = _envelope(out)[2:-2], _envelope(tone)
    assert level.min() >= 0.98 * reference.min()
    assert level.max() <= 1.02 * reference.max()


def test_a_sequence_of_tones_keeps_its_order_and_proportions() -> None:
    # Three notes of 0.3 s, faded as the pack's clips are; the middle of each note, after
    # compression, still sounds at its own frequency.
    notes = [523.3, 659.3, 784.0]
    clip = np.concatenate([fade_edges(_tone(f, 0.3), RATE) for f in notes])
    out = time_compress(clip, RATE, 1.5)
    third = out.size // 3
    guard = int(FRAME_S * RATE)
    for index, frequency in enumerate(notes):
        middle = out[index * third + guard:(index + 1) * third - guard]
        assert dominant_frequency(middle, RATE) == pytest.approx(frequency, abs=8)


def test_silence_stays_silent_and_bad_speeds_are_refused() -> None:
    quiet = np.zeros(RATE, dtype=np.float32)
    assert not np.any(time_compress(quiet, RATE, 1.4))
    tone = _tone(440.0, 0.5)
    assert np.array_equal(time_compress(tone, RATE, 1.0), tone)
    for speed in (0.9, 2.5):
        with pytest.raises(ValueError, match="speed"):
            time_compress(tone, RATE, speed)


def test_a_compressed_announcement_keeps_its_clips_marks_and_joins(tmp_path: Path) -> None:
    frequencies = tone_frequencies(CALL_KEYS)
    renderer = Renderer(load_pack(write_tone_pack(tmp_path / "pack", frequencies), RATE), None)
    calls = [
        CallRequest("t1", "A023", "w3", 3, "综合窗口", 0.0),
        CallRequest("t2", "B011", "w5", 5, "综合窗口", 0.0),
    ]
    tokens = call_tokens(calls, VoicePolicy.COMPRESSED, VoiceConfig())
    natural = renderer.render(tokens)
    fast = renderer.render(tokens, speed=1.5)
    assert fast.speed == 1.5
    assert fast.duration_s == pytest.approx(natural.duration_s / 1.5, abs=0.002)
    for call, offset in natural.marks.items():
        # Each call's words still start where the scheduler plans them (within a search step).
        assert fast.marks[call] / RATE == pytest.approx(offset / RATE / 1.5, abs=0.02)
    # Every clip is still there, at its own pitch, in order.
    by_frequency = {round(f): key for key, f in frequencies.items()}
    margin = int(2 * FRAME_S * RATE)
    heard = []
    for piece in fast.placed:
        if piece.source != "clip" or piece.length <= 2 * margin + int(CROSSFADE_S * RATE):
            continue
        middle = fast.samples[piece.start + margin:piece.start + piece.length - margin]
        measured = dominant_frequency(middle, RATE)
        nearest = min(by_frequency, key=lambda f: abs(f - measured))
        assert abs(nearest - measured) < 10
        heard.append(by_frequency[nearest])
    assert heard == [p.key for p in natural.placed
                     if p.source == "clip" and p.length / 1.5 > 2 * margin
                     + int(CROSSFADE_S * RATE)]
    # The only silences are the (shortened) pause between the two calls.
    runs = silent_runs(fast.samples, RATE)
    assert len(runs) == 1 and runs[0][1] < 0.15


def test_calls_to_the_same_window_share_its_words_at_a_burst() -> None:
    calls = [
        CallRequest("t1", "A023", "w3", 3, "综合窗口", 0.0),
        CallRequest("t2", "B011", "w5", 5, "综合窗口", 0.0),
        CallRequest("t3", "A031", "w3", 3, "综合窗口", 0.0),
    ]
    tokens = call_tokens(calls, VoicePolicy.COMPRESSED, VoiceConfig())
    assert as_text(tokens) == "请A023，A031三号，B011五号"
    terse = call_tokens(calls, VoicePolicy.TERSE, VoiceConfig())
    assert as_text(terse) == "请A023三号，B011五号，A031三号"
