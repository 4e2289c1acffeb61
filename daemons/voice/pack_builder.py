"""`hall voice pack`: generate the default voice pack with the offline engine, at install time.

Every word a call can need is spoken once by espeak-ng (Mandarin, and English when the site uses
it), trimmed of its silence and saved as a clip: digits, letters, number words, the templates'
words and every window's spoken name. The chime is synthesised. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import logging
import math
import string
from pathlib import Path

import numpy as np

from daemons.voice.audio import Samples, fade_edges, write_wav
from daemons.voice.pack import write_manifest
from daemons.voice.phrases import (
    CHIME,
    EN_DIGITS,
    EN_TEENS,
    EN_TENS,
    ZH_DIGITS,
    CallWords,
    Clip,
    expand,
    spoken_window_name,
)
from daemons.voice.tts import EspeakEngine, TtsError
from firmware_config.site import SiteConfig

log = logging.getLogger("hall.voice.pack")

PACK_NAME = "espeak-ng 默认语音包 / default pack"


def chime(rate: int) -> Samples:
    """A two-note 'ding-dong' (E5 then C5) with a bell-like decay, about 0.9 s."""
    notes: list[Samples] = []
    for frequency, seconds in ((659.25, 0.4), (523.25, 0.5)):
        t = np.arange(int(seconds * rate), dtype=np.float32) / rate
        envelope = np.exp(-3.5 * t).astype(np.float32)
        tone = np.sin(2 * math.pi * frequency * t) + 0.3 * np.sin(4 * math.pi * frequency * t)
        notes.append((0.45 * envelope * tone).astype(np.float32))
    return fade_edges(np.concatenate(notes), rate)


def pack_words(site: SiteConfig) -> list[Clip]:
    """Every clip a call in this hall can need, once each, Chinese first."""
    clips: dict[str, Clip] = {}
    voice = site.voice
    for language in voice.languages:
        words: list[str] = list(string.ascii_uppercase)
        if language == "zh":
            words += [*ZH_DIGITS, "十", "百"]
        else:
            words += [*EN_DIGITS, *EN_TEENS, *(t for t in EN_TENS if t), "hundred"]
        for word in words:
            clips.setdefault(f"{language}/{word}", Clip(f"{language}/{word}", word, language))
        templates = voice.phrase(language)
        for window in site.windows:
            call = CallWords("A0", window.number, window.name_zh)
            for template in (templates.lead, templates.item, templates.brief_item, templates.tail):
                for clip in expand(template, call, language):
                    clips.setdefault(clip.key, clip)
    return list(clips.values())


def build_pack(site: SiteConfig, folder: Path, engine: EspeakEngine | None = None) -> int:
    """Write the pack into `folder`; returns the number of clips. Raises TtsError."""
    engine = engine or EspeakEngine()
    rate = site.voice.sample_rate
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {CHIME: "chime.wav"}
    write_wav(folder / "chime.wav", chime(rate), rate)
    for index, clip in enumerate(pack_words(site), start=1):
        samples = engine.speak(_engine_text(clip), clip.language, rate)
        if samples.size == 0:
            raise TtsError(f"the engine said nothing for {clip.key!r}")
        filename = f"{clip.language}-{index:04d}.wav"
        write_wav(folder / filename, samples, rate)
        files[clip.key] = filename
    write_manifest(folder, PACK_NAME, files)
    return len(files)


def _engine_text(clip: Clip) -> str:
    # A lone Latin letter is read by its English name in both voices ("A" → "ei"), which is
    # how letters on Chinese tickets are said.
    return spoken_window_name(clip.text) if clip.language == "zh" else clip.text


def add_pack_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall voice pack`."""
    parser.add_argument("--site", type=Path, default=argparse.SUPPRESS,
                        help="site YAML (default: the bundled demo hall)")
    parser.add_argument("--out", type=Path, default=None, help="pack folder")


def run_pack_command(args: argparse.Namespace) -> int:
    from firmware_config.loader import load_site_or_exit

    site = load_site_or_exit(args.site)
    folder: Path = args.out or site.voice.pack_path(site.data_dir)
    try:
        count = build_pack(site, folder)
    except TtsError as exc:
        print(f"语音包生成失败 / voice pack not generated: {exc}")
        return 1
    print(f"语音包已生成 / voice pack written: {folder} ({count} clips)")
    return 0
