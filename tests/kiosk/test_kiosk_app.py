"""The kiosk app driven offscreen against the real queue engine over a real Mosquitto."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import zxingcpp
from kiosk_fixtures import RunningKiosk, kiosk_site, start_kiosk
from mosquitto import Mosquitto
from PIL import Image
from PySide6.QtCore import QBuffer, QIODevice, Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot
from test_scanner import ID_CARD, ID_NUMBER, keystrokes, recording

from drivers.scanner.keys import KeyDecoder
from firmware_config.site import BrokerConfig
from hall_bus.contract import Appointment

pytestmark = pytest.mark.integration  # starts real components (conftest.py)

WAIT_MS = 20_000  # generous: other test runs share the two cores


@pytest.fixture
def kiosk(broker_config: BrokerConfig, tmp_path: Path, qtbot: QtBot) -> Iterator[RunningKiosk]:
    site = kiosk_site(broker_config, tmp_path)
    for running in start_kiosk(site, tmp_path):
        qtbot.addWidget(running.window)
        yield running


def tap(qtbot: QtBot, widget: object) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def wait_page(qtbot: QtBot, kiosk: RunningKiosk, name: str) -> None:
    qtbot.waitUntil(lambda: kiosk.window.page_name() == name, timeout=WAIT_MS)


def test_take_a_ticket_end_to_end(kiosk: RunningKiosk, qtbot: QtBot) -> None:
    window = kiosk.window
    tap(qtbot, window.home.services["household"])
    assert window.page_name() == "guide"
    assert "居民户口簿" in window.guide.body.text()
    assert "《中华人民共和国居民身份证法》" in window.guide.body.text()
    tap(qtbot, window.guide.take)
    wait_page(qtbot, kiosk, "ticket")
    assert window.ticket.number.text() == "A001"
    assert window.ticket.details.text().startswith("前面等候 0 人")

    # What the citizen holds: the simulator's rendering of the bytes the kiosk sent.
    assert kiosk.printer.simulator is not None
    (receipt,) = kiosk.printer.simulator.wait_receipts(1, timeout=5)
    assert "A001" in receipt.lines and "户籍办理" in receipt.lines
    assert "测试政务服务大厅" in receipt.lines
    (ticket,) = kiosk.tickets()
    url = f"https://q.example.cn/test-hall/{ticket['ticket_id']}"
    assert receipt.image is not None
    assert [r.text for r in zxingcpp.read_barcodes(receipt.image)] == [url]
    assert ticket["number"] == "A001"
    # The QR on screen carries the same link.
    screen_qr = window.ticket.qr.pixmap().toImage()
    assert [r.text for r in zxingcpp.read_barcodes(_to_pil(screen_qr))] == [url]
    printed = [e for e in kiosk.tap.json_on("/kiosk1/event") if e["type"] == "ticket_printed"]
    assert [e["number"] for e in printed] == ["A001"]
    qtbot.waitUntil(lambda: any(s["ready"] for s in kiosk.tap.json_on("/printer/state")),
                    timeout=WAIT_MS)


def test_paper_out_shows_the_ticket_on_screen_and_where_to_go(
    kiosk: RunningKiosk, qtbot: QtBot
) -> None:
    assert kiosk.printer.simulator is not None
    kiosk.printer.simulator.faults.paper_out = True
    window = kiosk.window
    tap(qtbot, window.home.services["household"])
    tap(qtbot, window.guide.take)
    wait_page(qtbot, kiosk, "printer_error")
    # The ticket exists (the engine committed it first) and the citizen is told so.
    (ticket,) = kiosk.tickets()
    assert window.printer_error.number.text() == ticket["number"] == "A001"
    assert "9 号窗口" in window.printer_error.message.text()
    assert not window.printer_error.qr.pixmap().isNull()
    assert kiosk.printer.simulator.receipts == []
    failed = [e for e in kiosk.tap.json_on("/kiosk1/event") if e["type"] == "print_failed"]
    assert failed and "缺纸" in str(failed[0]["detail"])
    qtbot.waitUntil(
        lambda: any(s["paper"] == "out" for s in kiosk.tap.json_on("/printer/state")),
        timeout=WAIT_MS)


def test_engine_away_retries_with_the_same_id_and_issues_once(
    kiosk: RunningKiosk, qtbot: QtBot
) -> None:
    window = kiosk.window
    kiosk.engine.stop()
    tap(qtbot, window.home.services["household"])
    tap(qtbot, window.guide.take)
    wait_page(qtbot, kiosk, "broker_away")
    assert window.broker_away.retry is not None
    assert "不会重复取号" in window.broker_away.body.text()
    tap(qtbot, window.broker_away.retry)  # an impatient citizen; still one request in flight
    # The engine comes back; the request waiting for it in the broker is executed once, and
    # the kiosk's retries with the same id get that one ticket.
    kiosk.restart_engine()
    wait_page(qtbot, kiosk, "ticket")
    tickets = kiosk.tickets()
    assert [t["number"] for t in tickets] == ["A001"]
    assert window.ticket.number.text() == "A001"
    assert kiosk.printer.simulator is not None
    assert len(kiosk.printer.simulator.wait_receipts(1, timeout=5)) == 1


def test_broker_away_then_back(kiosk: RunningKiosk, qtbot: QtBot, mosquitto: Mosquitto) -> None:
    window = kiosk.window
    mosquitto.kill()
    qtbot.waitUntil(lambda: not kiosk.bus.connected, timeout=WAIT_MS)
    tap(qtbot, window.home.services["household"])
    tap(qtbot, window.guide.take)
    wait_page(qtbot, kiosk, "broker_away")
    assert not window.language_button.isEnabled()
    mosquitto.start()
    wait_page(qtbot, kiosk, "ticket")
    assert [t["number"] for t in kiosk.tickets()] == ["A001"]


def test_check_in_by_a_replayed_appointment_scan(kiosk: RunningKiosk, qtbot: QtBot) -> None:
    slot = kiosk.clock.now + timedelta(minutes=20)
    kiosk.ask("load_appointments", appointments=[Appointment(
        code="YY0815", service_id="tax", slot_start=slot, slot_end=slot + timedelta(minutes=30),
        citizen_masked_id="1101**********002X").model_dump(mode="json")])
    # The appointment QR holds a link; the scanner types it like a keyboard.
    keys = ("KEY_H KEY_T KEY_T KEY_P KEY_S +KEY_SEMICOLON KEY_SLASH KEY_SLASH KEY_Q KEY_DOT "
            "KEY_C KEY_N KEY_SLASH KEY_A +KEY_SLASH KEY_C KEY_O KEY_D KEY_E KEY_EQUAL "
            "+KEY_Y +KEY_Y KEY_0 KEY_8 KEY_1 KEY_5 KEY_ENTER")
    decoder = KeyDecoder()
    scans = [s for e in recording(keystrokes(0, 2, keys)) if (s := decoder.feed(e))]
    assert [s.text for s in scans] == ["https://q.cn/a?code=YY0815"]
    kiosk.window.deliver_scan(scans[0].text)
    wait_page(qtbot, kiosk, "ticket")
    (ticket,) = kiosk.tickets()
    assert ticket["appointment_code"] == "YY0815"
    assert ticket["priority_class"] == "appointment"
    assert kiosk.window.ticket.number.text() == ticket["number"] == "C001"


def test_id_card_scan_is_masked_everywhere(
    kiosk: RunningKiosk, qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    decoder = KeyDecoder()
    (scan,) = [s for e in recording(ID_CARD) if (s := decoder.feed(e))]
    window = kiosk.window
    window.deliver_scan(scan.text)
    qtbot.waitUntil(lambda: "1101**********002X" in window.home.status.text(), timeout=WAIT_MS)
    tap(qtbot, window.home.services["household"])
    tap(qtbot, window.guide.take)
    wait_page(qtbot, kiosk, "ticket")
    (ticket,) = kiosk.tickets()
    assert ticket["citizen_masked_id"] == "1101**********002X"
    assert kiosk.printer.simulator is not None
    (receipt,) = kiosk.printer.simulator.wait_receipts(1, timeout=5)
    assert not any(ID_NUMBER in line for line in receipt.lines)
    assert not kiosk.tap.contains(ID_NUMBER)
    assert ID_NUMBER not in caplog.text
    # A number with a wrong check digit is refused on screen, and not repeated anywhere.
    window.reset_to_home()
    window.deliver_scan(ID_NUMBER[:17] + "1")
    qtbot.waitUntil(lambda: "无效" in window.home.status.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: any(e["type"] == "scan_rejected"
                                for e in kiosk.tap.json_on("/kiosk1/event")), timeout=WAIT_MS)
    assert ID_NUMBER[:17] not in caplog.text
    assert not kiosk.tap.contains(ID_NUMBER[:17])


def test_language_and_elderly_mode(kiosk: RunningKiosk, qtbot: QtBot) -> None:
    window = kiosk.window
    assert window.home.services["household"].text() == "户籍办理"
    tap(qtbot, window.language_button)
    assert window.home.title.text() == "Welcome. Please choose a service"
    assert window.home.services["household"].text() == "Household"
    assert window.hall_label.text() == "Test service hall"
    tap(qtbot, window.language_button)
    assert window.home.title.text() == "欢迎办事，请选择办理事项"

    tap(qtbot, window.elderly_button)
    assert "font-size: 42px" in window.styleSheet()  # body 22 px x 1.5 ... title 34 x 1.5 = 51
    assert "font-size: 33px" in window.styleSheet()
    assert window.elderly_button.text() == "标准模式"
    tax = window.home.services["tax"]  # the third service: second row once there are 2 columns
    assert window.home.grid.getItemPosition(window.home.grid.indexOf(tax))[:2] == (1, 0)
    # Simpler flow: one touch takes the ticket, and the voice hook reads the number.
    tap(qtbot, window.home.services["business"])
    wait_page(qtbot, kiosk, "ticket")
    assert window.ticket.number.text() == "B001"
    qtbot.waitUntil(lambda: "您的号码 B001" in kiosk.spoken, timeout=WAIT_MS)


def test_idle_resets_to_chinese_home(kiosk: RunningKiosk, qtbot: QtBot) -> None:
    window = kiosk.window
    window.idle_timer.setInterval(300)
    tap(qtbot, window.language_button)
    tap(qtbot, window.elderly_button)
    tap(qtbot, window.elderly_button)  # elderly off again, so the guide page is shown
    tap(qtbot, window.home.services["tax"])
    assert window.page_name() == "guide"
    wait_page(qtbot, kiosk, "home")
    assert window.language == "zh" and not window.elderly
    assert window.home.title.text() == "欢迎办事，请选择办理事项"


def test_closing_is_refused_in_kiosk_mode(kiosk: RunningKiosk) -> None:
    window = kiosk.window
    window.show()
    window.allow_close = False
    assert window.close() is False
    window.allow_close = True


def _to_pil(image: QImage) -> Image.Image:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(buffer.data())))


def test_notice_sheet_is_printed_from_the_guide(kiosk: RunningKiosk, qtbot: QtBot) -> None:
    window = kiosk.window
    tap(qtbot, window.home.services["household"])
    tap(qtbot, window.guide.notice)
    qtbot.waitUntil(lambda: "告知单已打印" in window.guide.status.text(), timeout=WAIT_MS)
    assert kiosk.printer.simulator is not None
    (sheet,) = kiosk.printer.simulator.wait_receipts(1, timeout=5)
    assert "一次性告知单" in sheet.lines
    assert "1. 居民户口簿（原件）" in sheet.lines
    assert "承诺 20个工作日；法定 60日" in sheet.lines
    assert "《中华人民共和国居民身份证法》" in sheet.lines
    assert kiosk.tickets() == []  # a notice is not a ticket
    kiosk.printer.simulator.faults.cover_open = True
    tap(qtbot, window.guide.notice)
    qtbot.waitUntil(lambda: "盖未关" in window.guide.status.text(), timeout=WAIT_MS)


def test_unknown_appointment_and_garbage_scans_are_refused_clearly(
    kiosk: RunningKiosk, qtbot: QtBot
) -> None:
    window = kiosk.window
    window.deliver_scan("YY9999")
    wait_page(qtbot, kiosk, "refused")
    assert window.refused.title.text() == "暂时无法取号"
    assert window.refused.body.text().startswith("没有该预约：YY9999")
    tap(qtbot, window.refused.back)
    assert window.page_name() == "home"
    # Not printable, or too long for any code: refused without a request to the engine.
    window.deliver_scan("\x07\x08garbage")
    window.deliver_scan("x" * 300)
    qtbot.waitUntil(lambda: len([e for e in kiosk.tap.json_on("/kiosk1/event")
                                 if e["type"] == "scan_rejected"]) == 2, timeout=WAIT_MS)
    assert window.page_name() == "home"
    assert kiosk.tickets() == []


def test_home_says_when_the_printer_is_paused(kiosk: RunningKiosk, qtbot: QtBot) -> None:
    window = kiosk.window
    assert kiosk.printer.simulator is not None
    qtbot.waitUntil(lambda: window.home.printer_notice.text() == "", timeout=WAIT_MS)
    kiosk.printer.simulator.faults.cover_open = True
    kiosk.printer.driver.status()  # what the poller does every few seconds
    qtbot.waitUntil(lambda: "暂停使用" in window.home.printer_notice.text(), timeout=WAIT_MS)
    kiosk.printer.simulator.faults.cover_open = False
    kiosk.printer.driver.status()
    qtbot.waitUntil(lambda: window.home.printer_notice.text() == "", timeout=WAIT_MS)


def test_long_english_labels_wrap_at_a_middle_space() -> None:
    from kiosk.pages import two_lines

    assert two_lines("Social and medical insurance") == "Social and\nmedical insurance"
    assert two_lines("Taxation") == "Taxation"
    assert two_lines("户籍办理与出入境证件办理") == "户籍办理与出入境证件办理"


def test_spoken_prompt_is_a_real_wav(tmp_path: Path) -> None:
    from kiosk.voice_prompt import SpokenPrompt

    prompt = SpokenPrompt(out_dir=tmp_path)
    if prompt.executable is None:
        pytest.fail("espeak-ng is not installed; .ci/bootstrap installs it")
    prompt("您的号码 A001")
    assert prompt.wait(20)
    (wav,) = tmp_path.glob("prompt-*.wav")
    data = wav.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert len(data) > 22050  # well over half a second of 16-bit speech at 22 kHz


def test_gives_up_only_when_the_request_can_no_longer_be_executed(
    kiosk: RunningKiosk, qtbot: QtBot
) -> None:
    window = kiosk.window
    window.desk.request_lifetime_s = 0.5
    window.retry_timer.setInterval(200)
    kiosk.engine.stop()
    tap(qtbot, window.home.services["household"])
    tap(qtbot, window.guide.take)
    wait_page(qtbot, kiosk, "broker_away")
    # Past its deadline (and a margin for clock skew) the engine would refuse it: back home,
    # saying why, and no ticket appears when the engine returns and reads what was queued.
    wait_page(qtbot, kiosk, "home")
    assert window.home.status.text() == "网络连接暂时中断"
    kiosk.restart_engine()
    qtbot.waitUntil(lambda: any(r.get("code") == "deadline_expired"
                                for r in kiosk.tap.json_on("/response/take_ticket")),
                    timeout=WAIT_MS)
    assert kiosk.tickets() == []
