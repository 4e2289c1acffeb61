"""The HTTPS JSON client of the backend contract (docs/backend-openapi.yaml).

Every request is signed (signing.py) and the server's certificate is verified against the CA file
in the config, host name included. One connection per request: uploads are batched, so the
handshake is paid once per batch, and no half-dead kept-alive socket survives a WAN failure.
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from daemons.bridge.signing import sign_headers
from firmware_config.bridge import HttpsUplinkConfig
from hall_bus.contract.bridge import (
    DownlinkDocument,
    DownlinkKind,
    DownlinkList,
    DownlinkReport,
    UplinkBatch,
    UplinkRecord,
    UplinkResult,
)

API_PREFIX = "/v1/halls"

log = logging.getLogger(__name__)


class UplinkError(Exception):
    """The backend could not be reached, refused the request or answered nonsense."""


class BackendClient:
    def __init__(self, hall_id: str, config: HttpsUplinkConfig, key: bytes) -> None:
        self.hall_id = hall_id
        self.config = config
        self._key = key
        parts = urlsplit(config.base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._base_path = parts.path.rstrip("/")
        self._tls: ssl.SSLContext | None = None
        if self._https:
            self._tls = ssl.create_default_context(
                cafile=str(config.ca_file) if config.ca_file else None
            )
            self._tls.minimum_version = ssl.TLSVersion.TLSv1_2

    def upload(self, records: list[UplinkRecord]) -> UplinkResult:
        batch = UplinkBatch(hall_id=self.hall_id, records=records)
        path = f"{API_PREFIX}/{self.hall_id}/events"
        answer = self._call("POST", path, batch.model_dump(mode="json"))
        try:
            return UplinkResult.model_validate(answer)
        except ValidationError as exc:
            raise UplinkError(f"unexpected answer: {exc.errors()[:1]}") from exc

    def documents(self) -> DownlinkList:
        answer = self._call("GET", f"{API_PREFIX}/{self.hall_id}/documents", None)
        items = answer.get("documents") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise UplinkError("unexpected answer: no `documents` list")
        documents = []
        for item in items:
            # One document this hall does not understand (a kind added later) must not hold up
            # the others.
            try:
                documents.append(DownlinkDocument.model_validate(item))
            except ValidationError as exc:
                log.warning("跳过无法识别的下行文档 / skipped a document: %s", exc.errors()[:1])
        return DownlinkList(documents=documents)

    def report(self, kind: DownlinkKind, version: int, report: DownlinkReport) -> None:
        path = f"{API_PREFIX}/{self.hall_id}/documents/{kind.value}/{version}/report"
        self._call("POST", path, report.model_dump(mode="json", exclude_none=True))

    def _call(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        full_path = self._base_path + path
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        headers = sign_headers(self.hall_id, self._key, method, full_path, body)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self.config.timeout_s, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(
                self._host, self._port, timeout=self.config.timeout_s
            )
        try:
            connection.request(method, full_path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise UplinkError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        finally:
            connection.close()
        if response.status >= 300:
            text = data[:200].decode(errors="replace")
            raise UplinkError(f"{method} {path}: HTTP {response.status} {text}")
        try:
            return json.loads(data) if data else None
        except ValueError as exc:
            raise UplinkError(f"{method} {path}: answer is not JSON") from exc

