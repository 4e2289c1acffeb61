"""docs/bus.md and `hall bus schema` follow the registry in hall_bus/contract.py."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
import repo_paths

from hall_bus.contract import QUEUE_ACTIONS, QueueEventType
from hall_bus.errors import ERROR_CODES
from hall_bus.schema_doc import (
    EVENT_DESCRIPTIONS,
    render_bus_markdown,
    run_docs_command,
    schema_document,
)

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

REPO = repo_paths.REPO
BUS_MD = REPO / "docs" / "bus.md"


def test_docs_are_generated_from_the_registry() -> None:
    assert BUS_MD.read_text(encoding="utf-8") == render_bus_markdown(), (
        "docs/bus.md is out of date: run `hall bus docs > docs/bus.md`"
    )


def test_rendering_is_deterministic() -> None:
    assert render_bus_markdown() == render_bus_markdown()


def test_every_action_has_a_section() -> None:
    text = render_bus_markdown()
    for name in QUEUE_ACTIONS:
        assert f"### `{name}`" in text
        assert f"hall/<hall_id>/queue/request/{name}" in text


def test_every_event_type_and_error_code_is_described() -> None:
    assert set(EVENT_DESCRIPTIONS) == set(QueueEventType)
    text = render_bus_markdown()
    for event in QueueEventType:
        assert f"| `{event.value}` | {EVENT_DESCRIPTIONS[event]} |" in text
    for code in ERROR_CODES:
        assert f"| `{code}` |" in text


def test_error_codes_are_bilingual() -> None:
    for code, text in ERROR_CODES.items():
        assert " / " in text, code


def test_docs_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "bus.md"
    good.write_text(render_bus_markdown(), encoding="utf-8")
    assert run_docs_command(argparse.Namespace(check=good)) == 0
    stale = tmp_path / "stale.md"
    stale.write_text(render_bus_markdown().replace("queue", "queues", 1), encoding="utf-8")
    assert run_docs_command(argparse.Namespace(check=stale)) == 1
    assert "hall bus docs" in capsys.readouterr().err


def test_schema_document_covers_the_registry() -> None:
    document = schema_document()
    payloads = document["payloads"]
    for action in QUEUE_ACTIONS.values():
        assert action.request.__name__ in payloads
        assert action.data.__name__ in payloads
    for name in ("Response", "QueueEvent", "QueueSummaryState", "Status"):
        assert name in payloads
    assert payloads["Status"]["enum"] == ["online", "offline"]
    topics = {entry["topic"]: entry for entry in document["topics"]}
    assert topics["hall/<hall_id>/queue/state"]["retained"] is True
    assert topics["hall/<hall_id>/queue/event"]["retained"] is False
    assert topics["hall/<hall_id>/queue/response/take_ticket"]["data"] == "TicketIssuedData"


def test_timestamps_are_date_times_in_the_schema() -> None:
    event = schema_document()["payloads"]["QueueEvent"]
    assert event["properties"]["ts"]["type"] == "string"
    assert event["properties"]["ts"]["format"] == "date-time"


def test_schema_command_prints_json() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "operations.cli", "bus", "schema"],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"topics", "payloads"}
    for action in QUEUE_ACTIONS.values():
        assert action.request.__name__ in document["payloads"]
