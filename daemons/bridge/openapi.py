"""The backend contract as an OpenAPI 3.1 document, generated from the wire models.

`python -m daemons.bridge.openapi > docs/backend-openapi.yaml` writes it; a test keeps the
committed file equal to the models and checks what the client really sends against it.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from daemons.bridge.signing import (
    HEADER_HALL,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    REPLAY_WINDOW_S,
)
from hall_bus.contract.bridge import (
    AppointmentsBody,
    CatalogueBody,
    DeviceRecord,
    DownlinkList,
    DownlinkReport,
    ErrorBody,
    FollowUpsBody,
    NoticesBody,
    RatingRecord,
    RosterBody,
    UplinkBatch,
    UplinkResult,
)

REF = "#/components/schemas/{model}"
_MODELS: list[type[BaseModel]] = [
    UplinkBatch, UplinkResult, DownlinkList, DownlinkReport, ErrorBody, RatingRecord,
    DeviceRecord, CatalogueBody, AppointmentsBody, RosterBody, NoticesBody, FollowUpsBody,
]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _errors() -> dict[str, Any]:
    return {
        "400": _json(ErrorBody, "Malformed request."),
        "401": _json(ErrorBody, "Signature missing, wrong, stale or replayed."),
        "403": _json(ErrorBody, "Unknown hall, or the hall header does not match the path."),
        "409": _json(ErrorBody, "A new record older than one already stored (out of order)."),
        "5XX": _json(ErrorBody, "Backend trouble; the hall retries with backoff."),
    }


def build() -> dict[str, Any]:
    _, schemas = models_json_schema(
        [(m, "validation") for m in _MODELS], ref_template=REF
    )
    hall = {"name": "hall_id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[a-z0-9_-]+$"}}
    signed: list[dict[str, list[str]]] = [{"hallSignature": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "政务服务大厅 ↔ 中心审批平台 / Service hall ↔ central backend",
            "version": "1",
            "description": (
                "Every request carries the headers "
                f"`{HEADER_HALL}`, `{HEADER_TIMESTAMP}` (Unix seconds), `{HEADER_NONCE}` "
                f"(16-64 hex characters) and `{HEADER_SIGNATURE}`: the lowercase hex "
                "HMAC-SHA256, under the hall's key, of the lines METHOD, path with query, "
                "timestamp, nonce and the hex SHA-256 of the body, joined by `\\n`. The backend "
                f"refuses timestamps more than {REPLAY_WINDOW_S} s off and nonces seen before. "
                "Uploads are idempotent by `event_id`: the hall sends each record until it is "
                "confirmed as accepted or duplicate, in `seq` order."
            ),
        },
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {
                "hallSignature": {"type": "apiKey", "in": "header", "name": HEADER_SIGNATURE}
            },
        },
        "security": signed,
        "paths": {
            "/v1/halls/{hall_id}/events": {
                "post": {
                    "operationId": "uploadEvents",
                    "summary": "Upload a batch of records (ticket timeline, ratings, supervision).",
                    "parameters": [hall],
                    "requestBody": {"required": True, **_json(UplinkBatch, "Oldest first.")},
                    "responses": {
                        "200": _json(UplinkResult, "Every record is accepted or a duplicate."),
                        **_errors(),
                    },
                }
            },
            "/v1/halls/{hall_id}/documents": {
                "get": {
                    "operationId": "listDocuments",
                    "summary": "The newest downlink document of each kind.",
                    "parameters": [hall],
                    "responses": {"200": _json(DownlinkList, "Documents."), **_errors()},
                }
            },
            "/v1/halls/{hall_id}/documents/{kind}/{version}/report": {
                "post": {
                    "operationId": "reportDocument",
                    "summary": "Whether the hall accepted a document (a rejected one is not "
                    "applied; the hall keeps the previous version).",
                    "parameters": [
                        hall,
                        {"name": "kind", "in": "path", "required": True,
                         "schema": {"type": "string"}},
                        {"name": "version", "in": "path", "required": True,
                         "schema": {"type": "integer", "minimum": 1}},
                    ],
                    "requestBody": {"required": True, **_json(DownlinkReport, "The outcome.")},
                    "responses": {"204": {"description": "Recorded."}, **_errors()},
                }
            },
        },
    }


def render() -> str:
    return yaml.safe_dump(build(), allow_unicode=True, sort_keys=False, width=100)


if __name__ == "__main__":
    sys.stdout.write(render())
