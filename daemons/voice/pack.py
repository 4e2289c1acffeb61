"""A voice pack: a folder of WAV clips and a `manifest.json` naming them.

    {"name": "…", "clips": {"chime": "chime.wav", "zh/请": "zh-0001.wav", …}}

Keys are `chime` or `<language>/<word>` (see phrases.py). A hall replaces the generated pack with
its own recorded voice by putting another folder with the same layout in its place; clips may be
any PCM WAV (rate, width, channels) and are converted when loaded. A clip that is missing or
unreadable is recorded as a problem — the announcer reports it and the offline engine speaks the
word instead.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from daemons.voice.audio import AudioError, Samples, fade_edges, read_wav, resample

log = logging.getLogger("hall.voice.pack")

MANIFEST = "manifest.json"


class PackError(ValueError):
    """The pack folder or its manifest cannot be used at all."""


@dataclass
class VoicePack:
    name: str
    rate: int
    clips: dict[str, Samples] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # key -> what is wrong

    def clip(self, key: str) -> Samples | None:
        return self.clips.get(key)

    def note_problem(self, key: str, problem: str) -> bool:
        """Record a problem once; True the first time, so the caller logs it once."""
        if key in self.problems:
            return False
        self.problems[key] = problem
        return True

    def problem_lines(self) -> list[str]:
        return [f"{key}: {problem}" for key, problem in sorted(self.problems.items())]


def load_pack(folder: Path, rate: int) -> VoicePack:
    """Read every clip named by the manifest, converted to mono float32 at `rate`."""
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PackError(f"no voice pack at {folder} (missing {MANIFEST}); "
                        "run `hall voice pack` to generate one") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackError(f"{manifest_path}: unreadable manifest: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("clips"), dict):
        raise PackError(f"{manifest_path}: expected an object with a `clips` object")
    pack = VoicePack(name=str(manifest.get("name") or folder.name), rate=rate)
    for key, filename in manifest["clips"].items():
        if not isinstance(filename, str) or "/" in filename or filename.startswith("."):
            pack.note_problem(str(key), f"bad file name {filename!r}")
            continue
        try:
            samples, clip_rate = read_wav(folder / filename)
        except FileNotFoundError:
            pack.note_problem(key, f"file {filename} missing")
            continue
        except (OSError, AudioError) as exc:
            pack.note_problem(key, f"file {filename} unreadable: {exc}")
            continue
        pack.clips[key] = fade_edges(resample(samples, clip_rate, rate), rate)
    for line in pack.problem_lines():
        log.warning("语音包问题 / voice pack problem: %s", line)
    return pack


def write_manifest(folder: Path, name: str, clips: dict[str, str]) -> None:
    manifest = {"name": name, "clips": clips}
    (folder / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
