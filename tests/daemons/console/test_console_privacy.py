"""No full ID number and no camera picture reaches the console's browser, whatever the bus
carries: full numbers are fed in through a staff name, a pause reason, a rating reason, a camera
message with a snapshot and a network screen's text; the page's DOM in every view and every
payload the server sends (the live stream, JSON, CSV, the printable report, a screen picture)
hold only the masked form."""

from __future__ import annotations

import base64
import io
import socket
import time
import urllib.parse
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from bus_helpers import Collector
from console_fixtures import ConsoleHall, browser, console_site, log_in, run_console_hall
from PIL import Image
from playwright.sync_api import expect
from pydantic import ValidationError

from daemons.console.privacy import scrub_text
from daemons.console.screens import geometry, png_of
from firmware_config.site import BrokerConfig, StaffConfig
from hall_bus.contract import CameraEvent, CameraEventType, LineDeviceKind, LineDeviceState
from hall_bus.ids import utc_now
from hall_bus.topics import Endpoint, camera_endpoint, queue_endpoint

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

__all__ = ["browser"]

FULL_ID = "110101199003074578"
MASKED = "1101**********4578"
SPACED_ID = "1101 0119 9003 0745 78"


def _snapshot_b64() -> str:
    picture = Image.new("RGB", (32, 24), (200, 150, 120))
    out = io.BytesIO()
    picture.save(out, format="JPEG")
    return base64.b64encode(out.getvalue()).decode()


@pytest.fixture
def leaky_hall(broker_config: BrokerConfig, tmp_path: Path) -> Any:
    site = console_site(broker_config, tmp_path)
    staff = [*site.staff, StaffConfig(id="s099", name=f"周{FULL_ID}")]
    yield from run_console_hall(site.model_copy(update={"staff": staff}), tmp_path)


def _feed_full_numbers(hall: ConsoleHall, snapshot: str) -> None:
    hall.ask("login", window_id="w3", staff_id="s099")
    hall.ask("login", window_id="w2", staff_id="s002")
    hall.ask("take_ticket", service_id="tax")
    ticket = hall.ask("call_next", window_id="w3")["ticket"]
    hall.ask("finish", window_id="w3")
    # The bus itself refuses a full number in a reason, in any form; what a citizen or clerk
    # types is masked by the sender, and the console still masks whatever free text it gets.
    with pytest.raises(ValidationError, match="full ID-card number"):
        hall.ask("rate", ticket_id=ticket["ticket_id"], level="very_dissatisfied",
                 reason=f"身份证{FULL_ID}被要求复印三次")
    hall.ask("rate", ticket_id=ticket["ticket_id"], level="very_dissatisfied",
             reason=f"身份证{MASKED}被要求复印三次")
    with pytest.raises(ValidationError, match="full ID-card number"):
        hall.ask("pause", window_id="w2", reason=f"核对{SPACED_ID}")
    hall.ask("pause", window_id="w2", reason="核对证件")
    camera = camera_endpoint(hall.site.hall_id, "cam1").event
    hall.bus.publish(camera, CameraEvent(
        type=CameraEventType.ABSENCE_STARTED, camera="cam1", window_id="w3",
        absent_since=utc_now() - timedelta(minutes=6), absent_s=360, grace_s=300,
        message=f"座位无人 {FULL_ID}", snapshot_jpeg_b64=snapshot,
    ))
    # A camera's own words travel in the engine's device-fault alert.
    hall.bus.publish(camera, CameraEvent(
        type=CameraEventType.CAMERA_FAULT, camera="cam1", message=f"镜头被遮挡 {FULL_ID}",
    ))
    hall.bus.publish_state(Endpoint(hall.site.hall_id, "netscreen", "hall").state, LineDeviceState(
        line_id="netscreen", device_id="hall", kind=LineDeviceKind.HALL_SCREEN, address=0,
        online=True, supervised=False, shown=["A001→3号窗口", f"请{FULL_ID}到服务台"],
    ))


def _read_stream(url: str, cookie: str, seconds: float) -> bytes:
    """What the live stream sends in `seconds`, read off a plain socket (the stream never ends)."""
    parts = urllib.parse.urlsplit(url)
    received = bytearray()
    with socket.create_connection((parts.hostname, parts.port), timeout=0.3) as sock:
        sock.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nCookie: {cookie}"
                     "\r\nAccept: text/event-stream\r\n\r\n".encode())
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            received.extend(chunk)
    return bytes(received)


def _assert_clean(where: str, payload: bytes | str, snapshot: str) -> None:
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    assert FULL_ID not in text, f"full ID number in {where}"
    assert SPACED_ID not in text, f"spaced full ID number in {where}"
    assert snapshot[:40] not in text, f"camera snapshot in {where}"


def test_full_id_numbers_and_snapshots_never_reach_the_page(
    leaky_hall: ConsoleHall, browser: Any
) -> None:
    hall = leaky_hall
    snapshot = _snapshot_b64()
    sent: Collector[bytes] = Collector()
    hall.bus.subscribe(queue_endpoint(hall.site.hall_id).request("cancel"), sent.add)
    context = browser.new_context()
    page = context.new_page()
    bodies: list[tuple[str, bytes]] = []

    def keep_body(response: Any) -> None:
        # Read at once: a body is gone once the page navigates on.
        if "/api/stream" not in response.url and not 300 <= response.status < 400:
            bodies.append((response.url, response.body()))

    page.on("response", keep_body)
    try:
        log_in(page, hall)
        expect(page.locator('[data-window="w3"]')).to_be_visible(timeout=5000)
        _feed_full_numbers(hall, snapshot)

        # The data did arrive, masked.
        expect(page.locator('[data-window="w3"] .staff')).to_have_text(f"周{MASKED}", timeout=5000)
        expect(page.locator("#feed")).to_contain_text(f"镜头被遮挡 {MASKED}", timeout=5000)
        expect(page.locator("#alerts")).to_contain_text(f"镜头被遮挡 {MASKED}")
        expect(page.locator("#feed")).to_contain_text("核对证件")
        page.click('button[data-view="ratings"]')
        expect(page.locator("#bad-ratings")).to_contain_text(f"身份证{MASKED}被要求复印三次")
        page.click('button[data-view="screens"]')
        expect(page.locator('#screens img[src^="/screens/netscreen/hall.png"]')).to_have_count(1)

        # A manager typing a full number is refused before anything goes on the bus.
        page.click('button[data-view="actions"]')
        form = page.locator('form[data-action="cancel"]')
        form.locator('input[name="ticket_id"]').fill("C001")
        form.locator('input[name="reason"]').fill(f"持证人{FULL_ID}")
        form.locator("button[type=submit]").click()
        expect(page.locator("#message")).to_contain_text("请勿输入完整身份证号")

        for view in ("devices", "charts", "report", "floor"):
            page.click(f'button[data-view="{view}"]')
            _assert_clean(f"the {view} view's DOM", page.content(), snapshot)
            _assert_clean(f"the {view} view's text", page.inner_text("body"), snapshot)
        assert page.locator('img[src^="data:"]').count() == 0

        for path in ("/api/section/queue", "/api/section/feed", "/api/section/ratings",
                     "/api/section/screens", "/api/section/alerts", "/api/section/report",
                     "/report.csv", "/report/print"):
            answer = page.request.get(hall.console.url.rstrip("/") + path)
            assert answer.ok, path
            _assert_clean(path, answer.body(), snapshot)
        report = page.request.get(hall.console.url + "report.csv").body().decode("utf-8-sig")
        assert f"周{MASKED}" in report  # the staff row is there, masked

        cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
        stream = _read_stream(hall.console.url + "api/stream", cookie, 1.5)
        assert MASKED.encode() in stream
        _assert_clean("the live stream", stream, snapshot)
        assert len(bodies) > 5
        for url, body in bodies:
            _assert_clean(url, body, snapshot)

        # The screen picture is drawn from the masked text.
        picture = page.request.get(hall.console.url + "screens/netscreen/hall.png").body()
        lines = ("A001→3号窗口", f"请{MASKED}到服务台")
        assert picture == png_of(lines, *geometry(hall.site, "netscreen", "hall", lines))
        assert not sent.items, "a request with the full number reached the bus"
    finally:
        context.close()


@pytest.mark.parametrize(("text", "expected"), [
    (f"号码{FULL_ID}。", f"号码{MASKED}。"),
    ("11010119900307457x", "1101**********457X"),
    (SPACED_ID, MASKED),
    ("1101-0119-9003-0745-78", MASKED),
    # A 20-digit order number is no ID number; nor are 17 digits.
    ("12345678901234567890", "12345678901234567890"),
    ("12345678901234567", "12345678901234567"),
    ("1101**********4578", "1101**********4578"),
])
def test_scrub_masks_every_form_of_a_full_number(text: str, expected: str) -> None:
    assert scrub_text(text) == expected
