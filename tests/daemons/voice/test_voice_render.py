"""Rendering calls into one buffer: the clip sequence, durations and joins read from the samples."""

from __future__ import annotations

import itertools
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

from daemons.voice.announce import SENTENCE_PAUSE_S, CallRequest, call_tokens, repeat_tokens
from daemons.voice.audio import CROSSFADE_S, read_wav, write_wav
from daemons.voice.pack import load_pack
from daemons.voice.render import Placed, Renderer
from daemons.voice.tts import EspeakEngine
from firmware_config.voice import VoiceConfig
from hall_bus.contract.voice import VoicePolicy

CALL = CallRequest("2026-05-06-A023", "A023", "w3", 3, "3号综合窗口", 0.0)
EXPECTED_KEYS = [
    "chime", "zh/请", "zh/A", "zh/零", "zh/二", "zh/三", "zh/号", "zh/到", "zh/三", "zh/号",
    "zh/综合窗口", "zh/办理",
]


def tone_samples(frequency: float, count: int) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * frequency * np.arange(count) / RATE)).astype(np.float32)


def _renderer(folder: Path, engine: EspeakEngine | None = None) -> Renderer:
    return Renderer(load_pack(folder, RATE), engine)


def _sequence_from_samples(samples: np.ndarray, rate: int, frequencies: dict[str, float],
                           spans: list[tuple[int, int]]) -> list[str]:
    """Name each span by the pack clip whose tone dominates it."""
    by_frequency = {round(f): key for key, f in frequencies.items()}
    found = []
    margin = int(CROSSFADE_S * rate)
    for start, length in spans:
        middle = samples[start + margin: start + length - margin]
        measured = dominant_frequency(middle, rate)
        nearest = min(by_frequency, key=lambda f: abs(f - measured))
        assert abs(nearest - measured) < 10, (measured, nearest)
        found.append(by_frequency[nearest])
    return found


def test_single_call_renders_the_clips_in_order_without_gaps_or_clicks(tmp_path: Path) -> None:
    frequencies = tone_frequencies(CALL_KEYS)
    renderer = _renderer(write_tone_pack(tmp_path / "pack", frequencies))
    rendered = renderer.render(call_tokens([CALL], VoicePolicy.SINGLE, VoiceConfig()))

    assert rendered.text == "请A023号到三号综合窗口办理"
    spans = [(p.start, p.length) for p in rendered.placed]
    assert _sequence_from_samples(rendered.samples, RATE, frequencies, spans) == EXPECTED_KEYS
    # Every clip is 0.2 s; each of the 11 joins overlaps by one crossfade.
    overlap = int(CROSSFADE_S * RATE)
    assert rendered.samples.size == 12 * int(0.2 * RATE) - 11 * overlap
    # Consecutive clips overlap by exactly the crossfade: no hole, no pile-up.
    for before, after in zip(rendered.placed, rendered.placed[1:], strict=False):
        assert after.start == before.start + before.length - overlap
    assert silent_runs(rendered.samples, RATE) == []
    # No click: around every join the steepest step is no steeper than the two tones' slopes.
    def steepest_step(samples: np.ndarray, placed: list[Placed]) -> float:
        worst = 0.0
        for before, after in itertools.pairwise(placed):
            bound = 0.5 * 2 * np.pi * max(frequencies[before.key], frequencies[after.key]) / RATE
            join = samples[after.start - overlap: after.start + 2 * overlap]
            worst = max(worst, float(np.max(np.abs(np.diff(join)))) / bound)
        return worst

    assert steepest_step(rendered.samples, rendered.placed) <= 1.05
    # The same clips butted together without fades do click: the check above can fail.
    raw = [tone_samples(frequencies[p.key], p.length + overlap) for p in rendered.placed]
    raw_placed = []
    cursor = 0
    for piece, samples in zip(rendered.placed, raw, strict=True):
        raw_placed.append(Placed(piece.key, cursor, samples.size, "clip"))
        cursor += samples.size
    assert steepest_step(np.concatenate(raw), raw_placed) > 1.5
    # The call's words start right after the chime.
    assert rendered.marks[0] == int(0.2 * RATE) - overlap


def test_merged_calls_pause_only_where_the_phrase_says(tmp_path: Path) -> None:
    frequencies = tone_frequencies(CALL_KEYS)
    renderer = _renderer(write_tone_pack(tmp_path / "pack", frequencies))
    second = CallRequest("2026-05-06-B012", "B012", "w10", 10, "综合窗口", 0.0)
    rendered = renderer.render(call_tokens([CALL, second], VoicePolicy.MERGED, VoiceConfig()))

    assert rendered.text == "请A023三号窗口，B012十号窗口办理"
    pauses = [p for p in rendered.placed if p.source == "pause"]
    assert len(pauses) == 1
    runs = silent_runs(rendered.samples, RATE)
    assert len(runs) == 1
    pause_start, pause_length = runs[0]
    assert abs(pause_start - pauses[0].start / RATE) <= 0.006
    assert abs(pause_length - pauses[0].length / RATE) <= 0.011
    # The second call starts just after the pause, where its mark says.
    assert rendered.marks[1] == pauses[0].start + pauses[0].length
    sounding = [(p.start, p.length) for p in rendered.placed if p.source != "pause"]
    keys = _sequence_from_samples(rendered.samples, RATE, frequencies, sounding)
    assert keys == ["chime", "zh/请", "zh/A", "zh/零", "zh/二", "zh/三", "zh/三", "zh/号窗口",
                    "zh/B", "zh/零", "zh/一", "zh/二", "zh/十", "zh/号窗口", "zh/办理"]


def test_the_forecast_layout_matches_the_rendered_buffer(tmp_path: Path) -> None:
    renderer = _renderer(write_tone_pack(tmp_path / "pack", tone_frequencies(CALL_KEYS)))
    voice = VoiceConfig(languages=["zh", "en"])
    tokens = repeat_tokens(CALL, voice)
    duration, _marks = renderer.layout(tokens)
    rendered = renderer.render(tokens)
    assert duration == pytest.approx(rendered.duration_s)
    # A repeat starts with a sentence pause, then Chinese, a pause, then English.
    assert rendered.placed[0].source == "pause"
    assert rendered.placed[0].length == round(SENTENCE_PAUSE_S * RATE)
    assert [p.source for p in rendered.placed].count("pause") == 2
    assert rendered.text.endswith("办理，number A zero two three please go to window three")


def test_a_replaced_pack_in_another_format_is_used_and_resampled(tmp_path: Path) -> None:
    # A hall's own recordings: 16 kHz, stereo, 8-bit, other voices (other tones) and longer.
    recorded = tone_frequencies(CALL_KEYS, base=520.0, step=37.0)
    folder = write_tone_pack(tmp_path / "recorded", recorded, seconds=0.3, rate=16000,
                             channels=2, width=1, name="大厅录音")
    renderer = _renderer(folder)
    assert renderer.pack.name == "大厅录音"
    rendered = renderer.render(call_tokens([CALL], VoicePolicy.SINGLE, VoiceConfig()))

    assert rendered.rate == RATE
    spans = [(p.start, p.length) for p in rendered.placed]
    assert _sequence_from_samples(rendered.samples, RATE, recorded, spans) == EXPECTED_KEYS
    assert rendered.duration_s == pytest.approx(12 * 0.3 - 11 * CROSSFADE_S, abs=0.002)


def test_corrupt_and_missing_clips_are_reported_and_spoken_by_the_engine(tmp_path: Path) -> None:
    folder = write_tone_pack(tmp_path / "pack", tone_frequencies(CALL_KEYS))
    manifest = (folder / "manifest.json").read_text(encoding="utf-8")
    # 办理 is garbage, 综合窗口's file is gone.
    files = dict(line.strip().rstrip(",").split(": ") for line in manifest.splitlines()
                 if line.strip().startswith('"zh/'))
    (folder / files['"zh/办理"'].strip('"')).write_bytes(b"RIFF\x00\x00garbage")
    (folder / files['"zh/综合窗口"'].strip('"')).unlink()
    engine = EspeakEngine()
    renderer = _renderer(folder, engine)

    assert set(renderer.pack.problems) == {"zh/办理", "zh/综合窗口"}
    assert "unreadable" in renderer.pack.problems["zh/办理"]
    assert "missing" in renderer.pack.problems["zh/综合窗口"]
    rendered = renderer.render(call_tokens([CALL], VoicePolicy.SINGLE, VoiceConfig()))

    filled = {p.key: p for p in rendered.placed if p.source == "engine"}
    assert set(filled) == {"zh/办理", "zh/综合窗口"}
    for piece in filled.values():
        words = rendered.samples[piece.start: piece.start + piece.length]
        assert piece.length > 0.2 * RATE  # real speech, not a placeholder
        assert np.sqrt(np.mean(words ** 2)) > 0.02
    assert engine.calls == 2
    # The engine's words are trimmed: no hole at a join longer than its consonant margins. (A
    # stop consonant's closure inside a word, e.g. in 综合, is speech, not a hole.)
    inside = [(p.start / RATE + 0.05, (p.start + p.length) / RATE - 0.05) for p in filled.values()]
    holes = [(start, length) for start, length in silent_runs(rendered.samples, RATE)
             if not any(lo < start and start + length < hi for lo, hi in inside)]
    assert all(length <= 0.04 for _, length in holes), holes


def test_a_window_name_the_pack_lacks_is_reported_once(tmp_path: Path) -> None:
    problems: list[str] = []
    frequencies = tone_frequencies(CALL_KEYS)
    renderer = Renderer(load_pack(write_tone_pack(tmp_path / "pack", frequencies), RATE), None,
                        on_problem=lambda key, _problem: problems.append(key))
    other = CallRequest("t", "A001", "w3", 3, "婚姻登记窗口", 0.0)
    for _ in range(3):
        rendered = renderer.render(call_tokens([other], VoicePolicy.SINGLE, VoiceConfig()))
    assert problems == ["zh/婚姻登记窗口"]
    assert [p.source for p in rendered.placed if p.key == "zh/婚姻登记窗口"] == ["lost"]


def test_wav_round_trip_and_volume(tmp_path: Path) -> None:
    renderer = _renderer(write_tone_pack(tmp_path / "pack", tone_frequencies(CALL_KEYS)))
    tokens = call_tokens([CALL], VoicePolicy.SINGLE, VoiceConfig())
    loud = renderer.render(tokens)
    quiet = renderer.render(tokens, volume_percent=40)
    assert np.max(np.abs(quiet.samples)) == pytest.approx(0.4 * np.max(np.abs(loud.samples)))
    write_wav(tmp_path / "call.wav", loud.samples, RATE)
    back, rate = read_wav(tmp_path / "call.wav")
    assert rate == RATE and back.size == loud.samples.size
    assert np.max(np.abs(back - loud.samples)) < 1e-4
