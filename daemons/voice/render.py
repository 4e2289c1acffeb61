"""Rendering: tokens → ONE buffer per announcement, clips joined by short crossfades.

Each clip's edges are ramped (audio.fade_edges) and neighbouring clips overlap by exactly that
ramp, so a join is a crossfade: no step in the waveform (a click) and no silent hole (a gap). The
only silence inside an announcement is a `Pause` the phrase asked for. A clip the pack lacks is
spoken by the offline engine and recorded as a pack problem. Under the `compressed` load policy the
finished buffer is time-compressed as a whole (stretch.py), so the joins stay crossfaded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from daemons.voice.audio import Samples, crossfade_overlap, fade_edges, silence
from daemons.voice.pack import VoicePack
from daemons.voice.phrases import Clip, Mark, Pause, Token, as_text
from daemons.voice.stretch import time_compress
from daemons.voice.tts import EspeakEngine, TtsError

log = logging.getLogger("hall.voice.render")


@dataclass(frozen=True)
class Placed:
    """Where one piece landed in the buffer; `source` is clip, engine, pause or lost."""

    key: str
    start: int
    length: int
    source: str


@dataclass
class Rendered:
    samples: Samples
    rate: int
    text: str
    placed: list[Placed] = field(default_factory=list)
    marks: dict[int, int] = field(default_factory=dict)  # call index -> sample offset
    speed: float = 1.0

    @property
    def duration_s(self) -> float:
        return self.samples.size / self.rate

    def mark_s(self, call_index: int) -> float:
        return self.marks[call_index] / self.rate

    def marks_s(self) -> dict[int, float]:
        return {call: offset / self.rate for call, offset in self.marks.items()}


class Renderer:
    def __init__(
        self,
        pack: VoicePack,
        engine: EspeakEngine | None,
        on_problem: Callable[[str, str], None] | None = None,
    ) -> None:
        self.pack = pack
        self.rate = pack.rate
        self.engine = engine
        self.on_problem = on_problem

    def render(
        self, tokens: list[Token], volume_percent: int = 100, speed: float = 1.0
    ) -> Rendered:
        pieces, marks_at = self._pieces(tokens)
        starts, total = self._positions(pieces)
        out = np.zeros(total, dtype=np.float32)
        placed: list[Placed] = []
        for (key, samples, source), start in zip(pieces, starts, strict=True):
            out[start:start + samples.size] += samples
            placed.append(Placed(key, start, samples.size, source))
        if volume_percent != 100:
            out *= np.float32(volume_percent / 100.0)
        marks = {call: _mark_offset(starts, index, total) for call, index in marks_at.items()}
        if speed != 1.0:
            out = time_compress(out, self.rate, speed)
            # WSOLA keeps the time line linear to within a search step (~13 ms).
            marks = {call: min(round(offset / speed), out.size) for call, offset in marks.items()}
            placed = [Placed(p.key, round(p.start / speed), round(p.length / speed), p.source)
                      for p in placed]
        return Rendered(out, self.rate, as_text(tokens), placed, marks, speed)

    def layout(self, tokens: list[Token]) -> tuple[float, dict[int, float]]:
        """Duration and call start offsets in seconds, without mixing: the scheduler's forecast."""
        pieces, marks_at = self._pieces(tokens)
        starts, total = self._positions(pieces)
        marks = {
            call: _mark_offset(starts, index, total) / self.rate
            for call, index in marks_at.items()
        }
        return total / self.rate, marks

    def _pieces(
        self, tokens: list[Token]
    ) -> tuple[list[tuple[str, Samples, str]], dict[int, int]]:
        pieces: list[tuple[str, Samples, str]] = []  # key, samples, source
        marks_at: dict[int, int] = {}  # call index -> index of the piece it precedes
        for token in tokens:
            if isinstance(token, Mark):
                marks_at[token.call_index] = len(pieces)
            elif isinstance(token, Pause):
                pieces.append(("pause", silence(token.seconds, self.rate), "pause"))
            elif isinstance(token, Clip):
                pieces.append(self._clip(token))
            else:
                pieces.append(self._speech(token.text, token.language, "speech"))
        return pieces, marks_at

    def _clip(self, token: Clip) -> tuple[str, Samples, str]:
        samples = self.pack.clip(token.key)
        if samples is not None and samples.size:
            return token.key, samples, "clip"
        if token.key not in self.pack.problems:
            self._problem(token.key, "clip missing from the pack; spoken by the engine")
        return self._speech(token.text, token.language, token.key)

    def _speech(self, text: str, language: str, key: str) -> tuple[str, Samples, str]:
        if self.engine is None:
            self._problem(key, "no speech engine to fill in")
            return key, silence(0, self.rate), "lost"
        try:
            spoken = self.engine.speak(text, language, self.rate)
            return key, fade_edges(spoken, self.rate), "engine"
        except TtsError as exc:
            self._problem(key, f"speech engine failed: {exc}")
            return key, silence(0, self.rate), "lost"

    def _problem(self, key: str, problem: str) -> None:
        if self.pack.note_problem(key, problem):
            log.warning("语音片段问题 / clip problem: %s: %s", key, problem)
            if self.on_problem is not None:
                self.on_problem(key, problem)

    def _positions(self, pieces: list[tuple[str, Samples, str]]) -> tuple[list[int], int]:
        overlap = crossfade_overlap(self.rate)
        starts: list[int] = []
        cursor = 0
        previous: Samples | None = None  # the last sounding piece, if nothing silent followed it
        for _key, samples, source in pieces:
            sounding = source != "pause" and samples.size > 0
            if sounding and previous is not None:
                # Overlap two sounding pieces by their fade, never by more than half of either.
                cursor -= min(overlap, samples.size // 2, previous.size // 2)
            starts.append(cursor)
            cursor += samples.size
            if source == "pause":
                previous = None
            elif sounding:
                previous = samples
        return starts, max(cursor, 0)


def _mark_offset(starts: list[int], index: int, total: int) -> int:
    return starts[index] if index < len(starts) else total
