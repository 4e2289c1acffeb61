"""The HTTPS client against the reference backend: signatures, TLS with a test CA, idempotency,
order, and the contract document."""

from __future__ import annotations

import http.client
import json
import ssl
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import repo_paths
import yaml
from bridge_fixtures import HALL_KEY
from bridge_fixtures import backend as backend  # a fixture, used by name
from tls_certs import make_pki

from bench.reference_backend import ReferenceBackend
from daemons.bridge import openapi
from daemons.bridge.https_uplink import BackendClient, UplinkError
from daemons.bridge.signing import (
    NonceGuard,
    SignatureError,
    sign_headers,
    signature,
    signed_text,
    verify,
)
from firmware_config.bridge import HttpsUplinkConfig
from hall_bus.contract.bridge import DownlinkKind, DownlinkReport, RecordKind, UplinkRecord

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

HALL = "test-hall"
REPO = repo_paths.REPO


def client(backend: ReferenceBackend, tmp_path: Path, *, key: bytes = HALL_KEY,
           ca_file: Path | None = None) -> BackendClient:
    config = HttpsUplinkConfig(base_url=backend.url, key_file=tmp_path / "unused",
                               ca_file=ca_file or tmp_path / "pki" / "test-ca.pem", timeout_s=2)
    return BackendClient(HALL, config, key)


def records(first: int, count: int) -> list[UplinkRecord]:
    return [
        UplinkRecord(event_id=f"ev{n:06d}", seq=n, kind=RecordKind.TICKET_EVENT,
                     type="ticket_issued", occurred_at=datetime(2026, 1, 5, 1, 0, tzinfo=UTC),
                     body={"n": n})
        for n in range(first, first + count)
    ]


def test_signed_text_is_method_path_time_nonce_and_body_hash() -> None:
    text = signed_text("post", "/v1/halls/h/events", "1767600000", "ab" * 8, b"{}")
    assert text == (b"POST\n/v1/halls/h/events\n1767600000\nabababababababab\n"
                    b"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")


def test_verify_refuses_tampering_staleness_and_replay() -> None:
    now = 1_767_600_000.0
    headers = sign_headers(HALL, HALL_KEY, "POST", "/p", b"body", now=now)
    guard = NonceGuard()
    verify(headers, HALL_KEY, "POST", "/p", b"body", guard, now=now + 1)
    with pytest.raises(SignatureError, match="replayed"):
        verify(headers, HALL_KEY, "POST", "/p", b"body", guard, now=now + 2)
    fresh = sign_headers(HALL, HALL_KEY, "POST", "/p", b"body", now=now)
    for args in [("POST", "/p", b"bodx"), ("GET", "/p", b"body"), ("POST", "/q", b"body")]:
        with pytest.raises(SignatureError, match="bad signature"):
            verify(fresh, HALL_KEY, *args, NonceGuard(), now=now)
    with pytest.raises(SignatureError, match="bad signature"):
        verify(fresh, b"another-key-of-the-wrong-hall", "POST", "/p", b"body", NonceGuard(),
               now=now)
    with pytest.raises(SignatureError, match="replay window"):
        verify(fresh, HALL_KEY, "POST", "/p", b"body", NonceGuard(), now=now + 301)
    assert fresh["X-Hall-Signature"] == signature(
        HALL_KEY, "POST", "/p", fresh["X-Hall-Timestamp"], fresh["X-Hall-Nonce"], b"body")


def test_upload_is_idempotent_and_in_order(backend: ReferenceBackend, tmp_path: Path) -> None:
    uplink = client(backend, tmp_path)
    first = uplink.upload(records(1, 5))
    assert first.accepted == [f"ev{n:06d}" for n in range(1, 6)] and first.duplicates == []
    again = uplink.upload(records(3, 5))  # 3..5 repeated, 6..7 new
    assert again.duplicates == ["ev000003", "ev000004", "ev000005"]
    assert again.accepted == ["ev000006", "ev000007"]
    stored = backend.store.records(HALL)
    assert [r["seq"] for r in stored] == list(range(1, 8))
    with pytest.raises(UplinkError, match="HTTP 409"):
        uplink.upload([records(2, 1)[0].model_copy(update={"event_id": "late"})])
    assert len(backend.store.records(HALL)) == 7


def test_backend_refuses_a_bad_signature(backend: ReferenceBackend, tmp_path: Path) -> None:
    with pytest.raises(UplinkError, match="HTTP 401"):
        client(backend, tmp_path, key=b"not-this-hall-key-at-all").upload(records(1, 1))
    assert backend.store.records(HALL) == []
    statuses = [status for _, _, status, _ in backend.store.requests()]
    assert statuses == [401]


def test_tls_is_verified_against_the_configured_ca(backend: ReferenceBackend,
                                                   tmp_path: Path) -> None:
    other = make_pki(tmp_path / "other", name="other")
    with pytest.raises(UplinkError, match="CERTIFICATE_VERIFY_FAILED"):
        client(backend, tmp_path, ca_file=other.ca_cert).upload(records(1, 1))
    assert backend.store.records(HALL) == []
    # The right CA, but a name the certificate does not carry: refused too.
    config = HttpsUplinkConfig(base_url=f"https://127.0.0.2:{backend.port}",
                               key_file=tmp_path / "unused",
                               ca_file=tmp_path / "pki" / "test-ca.pem", timeout_s=1)
    with pytest.raises(UplinkError):
        BackendClient(HALL, config, HALL_KEY).upload(records(1, 1))
    assert client(backend, tmp_path).upload(records(1, 1)).accepted == ["ev000001"]


def test_injected_faults_reach_the_client(backend: ReferenceBackend, tmp_path: Path) -> None:
    uplink = client(backend, tmp_path)
    backend.set_faults(fail_next=1)
    with pytest.raises(UplinkError, match="HTTP 500"):
        uplink.upload(records(1, 2))
    backend.set_faults(store_then_drop=1)
    with pytest.raises(UplinkError):
        uplink.upload(records(1, 2))
    assert len(backend.store.records(HALL)) == 2  # stored although never answered
    assert uplink.upload(records(1, 2)).duplicates == ["ev000001", "ev000002"]
    # The backend hangs longer than the client waits: the client's own timeout ends the call.
    backend.set_faults(hang_s=2.5)
    with pytest.raises(UplinkError, match="timed out"):
        uplink.upload(records(3, 1))
    backend.set_faults(hang_s=0.0, down=True)
    with pytest.raises(UplinkError, match="HTTP 503"):
        uplink.documents()


def test_the_committed_openapi_document_matches_the_models() -> None:
    committed = (REPO / "docs" / "backend-openapi.yaml").read_text(encoding="utf-8")
    assert committed == openapi.render(), (
        "docs/backend-openapi.yaml is stale: python -m daemons.bridge.openapi > "
        "docs/backend-openapi.yaml"
    )


def test_what_the_client_sends_follows_the_openapi_document(backend: ReferenceBackend,
                                                            tmp_path: Path) -> None:
    uplink = client(backend, tmp_path)
    uplink.upload(records(1, 3))
    uplink.documents()
    uplink.report(DownlinkKind.CATALOGUE, 4, DownlinkReport(status="rejected", error="坏 / bad"))
    document = yaml.safe_load((REPO / "docs" / "backend-openapi.yaml").read_text())
    sent = backend.store.requests()
    assert [(m, p) for m, p, _, _ in sent] == [
        ("POST", f"/v1/halls/{HALL}/events"),
        ("GET", f"/v1/halls/{HALL}/documents"),
        ("POST", f"/v1/halls/{HALL}/documents/catalogue/4/report"),
    ]
    templates = {
        ("POST", f"/v1/halls/{HALL}/events"): "/v1/halls/{hall_id}/events",
        ("GET", f"/v1/halls/{HALL}/documents"): "/v1/halls/{hall_id}/documents",
        ("POST", f"/v1/halls/{HALL}/documents/catalogue/4/report"):
            "/v1/halls/{hall_id}/documents/{kind}/{version}/report",
    }
    for method, path, status, body in sent:
        operation = document["paths"][templates[(method, path)]][method.lower()]
        assert str(status) in operation["responses"]
        if body:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            rooted = {**schema, "components": document["components"]}
            jsonschema.validate(json.loads(body), rooted)
    # The schema is strict enough to catch a client that drifts from it.
    batch_schema = {"$ref": "#/components/schemas/UplinkBatch",
                    "components": document["components"]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"hall_id": HALL, "records": [{"event_id": "x"}]}, batch_schema)


def test_header_case_does_not_matter_and_unknown_documents_are_skipped(
    backend: ReferenceBackend, tmp_path: Path
) -> None:
    now = 1_767_600_000.0
    headers = {k.lower(): v for k, v in sign_headers(HALL, HALL_KEY, "GET", "/p", b"",
                                                      now=now).items()}
    verify(headers, HALL_KEY, "GET", "/p", b"", NonceGuard(), now=now)
    backend.publish(HALL, "catalogue", 2, {"services": []})
    backend.publish(HALL, "parking_spaces", 1, {"free": 3})  # a kind this hall does not know
    documents = client(backend, tmp_path).documents().documents
    assert [(d.kind, d.version) for d in documents] == [("catalogue", 2)]


def test_backend_refuses_malformed_and_misaddressed_batches(
    backend: ReferenceBackend, tmp_path: Path
) -> None:
    context = ssl.create_default_context(cafile=str(tmp_path / "pki" / "test-ca.pem"))

    def post(path: str, body: bytes, hall: str = HALL) -> int:
        connection = http.client.HTTPSConnection("localhost", backend.port, context=context,
                                                 timeout=5)
        headers = sign_headers(hall, HALL_KEY, "POST", path, body)
        connection.request("POST", path, body=body, headers=headers)
        status = connection.getresponse().status
        connection.close()
        return status

    assert post(f"/v1/halls/{HALL}/events", b"{not json") == 400
    assert post(f"/v1/halls/{HALL}/events", json.dumps({"hall_id": "other", "records": []})
                .encode()) == 400
    assert post("/v1/halls/other-hall/events", b"{}", hall="other-hall") == 403
    assert post(f"/v1/halls/{HALL}/nothing", b"{}") == 404
    assert backend.store.records(HALL) == []
