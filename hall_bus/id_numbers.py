"""The one detector of full resident ID numbers (居民身份证号码) in free text.

A full number never travels: the bus refuses it in every free-text field, and the logs, the
console and the bridge mask whatever slipped into text they did not make. All of them ask this
module, so a variant one of them catches, all of them catch.

People do not type an ID number the way a regular expression expects. A Chinese input method in
full-width mode types `１１０１…` and `Ｘ`; a pasted number brings non-breaking or zero-width
spaces; a careful clerk groups it as `110101 19900307 4518` or with hyphens. So the text is
normalised first (Unicode NFKC, which folds full-width digits and letters; then spaces, dashes
and invisible format characters dropped) and the number searched in that, with each normalised
character traced back to where it stood, so masking keeps the rest of the text as it was.
"""

from __future__ import annotations

import re
import unicodedata

# Seventeen digits and a digit or X, not inside a longer run of digits (a timestamp, an account).
_ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
_DASHES = frozenset("-‐‑‒–—―−")
MASK = "*" * 10
# Cheap first look, in C: eighteen or more digits (any script) with nothing between them but
# spaces, dashes and invisible characters. Most text (every log line) has no such run and is
# returned as it is without being normalised character by character.
_CANDIDATE = re.compile(
    r"\d[\d\s\-\u2010-\u2015\u2212\uff0d\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]{16,}"
    r"[\dXx\uff38\uff58]")


def _is_separator(character: str) -> bool:
    # Whitespace of every kind (NFKC turns NBSP and the ideographic space into spaces), dashes,
    # and format characters (zero-width space and joiners, word joiner, BOM: category Cf).
    return character.isspace() or character in _DASHES or unicodedata.category(character) == "Cf"


def _normalised(text: str) -> tuple[str, list[tuple[int, int]]]:
    """`text` folded for matching, and for each folded character the span it came from."""
    folded: list[str] = []
    spans: list[tuple[int, int]] = []
    for index, original in enumerate(text):
        for character in unicodedata.normalize("NFKC", original):
            if _is_separator(character):
                continue
            folded.append(character)
            spans.append((index, index + 1))
    return "".join(folded), spans


def contains_id_number(text: str) -> bool:
    """Whether `text` holds a full ID number, however it was typed."""
    if _CANDIDATE.search(text) is None:
        return False
    folded, _ = _normalised(text)
    return _ID_NUMBER.search(folded) is not None


def mask_id_numbers(text: str) -> str:
    """`text` with every full ID number shown as its first four and last four characters around
    ten asterisks (`1101**********4518`); everything else is left as it was."""
    if _CANDIDATE.search(text) is None:
        return text
    folded, spans = _normalised(text)
    matches = list(_ID_NUMBER.finditer(folded))
    if not matches:
        return text
    pieces: list[str] = []
    written = 0
    for match in matches:
        start = spans[match.start()][0]
        end = spans[match.end() - 1][1]
        number = match.group(0).upper()
        pieces += [text[written:start], number[:4], MASK, number[-4:]]
        written = end
    pieces.append(text[written:])
    return "".join(pieces)


def refuse_id_number(value: str) -> str:
    """A validator for free-text fields of the bus: refuse a full ID number in any form."""
    if contains_id_number(value):
        raise ValueError("a full ID-card number may not be sent on the bus; send a masked form")
    return value
