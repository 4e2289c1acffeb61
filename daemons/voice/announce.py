"""What one announcement says, for each load policy.

- normal: chime, then the call in full in every configured language; repeated (`repeat` times in
  all) as follow-up announcements while the queue can afford them;
- single: chime, the call in full in every language, once;
- merged: chime, then up to `merge_max` calls in the short form of the first language only,
  between one lead and one tail ("请 A023 三号窗口，B011 五号窗口 办理");
- terse: merged, each call cut to "A023 三号" and no closing words;
- compressed: terse with up to `burst_merge_max` calls under one chime and shorter gaps, and the
  rendered buffer time-compressed (same pitch) by the scheduler's chosen speed — the last resort
  at a burst.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemons.voice.phrases import (
    CHIME,
    CallWords,
    Clip,
    Mark,
    Pause,
    Speech,
    Token,
    expand,
    ticket_keys,
)
from firmware_config.voice import VoiceConfig
from hall_bus.contract.voice import VoicePolicy

# Silence between the call in two languages or two repeats, and between merged calls: the
# listener's cue that a new sentence begins.
SENTENCE_PAUSE_S = 0.45
ITEM_PAUSE_S = 0.25
# At a burst the gap between calls is shortened too; after compression still ~0.1 s, enough to
# hear where one ticket ends and the next begins.
BURST_ITEM_PAUSE_S = 0.15


@dataclass(frozen=True)
class CallRequest:
    """One call waiting to be announced."""

    ticket_id: str
    ticket: str
    window_id: str
    window_number: int
    window_name: str
    received: float  # scheduler clock, seconds
    recall: bool = False
    event_id: str = ""

    @property
    def words(self) -> CallWords:
        return CallWords(self.ticket, self.window_number, self.window_name)


def call_tokens(
    calls: list[CallRequest], policy: VoicePolicy, voice: VoiceConfig, *,
    continues_burst: bool = False,
) -> list[Token]:
    """`continues_burst` (compressed only) goes on with the list the previous announcement
    began: the hall is already listening, so no chime and no lead words, just the gap between
    two calls; those seconds go to the calls instead."""
    continues = continues_burst and policy is VoicePolicy.COMPRESSED
    tokens: list[Token] = [Clip(CHIME, "", "zh")] if voice.chime and not continues else []
    if policy in (VoicePolicy.MERGED, VoicePolicy.TERSE, VoicePolicy.COMPRESSED):
        language = voice.languages[0]
        templates = voice.phrase(language)
        item = templates.brief_item if policy is VoicePolicy.MERGED else templates.terse_item
        if continues:
            tokens.append(Pause(BURST_ITEM_PAUSE_S))
        else:
            tokens += expand(templates.lead, calls[0].words, language)
        if policy is VoicePolicy.COMPRESSED:
            tokens += _burst_items(calls, item, language)
        else:
            for index, call in enumerate(calls):
                if index:
                    tokens.append(Pause(ITEM_PAUSE_S))
                tokens.append(Mark(index))
                tokens += expand(item, call.words, language)
        if policy is VoicePolicy.MERGED:
            # Terse leaves the closing words out: at a burst every second goes to a call.
            tokens += expand(templates.tail, calls[-1].words, language)
        return tokens
    # normal and single say the call once here; under normal the scheduler adds the repeats
    # as follow-ups, each only if the calls queued behind it can still afford the time.
    tokens.append(Mark(0))
    return tokens + _full_phrase(calls[0], voice)


def _burst_items(calls: list[CallRequest], item: str, language: str) -> list[Token]:
    """The calls of a burst announcement. Calls to the same window are said together, the window
    once after its tickets ("A023，A051 三号"), when the item template starts with the ticket;
    each call keeps its index, so its mark still finds it."""
    together = item.split()[:1] == ["{ticket}"]
    by_window: dict[str, list[int]] = {}
    for index, call in enumerate(calls):
        key = call.window_id if together else f"{index}"
        by_window.setdefault(key, []).append(index)
    tokens: list[Token] = []
    for indices in by_window.values():
        for position, index in enumerate(indices):
            if tokens:
                tokens.append(Pause(BURST_ITEM_PAUSE_S))
            tokens.append(Mark(index))
            if position < len(indices) - 1:
                tokens += ticket_keys(calls[index].ticket, language)
            else:
                tokens += expand(item, calls[index].words, language)
    return tokens


def repeat_tokens(call: CallRequest, voice: VoiceConfig) -> list[Token]:
    return [Pause(SENTENCE_PAUSE_S), *_full_phrase(call, voice)]


def _full_phrase(call: CallRequest, voice: VoiceConfig) -> list[Token]:
    tokens: list[Token] = []
    for index, language in enumerate(voice.languages):
        templates = voice.phrase(language)
        if index:
            tokens.append(Pause(SENTENCE_PAUSE_S))
        for template in (templates.lead, templates.item, templates.tail):
            tokens += expand(template, call.words, language)
    return tokens


def notice_tokens(text_zh: str, text_en: str | None, voice: VoiceConfig) -> list[Token]:
    tokens: list[Token] = [Clip(CHIME, "", "zh")] if voice.chime else []
    tokens.append(Speech(text_zh, "zh"))
    if text_en and "en" in voice.languages:
        tokens += [Pause(SENTENCE_PAUSE_S), Speech(text_en, "en")]
    return tokens
