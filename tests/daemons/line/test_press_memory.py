"""The press memory: survives a restart, ignores stale and unreadable records."""

from __future__ import annotations

from pathlib import Path

from daemons.line.press_memory import (
    MAX_ATTEMPT,
    REPEAT_WINDOW_S,
    PressMemory,
    PressRecord,
    resend_attempt,
)
from hall_bus.contract import CallNextRequest, Response
from hall_bus.ids import id_time_ms, new_id
from hall_bus.request_server import AnsweredRequests


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


def test_each_send_of_a_press_request_is_answered_again_by_the_engine() -> None:
    """The engine drops a copy whose attempt is not above the last one it answered; a retry,
    also by a daemon restarted with the stored request, must go above it to get the answer."""
    request_id = new_id()
    made = (id_time_ms(request_id) or 0) / 1000
    first = CallNextRequest(id=request_id, window_id="w1",
                            attempt=resend_attempt(request_id, now=made + 0.05))
    assert first.attempt == 1
    answered = AnsweredRequests()
    answered.remember("call_next", first, Response.ok(request_id, {"ticket": None}))
    assert answered.answer_again(first) is None  # a redelivered copy
    # The answer was lost; the retry after the 3 s timeout is answered from memory.
    retry = first.model_copy(update={"attempt": resend_attempt(request_id, now=made + 3.1)})
    again = answered.answer_again(retry)
    assert again is not None and again.id == request_id
    # The daemon dies before that answer comes, and its successor sends the stored request.
    resumed = first.model_copy(update={"attempt": resend_attempt(request_id, now=made + 3.3)})
    assert answered.answer_again(resumed) is not None
    assert resend_attempt(request_id, now=made + 10**6) == MAX_ATTEMPT
    assert resend_attempt("not an id") == 1
