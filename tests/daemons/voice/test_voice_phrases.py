"""Readings of ticket and window numbers, window names, templates and config checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from daemons.voice.phrases import (
    CallWords,
    as_text,
    en_number_words,
    expand,
    spoken_window_name,
    ticket_keys,
    zh_number_words,
)
from firmware_config.voice import DEFAULT_TEMPLATES, VoiceConfig


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (1, "一"), (2, "二"), (10, "十"), (12, "十二"), (20, "二十"), (35, "三十五"),
        (100, "一百"), (105, "一百零五"), (110, "一百一十"), (999, "九百九十九"),
    ],
)
def test_window_numbers_in_chinese(number: int, words: str) -> None:
    assert "".join(zh_number_words(number)) == words


@pytest.mark.parametrize(
    ("number", "words"),
    [(3, "three"), (12, "twelve"), (40, "forty"), (21, "twenty one"),
     (305, "three hundred five")],
)
def test_window_numbers_in_english(number: int, words: str) -> None:
    assert " ".join(en_number_words(number)) == words


def test_out_of_range_window_number_is_refused() -> None:
    with pytest.raises(ValueError):
        zh_number_words(0)


def test_ticket_numbers_are_read_one_character_at_a_time() -> None:
    keys = [clip.key for clip in ticket_keys("A023", "zh")]
    assert keys == ["zh/A", "zh/零", "zh/二", "zh/三"]
    assert [clip.key for clip in ticket_keys("bc10", "en")] == [
        "en/B", "en/C", "en/one", "en/zero"]


@pytest.mark.parametrize(
    ("name", "spoken"),
    [("综合受理窗口（老年人、残疾人优先）", "综合受理窗口"), ("9号综合窗口", "综合窗口"),
     ("税务窗口", "税务窗口"), ("12 号窗口", "窗口")],
)
def test_window_names_as_spoken(name: str, spoken: str) -> None:
    assert spoken_window_name(name) == spoken


def test_default_chinese_phrase() -> None:
    templates = DEFAULT_TEMPLATES["zh"]
    call = CallWords("A023", 12, "综合受理窗口（老年人、残疾人优先）")
    clips = [*expand(templates.lead, call, "zh"), *expand(templates.item, call, "zh"),
             *expand(templates.tail, call, "zh")]
    assert as_text(list(clips)) == "请A023号到十二号综合受理窗口办理"
    english = DEFAULT_TEMPLATES["en"]
    assert as_text(list(expand(english.item, call, "en"))) == (
        "number A zero two three please go to window twelve")


def test_config_refuses_a_misspelt_placeholder_and_english_first() -> None:
    with pytest.raises(ValidationError, match="tiket"):
        VoiceConfig.model_validate(
            {"templates": {"zh": {"item": "{tiket} 号", "brief_item": "x", "terse_item": "x"}}})
    with pytest.raises(ValidationError, match="Chinese"):
        VoiceConfig.model_validate({"languages": ["en", "zh"]})
    with pytest.raises(ValidationError):
        VoiceConfig.model_validate({"max_delay": 10})  # unknown key


def test_volume_by_time_of_day_and_quiet_hours() -> None:
    voice = VoiceConfig.model_validate({
        "volume_schedule": [{"at": "08:30", "percent": 80}, {"at": "12:00", "percent": 50}],
        "quiet_hours": [{"start": "12:00", "end": "13:30"}, {"start": "22:00", "end": "06:00"}],
    })
    from datetime import time

    assert voice.volume_at(time(8, 0)) == 100
    assert voice.volume_at(time(9, 0)) == 80
    assert voice.volume_at(time(12, 30)) == 0
    assert voice.volume_at(time(14, 0)) == 50
    assert voice.volume_at(time(23, 0)) == 0
    assert voice.volume_at(time(5, 59)) == 0
