"""Time compression without a change of pitch (WSOLA: waveform-similarity overlap-add).

The buffer is cut into short Hann-windowed frames that overlap by half. Frames are read from the
input at `speed` times the pace they are written to the output, so the output is `speed` times
shorter; each frame is copied at the original sample rate, so frequencies (the pitch of a voice,
the note of a chime) stay what they were. To keep the joins seamless, every frame is taken from
near its nominal position where it best continues the waveform already written (the largest
cross-correlation with the natural continuation of the previous frame): the overlapping halves
are then in phase and add up without a beat or a click.

Used only under load (the `compressed` policy), on the whole rendered announcement.
"""

from __future__ import annotations

import numpy as np

from daemons.voice.audio import Samples

# About two or three pitch periods of a voice: long enough to carry a period whole, short enough
# that a syllable's changes are followed.
FRAME_S = 0.030
# How far a frame may move from its nominal position to line up with the previous one: more than
# one period of the lowest voice (~80 Hz) so an in-phase position always exists.
SEARCH_S = 0.013
MAX_SPEED = 2.0


def time_compress(samples: Samples, rate: int, speed: float) -> Samples:
    """`samples` played `speed` times faster, same pitch; length round(size / speed)."""
    if not 1.0 <= speed <= MAX_SPEED:
        raise ValueError(f"speed {speed} outside 1..{MAX_SPEED}")
    frame = 2 * max(8, int(FRAME_S * rate) // 2)
    if speed == 1.0 or samples.size < 2 * frame:
        return samples.astype(np.float32, copy=True)
    hop_out = frame // 2
    search = max(1, int(SEARCH_S * rate))
    target = round(samples.size / speed)
    # Room on both sides so a frame near either end can still search and be read whole.
    margin = frame + search
    source = np.pad(samples.astype(np.float32), (margin, margin + frame))
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / frame)).astype(np.float32)
    # The output starts half a frame early, so every kept sample lies under two full windows.
    out = np.zeros(target + 2 * frame, dtype=np.float32)
    weight = np.zeros(target + 2 * frame, dtype=np.float32)
    frames = target // hop_out + 2
    last = margin + samples.size - frame - search
    chosen = margin - round(hop_out * speed)  # input position of the frame written last
    for index in range(frames):
        # Near the end, frames stay on the signal rather than read into the padding (a step).
        nominal = min(margin + round((index - 1) * hop_out * speed), last)
        if index:
            chosen = _best_position(source, chosen + hop_out, nominal, search, hop_out)
        at = index * hop_out
        out[at:at + frame] += window * source[chosen:chosen + frame]
        weight[at:at + frame] += window
    # The periodic Hann windows at half overlap sum to one; dividing only guards rounding.
    np.maximum(weight, 1e-3, out=weight)
    out = (out / weight)[hop_out:hop_out + target]
    return out.astype(np.float32)


def _best_position(source: Samples, natural: int, nominal: int, search: int, overlap: int) -> int:
    """The position near `nominal` whose start best matches the waveform at `natural` (what
    would have followed the previous frame), compared over the overlapping half frame."""
    template = source[natural:natural + overlap]
    start = max(0, nominal - search)
    region = source[start:nominal + search + overlap]
    if template.size < overlap or region.size < overlap:
        return nominal
    scores = np.correlate(region, template, mode="valid")
    return start + int(np.argmax(scores))
