"""The press memory: survives a restart, ignores stale and unreadable records."""

from __future__ import annotations

from pathlib import Path

from drivers.press_memory import REPEAT_WINDOW_S, PressMemory, PressRecord


def test_records_survive_a_reload_and_expire(tmp_path: Path) -> None:
    path = tmp_path / "presses.json"
    memory = PressMemory(path)
    memory.save("w1-caller", PressRecord(5, 1000.0, "call_next", {"window_id": "w1"}, "req-1"))
    memory.save("w1-pad", PressRecord(9, 1000.0, ack=(0, 1, "感谢您的评价")))
    loaded = PressMemory(path).load()
    assert loaded["w1-caller"].request_id == "req-1"
    assert loaded["w1-pad"].ack == (0, 1, "感谢您的评价")
    assert loaded["w1-caller"].repeats(5, now=1000.0 + REPEAT_WINDOW_S - 1)
    # A power-cycled keypad starts its seq again: an old record must not swallow its press.
    assert not loaded["w1-caller"].repeats(5, now=1000.0 + REPEAT_WINDOW_S + 1)
    assert not loaded["w1-caller"].repeats(6, now=1000.0)


def test_unreadable_memory_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "presses.json"
    path.write_text("{not json", encoding="utf-8")
    assert PressMemory(path).load() == {}
    unwritable = PressMemory(tmp_path / "file" / "presses.json")
    (tmp_path / "file").write_text("a file where a folder should be")
    unwritable.save("x", PressRecord(1, 0.0))  # logged, kept in memory, no exception
    assert unwritable.records["x"].seq == 1
