"""What an announcement says, as a sequence of tokens: pack clips, free text, pauses, marks.

Ticket numbers are read one character at a time (A023 → A 零 二 三), window numbers as numbers
(12 → 十二 / twelve). A template is a space-separated list of words; each word is a clip of the
voice pack keyed `<language>/<word>`, and `{ticket}`, `{window_number}`, `{window_name}` expand
to clips too. A word without a clip is spoken by the offline engine instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from firmware_config.voice import PLACEHOLDER, template_words

CHIME = "chime"

ZH_DIGITS = "零一二三四五六七八九"
EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
EN_TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
            "seventeen", "eighteen", "nineteen")
EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")

_PARENTHETICAL = re.compile(r"[（(].*?[）)]")
_LEADING_NUMBER = re.compile(r"^\s*\d+\s*号")


@dataclass(frozen=True)
class Clip:
    key: str
    text: str  # what the clip says, for the engine when the clip is missing
    language: str


@dataclass(frozen=True)
class Speech:
    """Free text for the offline engine (notices)."""

    text: str
    language: str


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Mark:
    """Where the words of one call begin; the scheduler measures call start times here."""

    call_index: int


Token = Clip | Speech | Pause | Mark


@dataclass(frozen=True)
class CallWords:
    """The parts of a call that a phrase reads out."""

    ticket: str
    window_number: int
    window_name: str


def spoken_window_name(name: str) -> str:
    """The window name as spoken: notes in brackets (老年人、残疾人优先) are for the sign only,
    and a leading "9号" is dropped because the phrase already says the number."""
    return _LEADING_NUMBER.sub("", _PARENTHETICAL.sub("", name)).strip()


def ticket_keys(ticket: str, language: str) -> list[Clip]:
    clips: list[Clip] = []
    for char in ticket.upper():
        if char.isdigit():
            # One clip per digit word serves both ticket digits and window numbers; the
            # transcript keeps the digit as printed on the ticket.
            if language == "zh":
                clips.append(Clip(f"zh/{ZH_DIGITS[int(char)]}", char, language))
            else:
                word = EN_DIGITS[int(char)]
                clips.append(Clip(f"{language}/{word}", word, language))
        elif "A" <= char <= "Z":
            clips.append(Clip(f"{language}/{char}", char, language))
    return clips


def zh_number_words(n: int) -> list[str]:
    """1..999 as Chinese numeral words: 12 → 十 二, 105 → 一 百 零 五, 120 → 一 百 二 十."""
    if not 0 < n < 1000:
        raise ValueError(f"window number {n} out of range 1..999")
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds:
        words += [ZH_DIGITS[hundreds], "百"]
        if rest == 0:
            return words
        if tens == 0:
            return [*words, "零", ZH_DIGITS[units]]
    if tens:
        if tens > 1 or hundreds:
            words.append(ZH_DIGITS[tens])
        words.append("十")
    if units:
        words.append(ZH_DIGITS[units])
    return words


def en_number_words(n: int) -> list[str]:
    if not 0 < n < 1000:
        raise ValueError(f"window number {n} out of range 1..999")
    hundreds, rest = divmod(n, 100)
    words: list[str] = []
    if hundreds:
        words += [EN_DIGITS[hundreds], "hundred"]
    if rest >= 20:
        words.append(EN_TENS[rest // 10])
        if rest % 10:
            words.append(EN_DIGITS[rest % 10])
    elif rest >= 10:
        words.append(EN_TEENS[rest - 10])
    elif rest:
        words.append(EN_DIGITS[rest])
    return words


def number_keys(n: int, language: str) -> list[Clip]:
    words = zh_number_words(n) if language == "zh" else en_number_words(n)
    return [Clip(f"{language}/{word}", word, language) for word in words]


def expand(template: str, words: CallWords, language: str) -> list[Clip]:
    """Turn one template into clips for one call."""
    clips: list[Clip] = []
    for word in template_words(template):
        placeholder = PLACEHOLDER.match(word)
        if placeholder is None:
            clips.append(Clip(f"{language}/{word}", word, language))
        elif placeholder.group(1) == "ticket":
            clips += ticket_keys(words.ticket, language)
        elif placeholder.group(1) == "window_number":
            clips += number_keys(words.window_number, language)
        else:
            name = spoken_window_name(words.window_name)
            if name:
                clips.append(Clip(f"{language}/{name}", name, language))
    return clips


def as_text(tokens: list[Token]) -> str:
    """A readable transcript for logs and state: clips' words, joined per language."""
    parts: list[str] = []
    for token in tokens:
        if (isinstance(token, Clip) and token.key != CHIME) or isinstance(token, Speech):
            parts.append(token.text)
        elif isinstance(token, Pause) and parts:
            parts.append("，")
    text = ""
    previous = ""
    for part in parts:
        # English words are spaced; a ticket's letters and digits (A023) and Chinese are not.
        spaced = bool(previous) and previous.isascii() and part.isascii() and (
            len(previous) > 1 or len(part) > 1
        )
        text += (" " if spaced and previous != "，" else "") + part
        previous = part
    return text
