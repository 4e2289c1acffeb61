"""A small, real implementation of the backend contract (docs/backend-openapi.yaml).

It serves HTTPS (or plain HTTP on loopback) with the standard library's ThreadingHTTPServer,
checks every request's HMAC signature against the hall's key, stores what it receives in SQLite
(backend_store.py) and answers duplicates without storing them twice. Tests and the default run
use it in place of the central platform; `faults` makes it misbehave on purpose:

- `down`: answer every API call 503;
- `fail_next`: answer the next N calls 500;
- `delay_s`: wait this long between doing the work and answering (a slow WAN: a hall that gives
  up or dies meanwhile has had its records stored without knowing it);
- `store_then_drop`: for the next N uploads, store the records and then close the connection
  without answering, so the hall must send them again (duplicates);
- `hang_s`: hold the connection this long without answering (the client times out).

Run alone: `python -m bench.reference_backend --port 8443 --cert c.pem --key k.pem
--hall demo=/path/to/key`; POST /_control/faults with a JSON object sets the faults.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import ssl
import sys
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.backend_store import BackendStore, OutOfOrder  # noqa: E402
from daemons.bridge.signing import HEADER_HALL, NonceGuard, SignatureError, verify  # noqa: E402
from hall_bus.ids import rfc3339, utc_now  # noqa: E402

log = logging.getLogger("reference_backend")

_EVENTS = re.compile(r"^/v1/halls/([a-z0-9_-]+)/events$")
_DOCUMENTS = re.compile(r"^/v1/halls/([a-z0-9_-]+)/documents$")
_REPORT = re.compile(r"^/v1/halls/([a-z0-9_-]+)/documents/([a-z_]+)/(\d+)/report$")
MAX_BODY = 8 * 1024 * 1024


@dataclass
class Faults:
    down: bool = False
    fail_next: int = 0
    delay_s: float = 0.0
    store_then_drop: int = 0
    hang_s: float = 0.0


class _Reject(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ReferenceBackend:
    def __init__(self, db_path: Path, keys: dict[str, bytes], *, host: str = "127.0.0.1",
                 port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.store = BackendStore(db_path)
        self.keys = keys
        self.faults = Faults()
        self.guard = NonceGuard()
        self._lock = threading.Lock()
        backend = self

        class Handler(_Handler):
            owner = backend

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://localhost:{self.port}"

    def start(self) -> ReferenceBackend:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="reference-backend")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.store.close()

    def set_faults(self, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                if not hasattr(self.faults, name):
                    raise ValueError(f"unknown fault {name!r}")
                setattr(self.faults, name, value)

    def take_fault(self, name: str) -> bool:
        """Consume one count of a counted fault; True if it applies to this call."""
        with self._lock:
            left = int(getattr(self.faults, name))
            if left <= 0:
                return False
            setattr(self.faults, name, left - 1)
            return True

    def publish(self, hall_id: str, kind: str, version: int, body: dict[str, Any]) -> None:
        self.store.publish(hall_id, kind, version, body, rfc3339(utc_now()))


class _Handler(BaseHTTPRequestHandler):
    owner: ReferenceBackend
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._answer(413, {"error": "请求过大 / body too large"}, b"")
            return
        body = self.rfile.read(length) if length else b""
        if self.path == "/_control/faults" and method == "POST":
            try:
                self.owner.set_faults(**json.loads(body))
            except (ValueError, TypeError) as exc:
                self._answer(400, {"error": str(exc)}, body)
                return
            self._answer(200, asdict(self.owner.faults), body)
            return
        faults = self.owner.faults
        if faults.hang_s:
            time.sleep(faults.hang_s)
        if faults.down:
            self._answer(503, {"error": "服务暂停 / backend down"}, body)
            return
        if self.owner.take_fault("fail_next"):
            self._answer(500, {"error": "内部错误 / injected failure"}, body)
            return
        try:
            status, answer = self._route(method, body)
        except _Reject as exc:
            self._answer(exc.status, {"error": str(exc)}, body)
            return
        if faults.delay_s:
            time.sleep(faults.delay_s)
        if status == 0:
            # store_then_drop: the records are stored, the answer is never sent.
            self.owner.store.log_request(method, self.path, 0, body)
            self.close_connection = True
            self.connection.close()
            return
        self._answer(status, answer, body)

    def _authenticate(self, hall_id: str, method: str, body: bytes) -> None:
        key = self.owner.keys.get(hall_id)
        if key is None or self.headers.get(HEADER_HALL) != hall_id:
            raise _Reject(403, "未知大厅 / unknown hall")
        headers = {name: value for name, value in self.headers.items()}
        try:
            verify(headers, key, method, self.path, body, self.owner.guard)
        except SignatureError as exc:
            raise _Reject(401, f"签名无效 / {exc}") from exc

    def _route(self, method: str, body: bytes) -> tuple[int, Any]:
        if (match := _EVENTS.match(self.path)) and method == "POST":
            hall_id = match.group(1)
            self._authenticate(hall_id, method, body)
            batch = _json(body)
            if batch.get("hall_id") != hall_id or not isinstance(batch.get("records"), list):
                raise _Reject(400, "批次格式错误 / malformed batch")
            try:
                accepted, duplicates = self.owner.store.store_batch(hall_id, batch["records"])
            except OutOfOrder as exc:
                raise _Reject(409, f"顺序错误 / out of order: {exc}") from exc
            except (KeyError, TypeError) as exc:
                raise _Reject(400, f"记录格式错误 / malformed record: {exc}") from exc
            if self.owner.take_fault("store_then_drop"):
                return 0, None
            return 200, {"accepted": accepted, "duplicates": duplicates}
        if (match := _DOCUMENTS.match(self.path)) and method == "GET":
            hall_id = match.group(1)
            self._authenticate(hall_id, method, body)
            return 200, {"documents": self.owner.store.documents(hall_id)}
        if (match := _REPORT.match(self.path)) and method == "POST":
            hall_id, kind, version = match.group(1), match.group(2), int(match.group(3))
            self._authenticate(hall_id, method, body)
            report = _json(body)
            self.owner.store.add_report(hall_id, kind, version, str(report.get("status")),
                                        report.get("error"))
            return 204, None
        raise _Reject(404, "无此接口 / no such endpoint")

    def _answer(self, status: int, answer: Any, request_body: bytes) -> None:
        self.owner.store.log_request(self.command, self.path, status, request_body)
        data = b"" if answer is None else json.dumps(answer, ensure_ascii=False).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise _Reject(400, "不是 JSON / body is not JSON") from exc
    if not isinstance(value, dict):
        raise _Reject(400, "不是 JSON 对象 / body is not a JSON object")
    return value


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context


def main() -> int:
    parser = argparse.ArgumentParser(description="参考后台 / reference backend")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--db", type=Path, default=Path("reference-backend.sqlite3"))
    parser.add_argument("--cert", type=Path, default=None, help="server certificate (PEM)")
    parser.add_argument("--key", type=Path, default=None, help="its private key (PEM)")
    parser.add_argument("--hall", action="append", default=[], metavar="HALL=KEYFILE")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    keys = {}
    for item in args.hall:
        hall_id, _, key_file = item.partition("=")
        keys[hall_id] = Path(key_file).read_text().strip().encode()
    tls = server_tls(args.cert, args.key) if args.cert and args.key else None
    backend = ReferenceBackend(args.db, keys, host=args.host, port=args.port, tls=tls)
    log.info("listening on %s", backend.url)
    with contextlib.suppress(KeyboardInterrupt):
        backend.server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
