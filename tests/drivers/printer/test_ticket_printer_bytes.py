"""The exact ESC/POS bytes of a ticket and of a one-time notification sheet."""

from __future__ import annotations

from dataclasses import replace

import pytest

from drivers.led.text import text_width
from drivers.printer import escpos_codec as codec
from drivers.printer.escpos_parse import EscposParser, QrStore, Raster, Text
from drivers.printer.ticket_layout import (
    NoticeSheet,
    TicketContent,
    render_notice_sheet,
    render_ticket,
    wrap_columns,
)
from firmware_config.printer_profile import PrinterProfile

TICKET = TicketContent(
    hall_name="示例县政务服务中心",
    number="A023",
    service_name="企业开办",
    people_ahead=3,
    estimated_wait_min=45,
    issued_at="2024-03-04 09:05",
    window_hint="请到 10 号窗口",
    qr_url="https://q.example.cn/t/2024-03-04-A023",
    notice="过号请到综合咨询台。",
)


def _gb(text: str) -> bytes:
    return text.encode("gb18030")


def test_ticket_bytes_gb18030_native_qr_partial_cut() -> None:
    rule = b"-" * 48 + b"\n"
    url = b"https://q.example.cn/t/2024-03-04-A023"
    expected = (
        b"\x1b@"  # initialise
        + b"\x1c&"  # Chinese mode on
        + b"\x1ba\x01\x1bE\x01" + "示例县政务服务中心".encode("gb18030") + b"\n\x1bE\x00"
        + b"\x1ba\x00" + rule
        + b"\x1ba\x01\x1d!\x33\x1bE\x01A023\n\x1bE\x00\x1d!\x00"  # 4 x 4 number
        + b"\x1ba\x01\x1d!\x11" + b"\xc6\xf3\xd2\xb5\xbf\xaa\xb0\xec" + b"\n\x1d!\x00"  # 企业开办
        + b"\x1ba\x00" + _gb("前面等候 3 人  People ahead: 3") + b"\n"
        + b"\x1ba\x00" + _gb("预计等候 45 分钟  Est. wait: 45 min") + b"\n"
        + b"\x1ba\x00" + _gb("取号时间 Time: 2024-03-04 09:05") + b"\n"
        + b"\x1ba\x00" + _gb("请到 10 号窗口") + b"\n"
        + b"\x1ba\x01"
        + b"\x1d(k\x04\x001A2\x00"  # QR model 2
        + b"\x1d(k\x03\x001C\x06"  # module 6 dots
        + b"\x1d(k\x03\x001E1"  # error correction M
        + b"\x1d(k" + bytes([len(url) + 3, 0]) + b"1P0" + url  # store the data
        + b"\x1d(k\x03\x001Q0"  # print it
        + b"\x1ba\x00"
        + b"\x1ba\x01" + _gb("扫码查看排队进度 Scan to follow the queue") + b"\n"
        + b"\x1ba\x00" + rule
        + b"\x1ba\x00" + _gb("过号请到综合咨询台。") + b"\n"
        + b"\x1bd\x04\x1dV\x01"  # feed 4 lines, partial cut
    )
    assert render_ticket(TICKET, PrinterProfile()) == expected


def test_gbk_profile_replaces_the_four_byte_yuan_sign() -> None:
    # U+00A5 is four bytes in GB18030, which a GBK-only printer prints as garbage.
    assert "¥".encode("gb18030") == b"\x81\x30\x84\x36"
    gbk = PrinterProfile(encoding="gbk")
    assert codec.encode_text("工本费 ¥10", gbk) == "工本费 ￥10".encode("gbk")
    assert codec.encode_text("工本费 ¥10", PrinterProfile()) == "工本费 ¥10".encode("gb18030")


def test_full_width_punctuation_alone_is_still_double_byte() -> None:
    punctuation = codec.encode_text("（）：。", PrinterProfile(encoding="gbk"))
    assert punctuation == b"\xa3\xa8\xa3\xa9\xa3\xba\xa1\xa3"


def test_unprintable_character_becomes_question_mark_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert codec.encode_text("号\U0001f600", PrinterProfile(encoding="gbk")) == "号?".encode("gbk")
    assert "cannot print" in caplog.text


def test_cut_modes() -> None:
    assert codec.cut(PrinterProfile(cut="full", feed_before_cut=3)) == b"\x1bd\x03\x1dV\x00"
    assert codec.cut(PrinterProfile(cut="none", feed_before_cut=2)) == b"\x1bd\x02"


def test_printer_without_chinese_font_gets_text_as_images_and_no_fs_ampersand() -> None:
    profile = PrinterProfile(chinese_font=False, qr="image", paper_width_mm=58)
    job = render_ticket(TICKET, profile)
    assert not job.startswith(b"\x1b@\x1c&")
    ops = EscposParser().feed(job)
    texts = [op.raw for op in ops if isinstance(op, Text) and op.raw]
    # Only pure-ASCII lines stay text; every Chinese line and the QR code arrive as pictures.
    # On 32 columns the English ends of two lines wrap onto lines of their own.
    assert texts == [b"-" * 32, b"A023", b"min", b"the queue", b"-" * 32]
    rasters = [op for op in ops if isinstance(op, Raster)]
    assert len(rasters) == 9
    assert all(r.width_bytes * 8 <= 384 for r in rasters)
    assert not any(isinstance(op, QrStore) for op in ops)


def test_native_qr_ticket_is_small_and_image_qr_is_not() -> None:
    native = render_ticket(TICKET, PrinterProfile())
    image = render_ticket(TICKET, PrinterProfile(qr="image"))
    assert len(native) < 600 < 2000 < len(image)


def test_notice_sheet_lists_materials_in_order() -> None:
    sheet = NoticeSheet(
        hall_name="示例县政务服务中心",
        service_name="企业开办 Business registration",
        materials=["营业执照申请书（原件1份）", "法定代表人身份证（原件）"],
        time_limit="承诺时限：1个工作日",
        fees="不收费 Free of charge",
        legal_basis=["《中华人民共和国市场主体登记管理条例》"],
        issued_at="2024-03-04 09:05",
    )
    job = render_notice_sheet(sheet, PrinterProfile())
    lines = [op.raw.decode("gb18030") for op in EscposParser().feed(job) if isinstance(op, Text)]
    assert lines[1] == "一次性告知单"
    start = lines.index("所需材料 / Materials:")
    assert lines[start + 1 : start + 3] == [
        "1. 营业执照申请书（原件1份）",
        "2. 法定代表人身份证（原件）",
    ]
    assert "《中华人民共和国市场主体登记管理条例》" in lines
    assert job.endswith(b"\x1bd\x04\x1dV\x01")


def test_long_lines_wrap_by_display_width_and_keep_words_whole() -> None:
    notice = ("请留意叫号，过号请到综合咨询台重新排队。 Please listen for your number; "
              "if you miss it, go to the enquiry desk.")
    profile = PrinterProfile()
    job = render_ticket(replace(TICKET, notice=notice), profile)
    ops = EscposParser().feed(job)
    printed = [op.raw.decode("gb18030") for op in ops if isinstance(op, Text) and op.raw]
    last_rule = len(printed) - 1 - printed[::-1].index("-" * 48)
    tail = printed[last_rule + 1:]
    assert tail == [
        "请留意叫号，过号请到综合咨询台重新排队。 Please",
        "listen for your number; if you miss it, go to",
        "the enquiry desk.",
    ]
    assert all(text_width(line) <= profile.chars_per_line for line in tail)
    assert wrap_columns("号" * 30, 48) == ["号" * 24, "号" * 6]
