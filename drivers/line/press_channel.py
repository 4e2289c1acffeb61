"""Scripted presses on a simulated line's keypads and pads, from another process. Simulation only.

`hall line --simulate` serves its simulated devices on a pty; this channel lets a script (the
demo's traffic, a test) be the finger on those devices. It is a Unix socket beside the line's pty
link (`<data_dir>/<name>.press.sock`, owner only), never the hall bus and never a real line: a
press made here reaches the line daemon only as the device's bytes on the wire, when polled.

One JSON object per line each way:

    {"id": "r1", "op": "press", "device": "w01-caller", "key": 1, "arg": "", "wait_s": 5}
      -> {"id": "r1", "ok": true, "seq": 3, "result": 0, "beep": 1, "text": "A001", "ack_ms": 181.4}
      -> {"id": "r1", "ok": false, "error": "no_ack", "seq": 3, ...}
    {"id": "r2", "op": "screen", "device": "w01-pad", "expect": "请对我的服务进行评价", "wait_s": 2}
      -> {"id": "r2", "ok": true, "matched": true, "shown": [...], "idle": [...] | null}
         (matched: the first line shown begins with `expect` within `wait_s`)

A press waits for the device's acknowledgement (its display text and beep), as a person waits for
the keypad before pressing again: a device with a press still unacknowledged answers `busy`. A
request id seen before gets the first answer again and is never pressed twice, so a client may
resend after a broken connection. Malformed requests are answered with an error and logged; the
channel and the line keep running.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import socketserver
import stat
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drivers.line.simulator import SimDevice, SimDisplay, SimKeypad
from firmware_config.line import SIM_PREFIX, LineConfig

log = logging.getLogger("hall.line.sim.press")

MAX_LINE_BYTES = 4096
REMEMBERED_IDS = 2000
IDLE_CLOSE_S = 120.0


def press_channel_path(line: LineConfig, data_dir: Path) -> Path | None:
    """Where a simulated line's press channel listens; None for a line on real hardware."""
    if not line.port.startswith(SIM_PREFIX):
        return None
    return data_dir / f"{line.port.removeprefix(SIM_PREFIX)}.press.sock"


class ChannelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    op: Literal["press", "screen"]
    device: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    key: int | None = Field(default=None, ge=1, le=255)
    # What a keypad's digit keys can type: a staff number or a service position.
    arg: str = Field(default="", max_length=16, pattern=r"^[A-Za-z0-9]*$")
    expect: str | None = Field(default=None, max_length=64)
    wait_s: float = Field(default=5.0, ge=0, le=60)


def _error(request_id: str | None, error: str, detail: str = "") -> dict[str, Any]:
    return {"id": request_id, "ok": False, "error": error, "detail": detail}


class PressChannelServer:
    """Serves one simulated line's devices (by device id) on a Unix socket until `stop`."""

    def __init__(self, path: Path, devices: dict[str, SimDevice]) -> None:
        self.path = path
        self.devices = devices
        self.rejected = 0
        self._answers: OrderedDict[str, tuple[ChannelRequest, Future[dict[str, Any]]]] = \
            OrderedDict()
        self._answers_lock = threading.Lock()
        self._server: socketserver.ThreadingUnixStreamServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> PressChannelServer:
        if self.path.exists() or self.path.is_symlink():
            if not stat.S_ISSOCK(self.path.lstat().st_mode):
                raise FileExistsError(f"{self.path} exists and is not a press channel socket")
            self.path.unlink()  # left behind by a simulator that was killed
        self.path.parent.mkdir(parents=True, exist_ok=True)
        channel = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = IDLE_CLOSE_S  # a stuck client does not hold a thread for ever

            def handle(self) -> None:
                channel._serve_connection(self.rfile, self.wfile)

        old_umask = os.umask(0o177)  # the socket is the owner's only, from the first moment
        try:
            server = socketserver.ThreadingUnixStreamServer(str(self.path), Handler)
        finally:
            os.umask(old_umask)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"press-{self.path.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    # --- one connection -------------------------------------------------------------------------

    def _serve_connection(self, rfile: Any, wfile: Any) -> None:
        while True:
            try:
                raw: bytes = rfile.readline(MAX_LINE_BYTES + 1)
            except OSError:
                return  # a client silent for IDLE_CLOSE_S mid-line, or gone
            if not raw:
                return
            if len(raw) > MAX_LINE_BYTES or not raw.endswith(b"\n"):
                # The rest of an over-long line cannot be told from the next request: close.
                self._send(wfile, self._reject(None, "line_too_long",
                                               f"more than {MAX_LINE_BYTES} bytes"))
                return
            answer = self.answer(raw)
            if not self._send(wfile, answer):
                return

    @staticmethod
    def _send(wfile: Any, answer: dict[str, Any]) -> bool:
        try:
            wfile.write(json.dumps(answer, ensure_ascii=False).encode("utf-8") + b"\n")
            wfile.flush()
        except OSError:
            return False  # the client went away; its press (if any) stays on the device
        return True

    def answer(self, raw: bytes) -> dict[str, Any]:
        """The answer to one request line (public for tests of the protocol without a socket)."""
        try:
            request = ChannelRequest.model_validate_json(raw)
        except ValidationError as exc:
            detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}"
                               for e in exc.errors())
            return self._reject(None, "invalid_request", detail)
        device = self.devices.get(request.device)
        if device is None:
            return self._reject(request.id, "unknown_device", request.device)
        if request.op == "press" and (not isinstance(device, SimKeypad) or request.key is None):
            return self._reject(request.id, "not_pressable",
                                "press needs a keypad or pad and a key")
        with self._answers_lock:
            known = self._answers.get(request.id)
            if known is None:
                future: Future[dict[str, Any]] = Future()
                self._answers[request.id] = (request, future)
                while len(self._answers) > REMEMBERED_IDS:
                    self._answers.popitem(last=False)
        if known is not None:
            first, future = known
            if first.model_dump(exclude={"wait_s"}) != request.model_dump(exclude={"wait_s"}):
                return self._reject(request.id, "id_reused", "this id was used for another request")
            # A resend: the first answer, once there is one; never a second press.
            try:
                return future.result(timeout=first.wait_s + 5)
            except FutureTimeout:
                return _error(request.id, "still_pressing", "the first request is not answered")
        try:
            result = (self._press(request, device) if request.op == "press"
                      else self._screen(request, device))
        except Exception as exc:  # a bug here must not leave a resend waiting forever
            log.exception("press channel request %s failed", request.id)
            result = _error(request.id, "internal", str(exc))
        future.set_result(result)
        return result

    def _reject(self, request_id: str | None, error: str, detail: str) -> dict[str, Any]:
        self.rejected += 1
        log.warning("按键通道拒绝请求 / press channel rejected a request: %s (%s)", error, detail)
        return _error(request_id, error, detail)

    def _press(self, request: ChannelRequest, keypad: SimDevice) -> dict[str, Any]:
        assert isinstance(keypad, SimKeypad) and request.key is not None
        deadline = time.monotonic() + request.wait_s
        with keypad.changed:
            # One finger: wait until the device acknowledged whatever was pressed before.
            if not keypad.changed.wait_for(lambda: not keypad.pending, request.wait_s):
                return _error(request.id, "busy", "an earlier press is still unacknowledged")
            start = len(keypad.acks)
            pressed_at = time.monotonic()
            press = keypad.press(request.key, request.arg)

            def acked() -> bool:
                return any(a.press_seq == press.seq for a in keypad.acks[start:])

            if not keypad.changed.wait_for(acked, max(0.0, deadline - time.monotonic())):
                # Like a real keypad, it keeps offering the press until the line answers it.
                return {**_error(request.id, "no_ack", "not acknowledged in time"),
                        "seq": press.seq}
            ack = next(a for a in keypad.acks[start:] if a.press_seq == press.seq)
        return {"id": request.id, "ok": True, "seq": press.seq, "result": ack.result,
                "beep": int(ack.beep), "text": ack.text,
                "ack_ms": round((time.monotonic() - pressed_at) * 1000, 1)}

    def _screen(self, request: ChannelRequest, device: SimDevice) -> dict[str, Any]:
        def view() -> tuple[tuple[str, ...], tuple[str, str, str] | None]:
            if isinstance(device, SimKeypad):
                return device.shown, device.idle
            if isinstance(device, SimDisplay):
                return device.shown, None
            return (), None

        def matched() -> bool:
            # As a person reads it: a long text may scroll on one line after the expected words.
            lines = view()[0]
            return request.expect is None or (bool(lines) and lines[0].startswith(request.expect))

        if isinstance(device, SimKeypad):
            ok = device.wait_for(matched, request.wait_s)
        else:
            deadline = time.monotonic() + request.wait_s
            while not (ok := matched()) and time.monotonic() < deadline:
                time.sleep(0.02)  # displays have no notification; they are rarely watched
        shown, idle = view()
        return {"id": request.id, "ok": True, "matched": ok, "shown": list(shown),
                "idle": list(idle) if idle else None}


# --- the client side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PressOutcome:
    ok: bool
    error: str | None = None
    result: int | None = None  # the device's result code (0 = OK)
    text: str = ""
    ack_ms: float | None = None


class PressChannel:
    """The client: one connection per request, so any thread may press."""

    def __init__(self, path: Path, resends: int = 3) -> None:
        self.path = path
        self.resends = resends
        self._ids = iter(range(1, 1 << 62))
        self._ids_lock = threading.Lock()
        self._prefix = f"{os.getpid()}-{time.monotonic_ns() % 1_000_000_000}"

    def new_id(self) -> str:
        with self._ids_lock:
            return f"{self._prefix}-{next(self._ids)}"

    def press(self, device: str, key: int, arg: str = "", wait_s: float = 5.0) -> PressOutcome:
        answer = self.call({"id": self.new_id(), "op": "press", "device": device, "key": key,
                            "arg": arg, "wait_s": wait_s}, wait_s)
        if not answer.get("ok"):
            return PressOutcome(False, str(answer.get("error")))
        return PressOutcome(True, None, int(answer["result"]), str(answer.get("text", "")),
                            float(answer["ack_ms"]))

    def screen(self, device: str, expect: str | None = None,
               wait_s: float = 0.0) -> tuple[bool, list[str]]:
        """(whether the first line became `expect` within `wait_s`, the lines shown)."""
        answer = self.call({"id": self.new_id(), "op": "screen", "device": device,
                            "expect": expect, "wait_s": wait_s}, wait_s)
        return bool(answer.get("matched")), list(answer.get("shown") or [])

    def call(self, request: dict[str, Any], wait_s: float) -> dict[str, Any]:
        """Send one request, resending it (same id) if the connection breaks."""
        line = json.dumps(request, ensure_ascii=False).encode("utf-8") + b"\n"
        error = ""
        for attempt in range(self.resends + 1):
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                    conn.settimeout(wait_s + 5)
                    conn.connect(str(self.path))
                    conn.sendall(line)
                    with conn.makefile("rb") as replies:
                        raw = replies.readline(MAX_LINE_BYTES * 4)
                if raw:
                    answer: dict[str, Any] = json.loads(raw)
                    return answer
                error = "connection closed"
            except (OSError, ValueError) as exc:
                error = str(exc)
            time.sleep(0.2 * (attempt + 1))  # a simulator being restarted comes back quickly
        return {"id": request.get("id"), "ok": False, "error": "channel_unreachable",
                "detail": error}
