"""JSON log lines with request and ticket correlation, from a real engine over Mosquitto."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from line_fixtures import SimHall, wait_until
from queue_fixtures import FakeClock
from test_line_daemon import rig as rig  # a fixture, used by name
from test_queue_engine import Hall, _site

from daemons.line.daemon import LineDaemon
from daemons.queue.service import QueueEngine
from drivers.line.caller_keypad import Key
from firmware_config.site import BrokerConfig
from hall_bus import logs

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

ID_NUMBER = "110101199003074518"  # a well-formed GB 11643 number (check digit 8)


@pytest.fixture
def json_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    monkeypatch.setenv(logs.FORMAT_ENV, "json")
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    logs.configure("queue", stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


@pytest.fixture
def engine_hall(broker_config: BrokerConfig, tmp_path: Path) -> Iterator[Hall]:
    """A running queue engine on the test's Mosquitto and a client of it."""
    site = _site(broker_config, tmp_path)
    engine = QueueEngine(site, tmp_path / "queue.sqlite3", FakeClock())
    engine.start(wait=10)
    hall = Hall(site)
    try:
        yield hall
    finally:
        hall.bus.stop()
        engine.stop()


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_request_through_the_engine_is_followed_by_its_ids(
    engine_hall: Hall, json_log: io.StringIO
) -> None:
    hall = engine_hall
    taken = hall.ask("take_ticket", service_id="household",
                     citizen_masked_id=f"{ID_NUMBER[:4]}**********{ID_NUMBER[-4:]}")
    ticket = (taken.data or {})["ticket"]
    hall.ok("login", window_id="w1", staff_id="s001")
    called = hall.ask("call_next", window_id="w1")
    # A careless message with a full number in it: masked on the way out.
    logging.getLogger("hall.test").warning("card %s read", ID_NUMBER)
    lines = _lines(json_log)
    for line in lines:
        assert {"ts", "level", "daemon", "logger", "message"} <= line.keys()
        assert line["daemon"] == "queue"
        assert str(line["ts"]).endswith("Z")
    issued = [line for line in lines if line.get("request_id") == taken.id]
    assert issued and issued[-1]["ticket_id"] == ticket["ticket_id"]
    assert issued[-1]["message"] == f"take_ticket: {ticket['number']}"
    assert issued[-1]["logger"] == "hall.queue"
    call = [line for line in lines if line.get("request_id") == called.id]
    assert call and call[-1]["ticket_id"] == ticket["ticket_id"]
    text = json_log.getvalue()
    assert ID_NUMBER not in text
    assert "card 1101**********4518 read" in text


def test_text_is_the_default_and_json_under_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(logs.FORMAT_ENV, raising=False)
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    assert logs.chosen_format() == "text"
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    assert logs.chosen_format() == "json"
    monkeypatch.setenv(logs.FORMAT_ENV, "text")
    assert logs.chosen_format() == "text"


def test_a_hall_command_writes_json_lines(tmp_path: Path) -> None:
    (tmp_path / "v1.yaml").write_text(
        "version: 1\nhall_id: x\nname_zh: 厅\nname_en: Hall\nservices:\n"
        "  - {id: s, prefix: A, name_zh: 事, name_en: S}\nwindows:\n"
        "  - {id: w1, number: 1, name_zh: 窗, name_en: W, services: [{service: s}]}\n",
        encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "operations.cli", "config", "validate", str(tmp_path / "v1.yaml")],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "JOURNAL_STREAM": "8:1"},
    )
    assert done.returncode == 0, done.stderr
    warning = json.loads(done.stderr.splitlines()[0])
    assert warning["level"] == "warning" and warning["daemon"] == "config"
    assert warning["logger"] == "hall.config" and "version: 1 → 2" in warning["message"]


def test_a_keypad_press_is_logged_with_its_request_and_ticket(
    rig: tuple[Hall, SimHall, LineDaemon], json_log: io.StringIO
) -> None:
    hall, sim, _ = rig
    ticket = hall.ok("take_ticket", service_id="household")["ticket"]
    sim.caller.press(Key.LOGIN, "s001")
    wait_until(lambda: len(sim.caller.acks) == 1, what="login acknowledged")
    sim.caller.press(Key.NEXT)
    wait_until(lambda: len(sim.caller.acks) == 2, what="next acknowledged")
    presses = [line for line in _lines(json_log)
               if line["logger"] == "hall.line" and str(line["message"]).startswith("press ")]
    assert [line["message"] for line in presses] == ["press login: ok", "press call_next: ok A001"]
    call = presses[1]
    assert call["ticket_id"] == ticket["ticket_id"]
    # The engine's own line for that request carries the same ids: one search finds both sides.
    engine_side = [line for line in _lines(json_log) if line["logger"] == "hall.queue"
                   and line.get("request_id") == call["request_id"]]
    assert engine_side and engine_side[-1]["ticket_id"] == ticket["ticket_id"]
