"""The bus contract as data and as prose: `hall bus schema` and `hall bus docs`.

Both are generated from the contract: the channel registry (contract/channels.py: every topic,
its payload model, retention and direction), `QUEUE_ACTIONS` and errors.py (error codes), so
neither can drift from the code: docs/bus.md is
checked against `render_bus_markdown()` by the tests and by `hall bus docs --check`. The only
hand-written text here is what the registry cannot say: one line per event type and enum value.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from hall_bus import topics
from hall_bus.contract import (
    QUEUE_ACTIONS,
    RATING_LABELS_ZH,
    PriorityClass,
    QueueEvent,
    QueueEventType,
    QueueSummaryState,
    Request,
    Response,
    ResponseStatus,
    SupervisionKind,
    TicketState,
    WindowMode,
    channels,
)
from hall_bus.contract.base import Message
from hall_bus.contract.bridge import ENUM_DESCRIPTIONS as BRIDGE_ENUM_DESCRIPTIONS
from hall_bus.contract.camera import ENUM_DESCRIPTIONS as CAMERA_ENUM_DESCRIPTIONS
from hall_bus.contract.channels import Channel
from hall_bus.contract.kiosk import ENUM_DESCRIPTIONS as KIOSK_ENUM_DESCRIPTIONS
from hall_bus.contract.line import LINE_ENUM_DESCRIPTIONS
from hall_bus.errors import ERROR_CODES
from hall_bus.ids import rfc3339

HALL_PLACEHOLDER = "<hall_id>"

EVENT_DESCRIPTIONS: dict[QueueEventType, str] = {
    QueueEventType.TICKET_ISSUED: "A ticket was issued (kiosk, console or appointment check-in).",
    QueueEventType.TICKET_CALLED: "A window called a ticket; screens and voice announce it.",
    QueueEventType.TICKET_RECALLED: "A window called its current ticket again.",
    QueueEventType.SERVICE_STARTED: "The called citizen arrived at the window.",
    QueueEventType.TICKET_FINISHED: "A ticket was served; the window's pad may ask for a rating.",
    QueueEventType.TICKET_SKIPPED: "The called citizen did not come: the ticket is a no-show.",
    QueueEventType.TICKET_TRANSFERRED: (
        "A ticket moved to another service's queue, keeping its place in time "
        "(`from_service_id` is where it came from)."
    ),
    QueueEventType.TICKET_REACTIVATED: "A no-show citizen returned; the ticket waits again.",
    QueueEventType.TICKET_CANCELLED: "A waiting or no-show ticket was cancelled.",
    QueueEventType.APPOINTMENT_CHECKED_IN: "An appointment was checked in and got its ticket.",
    QueueEventType.WINDOW_PAUSED: "A window paused; it calls nobody until resumed.",
    QueueEventType.WINDOW_RESUMED: "A paused window resumed calling.",
    QueueEventType.STAFF_LOGIN: "A staff member logged in at a window; the window is open.",
    QueueEventType.STAFF_LOGOUT: "A staff member logged out; the window is closed.",
    QueueEventType.RATING_GIVEN: "A served ticket was rated; bad ratings are followed up.",
    QueueEventType.SUPERVISION_ALERT: "A supervision threshold was crossed (see `alert`).",
    QueueEventType.BUSINESS_DAY_STARTED: "A new business day began; ticket counters restarted.",
    QueueEventType.ALERT_ACKNOWLEDGED: "A manager acknowledged a supervision alert (`alert`, "
    "`actor`).",
    QueueEventType.SERVICE_ASSIGNED: "A manager moved a service to another window (`detail`).",
    QueueEventType.NOTICE_POSTED: "A manager put a notice on the hall screens (`detail`, "
    "`actor`); the notice itself is retained on the notice topic.",
    QueueEventType.NOTICE_WITHDRAWN: "The notice came off the hall screens: a manager withdrew "
    "or replaced it (`actor`), or it ran out (`detail`).",
}

# One line per value of the enums the docs list; keyed by the enum's schema title.
ENUM_DESCRIPTIONS: dict[str, Mapping[str, str]] = {
    "QueueEventType": {event.value: text for event, text in EVENT_DESCRIPTIONS.items()},
    "RatingLevel": {level.value: label for level, label in RATING_LABELS_ZH.items()},
    "ResponseStatus": {
        ResponseStatus.OK: "The action was done; `data` holds its result.",
        ResponseStatus.ERROR: "Nothing was changed; `code` and `error` say why.",
    },
    "PriorityClass": {
        PriorityClass.NORMAL: "普通 / normal",
        PriorityClass.APPOINTMENT: "预约 / booked appointment",
        PriorityClass.ELDERLY_DISABLED: "老年人、残疾人 / elderly or disabled",
        PriorityClass.GREEN_CHANNEL: "绿色通道 / green channel",
    },
    "TicketState": {
        TicketState.WAITING: "In a queue.",
        TicketState.CALLED: "Called to a window; the citizen is on the way.",
        TicketState.SERVING: "Being served at a window.",
        TicketState.DONE: "Served.",
        TicketState.NO_SHOW: "Called but did not come; can be re-activated once.",
        TicketState.CANCELLED: "Withdrawn.",
    },
    "WindowMode": {
        WindowMode.CLOSED: "Nobody logged in.",
        WindowMode.IDLE: "Logged in, no current ticket.",
        WindowMode.CALLING: "Current ticket called; the citizen has not arrived yet.",
        WindowMode.SERVING: "Serving the current ticket.",
        WindowMode.PAUSED: "Paused; calls nobody.",
    },
    "SupervisionKind": {
        SupervisionKind.LONG_WAIT: "A ticket has waited longer than the threshold.",
        SupervisionKind.LONG_SERVICE: "A citizen has been served longer than the threshold.",
        SupervisionKind.WINDOW_IDLE: "An open window called nobody while people waited.",
        SupervisionKind.STAFF_ABSENT: "An open window's seat was empty.",
        SupervisionKind.CROWDING: "A camera counted the waiting area crowded (level 2 or more); "
        "`subject` is `camera/<name>`.",
        SupervisionKind.DEVICE_FAULT: "A device failed: a camera's picture, a line device that "
        "stopped answering, a kiosk print; `subject` is the device (`<node>/<device>`).",
    },
    **CAMERA_ENUM_DESCRIPTIONS,
    **KIOSK_ENUM_DESCRIPTIONS,
    **BRIDGE_ENUM_DESCRIPTIONS,
    **LINE_ENUM_DESCRIPTIONS,
}

_ENVELOPE_FIELDS = ("v", "id", "ts", "deadline")
_NAME_PATTERN = "^[a-z0-9_-]+$"


# --- JSON Schema ----------------------------------------------------------------------------------


class _BusJsonSchema(GenerateJsonSchema):
    """Serialization-mode schemas that still say a timestamp is a date-time.

    Timestamps are serialised by a plain function (`rfc3339`), which pydantic can only describe by
    its return type, a bare string; the wire format is known here, so say it.
    """

    def ser_schema(
        self,
        schema: core_schema.SerSchema
        | core_schema.IncExSeqSerSchema
        | core_schema.IncExDictSerSchema,
    ) -> JsonSchemaValue | None:
        match schema:
            case {"type": "function-plain", "function": function} if function is rfc3339:
                return {"type": "string", "format": "date-time"}
        return super().ser_schema(schema)


def payload_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a payload model as it appears on the wire."""
    return model.model_json_schema(mode="serialization", schema_generator=_BusJsonSchema)


STATUS_SCHEMA: dict[str, Any] = {
    "title": "Status",
    "description": "Plain text, not JSON: the retained availability of a node or device.",
    "type": "string",
    "enum": [topics.ONLINE, topics.OFFLINE],
}


def payload_models() -> dict[str, type[BaseModel]]:
    """Every model that travels on the hall bus, by name: the registry's channels in order, then
    each queue action's request and result."""
    models: dict[str, type[BaseModel]] = {"Response": Response}
    for channel in channels.CHANNELS:
        payload = channel.payload  # a model, or `str` for a status
        if issubclass(payload, BaseModel) and payload not in (Message, Request):
            models.setdefault(payload.__name__, payload)
    for action in QUEUE_ACTIONS.values():
        models.setdefault(action.request.__name__, action.request)
        models.setdefault(action.data.__name__, action.data)
    return models


# --- topics ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicDoc:
    topic: str
    retained: str  # "yes", "no" or "never", as in the architecture's contract table
    direction: str
    payload: str
    meaning: str
    data: str | None = None  # for responses: the model of `data` when status is ok


def _payload_name(channel: Channel[Any]) -> str:
    if channel.payload is str:
        return "Status"
    if channel.payload is Message:
        return "JSON"
    return str(channel.payload.__name__)


def _doc(channel: Channel[Any]) -> TopicDoc:
    return TopicDoc(channel.pattern, channel.retention.value, channel.direction,
                    _payload_name(channel), channel.meaning)


def topic_docs(area: channels.Area, per_action: bool = False) -> list[TopicDoc]:
    """The registry's channels of one area; with `per_action`, the queue's request and response
    channels once per action, each with its own request and result model."""
    found = []
    for channel in channels.CHANNELS:
        if channel.area is not area:
            continue
        if per_action and channel in (channels.QUEUE_REQUEST, channels.QUEUE_RESPONSE):
            continue
        found.append(_doc(channel))
    if per_action and area is channels.Area.QUEUE:
        for name, action in QUEUE_ACTIONS.items():
            request = channels.QUEUE_REQUEST
            response = channels.QUEUE_RESPONSE
            found.append(TopicDoc(_action_topic(request, name), request.retention.value,
                                  request.direction, action.request.__name__, action.summary))
            found.append(TopicDoc(_action_topic(response, name), response.retention.value,
                                  response.direction, Response.__name__, f"answer to `{name}`",
                                  action.data.__name__))
    return found


def _action_topic(channel: Channel[Any], action: str) -> str:
    return channel.pattern.replace("<action>", action)


def schema_document() -> dict[str, Any]:
    """`{"topics": [...], "payloads": {name: JSON Schema}}` for the queue engine's topics."""
    topic_list = []
    areas = [area for area in channels.Area if area is not channels.Area.LAYOUT]
    for doc in [doc for area in areas for doc in topic_docs(area, per_action=True)]:
        entry: dict[str, Any] = {
            "topic": doc.topic,
            "retained": doc.retained == "yes",
            "qos": 1,
            "direction": doc.direction,
            "payload": doc.payload,
            "description": doc.meaning,
        }
        if doc.data is not None:
            entry["data"] = doc.data
        topic_list.append(entry)
    payloads: dict[str, Any] = {"Status": STATUS_SCHEMA}
    payloads.update({name: payload_schema(model) for name, model in payload_models().items()})
    return {"topics": topic_list, "payloads": payloads}


def run_schema_command(args: argparse.Namespace) -> int:
    """`hall bus schema`: print the schema document as JSON."""
    print(json.dumps(schema_document(), ensure_ascii=False, indent=2))
    return 0


# --- markdown -------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return [*lines, ""]


def _range(low: Any, high: Any, unit: str = "") -> str:
    if low is not None and high is not None:
        return f"{low}–{high}{unit}"
    if low is not None:
        return f"≥ {low}{unit}"
    return f"≤ {high}{unit}"


def _type_text(prop: Mapping[str, Any]) -> str:
    """A JSON Schema property as a short type description with links to shared types."""
    if "$ref" in prop:
        name = str(prop["$ref"]).rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in prop:
        return " or ".join(_type_text(option) for option in prop["anyOf"])
    if "enum" in prop:
        return "one of " + ", ".join(f"`{value}`" for value in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        text = "array of " + _type_text(prop.get("items", {}))
        if "minItems" in prop or "maxItems" in prop:
            text += f" ({_range(prop.get('minItems'), prop.get('maxItems'), ' items')})"
        return text
    if kind == "string":
        if prop.get("format") == "date-time":
            return "timestamp"
        if (prop.get("pattern"), prop.get("minLength"), prop.get("maxLength")) == (
            _NAME_PATTERN, 1, 64
        ):
            return "name"
        notes = []
        if "minLength" in prop or "maxLength" in prop:
            notes.append(_range(prop.get("minLength"), prop.get("maxLength"), " chars"))
        if "pattern" in prop:
            notes.append(f"`{prop['pattern']}`")
        return "string" + (f" ({', '.join(notes)})" if notes else "")
    if kind in ("integer", "number"):
        low = prop.get("minimum", prop.get("exclusiveMinimum"))
        high = prop.get("maximum", prop.get("exclusiveMaximum"))
        bounded = low is not None or high is not None
        return str(kind) + (f" ({_range(low, high)})" if bounded else "")
    if kind is None:
        return "any"
    return str(kind)


def _field_rows(
    schema: Mapping[str, Any], skip: Iterable[str] = (), only: Iterable[str] | None = None
) -> list[list[str]]:
    required = set(schema.get("required", []))
    skipped = set(skip)
    kept = None if only is None else set(only)
    rows = []
    for name, prop in schema.get("properties", {}).items():
        if name in skipped or (kept is not None and name not in kept):
            continue
        if "default" in prop:
            default = f"`{json.dumps(prop['default'], ensure_ascii=False)}`"
        elif name in required:
            default = ""
        else:
            # Not required yet no default: filled in by a factory when the sender builds it.
            default = "generated"
        rows.append([
            f"`{name}`",
            _type_text(prop),
            "yes" if name in required else "no",
            default,
            str(prop.get("description", "")),
        ])
    return rows


def _fields_table(
    schema: Mapping[str, Any], skip: Iterable[str] = (), only: Iterable[str] | None = None
) -> list[str]:
    rows = _field_rows(schema, skip, only)
    if not rows:
        return ["No fields beyond the envelope.", ""]
    return _table(["field", "type", "required", "default", "description"], rows)


def _topic_table(docs: Iterable[TopicDoc]) -> list[str]:
    rows = []
    for doc in docs:
        payload = doc.payload if doc.data is None else f"{doc.payload} (data: {doc.data})"
        rows.append([f"`{doc.topic}`", doc.retained, "1", doc.direction, payload, doc.meaning])
    return _table(["topic", "retained", "QoS", "direction", "payload", "meaning"], rows)


def _area_section(area: channels.Area) -> list[str]:
    return [f"### {area.value}", "", *_topic_table(topic_docs(area))]


def _type_section(name: str, schema: Mapping[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    if "description" in schema:
        lines += [str(schema["description"]), ""]
    if "enum" in schema:
        meanings = ENUM_DESCRIPTIONS.get(name, {})
        lines += _table(
            ["value", "meaning"],
            [[f"`{value}`", meanings.get(value, "")] for value in schema["enum"]],
        )
    else:
        lines += _fields_table(schema)
    return lines


def render_bus_markdown() -> str:
    """docs/bus.md: the human reference of the hall bus, generated from the registry."""
    shared: dict[str, Mapping[str, Any]] = {}

    def schema_of(model: type[BaseModel]) -> dict[str, Any]:
        schema = payload_schema(model)
        shared.update(schema.get("$defs", {}))
        return schema

    request_schema = schema_of(Request)
    response_schema = schema_of(Response)
    lines = [
        "<!-- Generated by `hall bus docs` from hall_bus/contract/ (the channel registry in",
        "     channels.py), hall_bus/errors.py and hall_bus/schema_doc.py. Do not edit: run",
        "     `hall bus docs > docs/bus.md`. -->",
        "",
        "# 大厅总线参考 / Hall bus reference",
        "",
        "The hall bus is MQTT. Every daemon talks to the others only through it; the queue engine",
        "is the single writer of queue state. Machine-readable form: `hall bus schema`.",
        "",
        "## 主题 / Topics",
        "",
        f"Topic root is `{topics.ROOT_PREFIX}/{HALL_PLACEHOLDER}`; names are `[a-z0-9_-]`. "
        "QoS 1 everywhere; handlers de-duplicate by `id`. Commands and events are never retained.",
        "",
        *(line for area in channels.Area for line in _area_section(area)),
        "## 信封 / Envelope",
        "",
        "Every JSON payload carries these fields. Readers ignore unknown keys, so newer senders do",
        "not break older readers. `deadline` is on requests only: a request past its deadline is",
        "never executed. `generated` means the sender's model fills the field in when the payload",
        "is built, so it is always on the wire.",
        "",
        *_fields_table(request_schema, only=_ENVELOPE_FIELDS),
        "Type `name` is a string of `[a-z0-9_-]`, 1–64 characters; `timestamp` is UTC RFC 3339",
        "with milliseconds, e.g. `2024-05-06T01:30:00.000Z`.",
        "",
        "## 应答 / Responses",
        "",
        "A request on `.../request/<action>` is answered on `.../response/<action>`; the answer's",
        "`id` repeats the request's id. A payload that fails validation is answered with",
        "`invalid_payload` and never stops the daemon. When `status` is `ok`, `data` holds the",
        "action's result model, listed with each action below.",
        "",
        *_fields_table(response_schema, skip=("v", "id", "ts")),
        "### 错误码 / Error codes",
        "",
        *_table(["code", "meaning"], [[f"`{code}`", text] for code, text in ERROR_CODES.items()]),
        "## 排队操作 / Queue actions",
        "",
    ]
    for name, action in QUEUE_ACTIONS.items():
        data_schema = schema_of(action.data)
        lines += [
            f"### `{name}`",
            "",
            action.summary,
            "",
            f"Request `{_action_topic(channels.QUEUE_REQUEST, name)}` "
            f"({action.request.__name__}):",
            "",
            *_fields_table(schema_of(action.request), skip=_ENVELOPE_FIELDS),
            f"Response `data` ({action.data.__name__}):",
            "",
        ]
        if "description" in data_schema:
            lines += [str(data_schema["description"]), ""]
        lines += _fields_table(data_schema)
    event_schema = schema_of(QueueEvent)
    lines += [
        f"## 事件 / Events: `{channels.QUEUE_EVENT.pattern}`",
        "",
        str(event_schema.get("description", "")),
        "",
        *_fields_table(event_schema, skip=("v", "id", "ts")),
        f"### {QueueEventType.__name__}",
        "",
        *_table(
            ["type", "meaning"],
            [[f"`{event.value}`", EVENT_DESCRIPTIONS.get(event, "")] for event in QueueEventType],
        ),
    ]
    state_schema = schema_of(QueueSummaryState)
    lines += [
        f"## 状态 / State: `{channels.QUEUE_STATE.pattern}`",
        "",
        str(state_schema.get("description", "")),
        "",
        *_fields_table(state_schema, skip=("v", "id", "ts")),
    ]
    # Each area's retained state and events: a heading with its topic, then its fields.
    device_sections: list[tuple[str, Channel[Any]]] = [
        ("摄像头事件 / Camera events", channels.CAMERA_EVENT),
        ("摄像头状态 / Camera state", channels.CAMERA_STATE),
        ("语音播报状态 / Voice state", channels.VOICE_STATE),
        ("取号机打印机状态 / Kiosk printer state", channels.KIOSK_PRINTER_STATE),
        ("取号机事件 / Kiosk events", channels.KIOSK_EVENT),
        ("桥接状态 / Bridge state", channels.BRIDGE_STATE),
        ("桥接事件 / Bridge events", channels.BRIDGE_EVENT),
        ("下行文档 / Downlink documents", channels.DOWNLINK_DOCUMENT),
        ("线路状态 / Line state", channels.LINE_STATE),
        ("线路设备状态 / Line device state", channels.LINE_DEVICE_STATE),
        ("线路设备事件 / Line device events", channels.LINE_DEVICE_EVENT),
        ("大厅公告 / Hall notice", channels.HALL_NOTICE),
    ]
    for title, channel in device_sections:
        schema = schema_of(channel.payload)
        lines += [
            f"## {title}: `{channel.pattern}`",
            "",
            str(schema.get("description", "")),
            "",
            *_fields_table(schema, skip=("v", "id", "ts")),
        ]
    lines += [
        "## 类型 / Types",
        "",
    ]
    # Event types already have their own table above.
    for type_name in sorted(set(shared) - {QueueEventType.__name__}):
        lines += _type_section(type_name, shared[type_name])
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def add_docs_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall bus docs`."""
    parser.add_argument("--check", type=Path, default=None, help="fail if this file differs")


def run_docs_command(args: argparse.Namespace) -> int:
    """`hall bus docs [--check FILE]`: print docs/bus.md, or fail if FILE differs from it."""
    text = render_bus_markdown()
    check: Path | None = getattr(args, "check", None)
    if check is None:
        sys.stdout.write(text)
        return 0
    try:
        current = check.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"无法读取 / cannot read {check}: {exc.strerror}", file=sys.stderr)
        return 1
    if current == text:
        print(f"OK: {check} 与总线契约一致 / matches the bus contract")
        return 0
    diff = list(difflib.unified_diff(
        current.splitlines(), text.splitlines(), str(check), "generated", lineterm="", n=1
    ))
    print("\n".join(diff[:40]), file=sys.stderr)
    if len(diff) > 40:
        print(f"... ({len(diff) - 40} more diff lines)", file=sys.stderr)
    print(
        f"{check} 已过期，请重新生成 / is out of date; regenerate it with: "
        f"hall bus docs > {check}",
        file=sys.stderr,
    )
    return 1
