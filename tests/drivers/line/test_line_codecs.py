"""Pure codecs of the RS-485 line: exact bytes, resynchronisation, layout, the pad conversation."""

from __future__ import annotations

import pytest

from drivers.crc import crc16_arc, crc16_modbus, sum8
from drivers.led import aa_strip as led_aa_strip
from drivers.led import onbon as led_onbon
from drivers.led.text import Effect, encode_gbk, layout, text_width
from drivers.line import caller_keypad
from drivers.line import commands as rc
from drivers.line.evaluation_pad import PadKey, PadMode, PadSession
from drivers.line.frame import Frame, FrameError, FrameReader, encode
from hall_bus.contract import RatingLevel

CALL = "请A023号到3号窗口"
CALL_GBK = bytes.fromhex("c7eb 41303233 bac5 b5bd 33 bac5 b4b0 bfda")


def test_crc_check_values_from_the_crc_catalogue() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37
    assert crc16_arc(b"123456789") == 0xBB3D
    assert sum8(b"\xff\x02") == 0x01


def test_poll_frame_exact_bytes() -> None:
    crc = crc16_modbus(bytes.fromhex("03010700"))
    assert encode(rc.poll(3, 7)) == bytes.fromhex("a55a 03 01 07 00") + crc.to_bytes(2, "little")
    assert encode(rc.poll(3, 7)) == bytes.fromhex("a55a030107005390")


def test_show_frame_carries_gbk_lines() -> None:
    wire = encode(rc.show(3, 7, (CALL,), Effect.STATIC))
    body = bytes((3, 0x10, 7, 3 + 1 + len(CALL_GBK), 0, 0, 1, len(CALL_GBK))) + CALL_GBK
    assert wire == b"\xa5\x5a" + body + crc16_modbus(body).to_bytes(2, "little")
    frames = FrameReader().feed(wire)
    assert rc.decode_show(frames[0]) == rc.Show(0, Effect.STATIC, (CALL,))


def test_frame_limits_are_refused() -> None:
    with pytest.raises(FrameError):
        encode(Frame(0, 1, 1))
    with pytest.raises(FrameError):
        encode(Frame(1, 1, 1, bytes(256)))


def test_reader_resynchronises_after_noise_truncation_and_bad_crc() -> None:
    good = [encode(Frame(5, 0x81, n, bytes((n, 1)))) for n in range(1, 4)]
    damaged = bytearray(good[1])
    damaged[-3] ^= 0xFF
    noise = b"\x00\xa5\xff\xa5\x5a\x09\x01"  # includes a false sync word
    stream = noise + good[0] + good[1][:5] + bytes(damaged) + good[2] + b"\xa5"
    reader = FrameReader()
    frames = []
    for byte in stream:  # byte by byte, as a slow UART delivers them
        frames += reader.feed(bytes((byte,)))
    assert [f.seq for f in frames] == [1, 3]
    assert reader.bad_crc >= 1
    assert reader.buffer == bytearray(b"\xa5")  # kept: may start the next sync word


def test_reader_finds_a_frame_hidden_after_a_false_header() -> None:
    good = encode(Frame(9, 0x90, 2, b"\x00"))
    # A false header announcing a long payload must not swallow the real frame that follows.
    frames = FrameReader().feed(b"\xa5\x5a\x01\x01\x01\x20" + good + bytes(40))
    assert frames == [Frame(9, 0x90, 2, b"\x00")]


def test_press_reply_and_ack_round_trip() -> None:
    reply = rc.poll(4, 9).reply(rc.encode_press(rc.Press(12, caller_keypad.Key.LOGIN, "1001")))
    assert encode(reply)[2:10] == bytes.fromhex("04 81 09 06 0c 07") + b"10"
    assert rc.decode_poll_reply(reply) == rc.Press(12, 7, "1001")
    assert rc.decode_poll_reply(rc.poll(4, 9).reply()) is None
    with pytest.raises(rc.DecodeError):
        rc.decode_poll_reply(rc.poll(4, 9).reply(b"\x00\x01"))
    ack = rc.ack(4, 10, 12, 0, rc.Beep.OK, "OK")
    assert ack.payload == b"\x0c\x00\x01OK"
    assert rc.decode_ack(ack) == rc.Ack(12, 0, rc.Beep.OK, "OK")


def test_aa_strip_frame_exact_bytes_and_checksum() -> None:
    wire = led_aa_strip.encode_text(2, CALL)
    assert wire == (
        bytes.fromhex("aa 02 bb 51 54") + bytes((sum8(CALL_GBK),)) + bytes.fromhex("01 00 99 00 63")
        + CALL_GBK + b"\xff"
    )
    hall = led_aa_strip.encode_text(2, "A023", hall_screen=True)
    assert hall == bytes.fromhex("aa02bb5154d6 0802 990063 41303233 ff")
    assert led_aa_strip.decode_text(hall) == led_aa_strip.AaText(2, True, "A023")
    bad = bytearray(wire)
    bad[12] ^= 1
    with pytest.raises(led_aa_strip.AaStripError):
        led_aa_strip.decode_text(bytes(bad))
    buffer = bytearray(b"\x13\xaa\x00\x37\xff" + wire + b"\xaa\x02")
    assert led_aa_strip.split_frames(buffer) == [wire]
    assert buffer == bytearray(b"\xaa\x02")


def test_onbon_dynamic_area_frame_exact_bytes() -> None:
    wire = led_onbon.encode_dynamic_text(1, 0, "A023", Effect.STATIC)
    packet = bytes.fromhex(
        "0100 0080 000000000000 fe 02 0d00 a306 00 00 01 00 00 0400 41303233"
    )
    assert wire == b"\xa5" * 8 + packet + crc16_arc(packet).to_bytes(2, "little") + b"\x5a"
    assert led_onbon.decode_dynamic_text(wire) == led_onbon.OnbonText(1, 0, Effect.STATIC, "A023")


def test_onbon_escapes_sync_and_end_bytes() -> None:
    wire = led_onbon.encode_dynamic_text(0xA5, 0x5A, CALL, Effect.SCROLL)
    body = wire[8:-1]
    assert b"\xa5" not in body and b"\x5a" not in body
    assert body.startswith(b"\xa6\x02\x00")  # address A5 00 escaped
    decoded = led_onbon.decode_dynamic_text(wire)
    assert (decoded.address, decoded.area, decoded.text) == (0xA5, 0x5A, CALL)
    buffer = bytearray(b"\x5a\x01" + wire + wire[:12])
    assert led_onbon.split_frames(buffer) == [wire]


def test_layout_counts_half_cells_and_reports_what_cannot_be_shown() -> None:
    assert text_width(CALL) == 17
    placed = layout(CALL, columns=17, rows=1)
    assert placed.lines == (CALL,) and placed.fits
    wrapped = layout(CALL, columns=12, rows=2)
    assert wrapped.lines == ("请A023号到3", "号窗口")
    scrolled = layout(CALL + "办理业务", columns=12, rows=1)
    assert scrolled.effect is Effect.SCROLL and scrolled.lines == (CALL + "办理业务",)
    cut = layout(CALL, columns=8, rows=1, can_scroll=False)
    assert not cut.fits and cut.lines == ("请A023号",)
    rare = layout("请张𠮷到3号窗口", columns=40, rows=1)
    assert not rare.fits and "𠮷" in rare.problems[0]
    assert encode_gbk("𠮷A") == (b"?A", ["𠮷"])


def test_keypad_presses_map_to_queue_requests() -> None:
    services = ["business", "tax"]
    login = caller_keypad.request_for(rc.Press(1, caller_keypad.Key.LOGIN, "1001"), "w1", services)
    assert login == caller_keypad.KeypadRequest("login", {"window_id": "w1", "staff_id": "1001"})
    transfer = caller_keypad.request_for(rc.Press(2, caller_keypad.Key.TRANSFER, "2"), "w1",
                                         services)
    assert transfer == caller_keypad.KeypadRequest(
        "transfer", {"window_id": "w1", "to_service_id": "tax"})
    assert caller_keypad.request_for(rc.Press(3, caller_keypad.Key.TRANSFER, "3"), "w1",
                                     services) is caller_keypad.Result.BAD_INPUT
    assert caller_keypad.request_for(rc.Press(4, 0x7E), "w1", services) is \
        caller_keypad.Result.BAD_INPUT
    assert caller_keypad.result_for_error("window_closed") is caller_keypad.Result.NOT_LOGGED_IN


def test_pad_rates_once_asks_reason_for_bad_levels_and_times_out() -> None:
    pad = PadSession(reasons=["等候太久", "态度不好"], timeout_s=30, min_interval_s=0.5)
    assert pad.press(PadKey.LEVEL_1, now=0) is None  # nothing to rate yet
    assert pad.ticket_finished("d-1", "A001", now=1)
    assert pad.press(PadKey.LEVEL_2, now=1.1) is not None
    assert not pad.ticket_finished("d-1", "A001", now=2)  # one rating per ticket
    assert pad.ticket_finished("d-2", "A002", now=3)
    assert pad.press(PadKey.LEVEL_4, now=3.2) is None  # a bad level asks for a reason
    assert pad.mode is PadMode.REASON
    assert pad.press(PadKey.REASON_BASE + 2, now=3.3) is None  # too fast: ignored
    rating = pad.press(PadKey.REASON_BASE + 2, now=3.8)
    assert rating is not None
    assert (rating.ticket_id, rating.level, rating.reason) == (
        "d-2", RatingLevel.DISSATISFIED, "态度不好")
    assert pad.ticket_finished("d-3", "A003", now=10)
    assert pad.tick(now=39) is None
    timed_out = pad.tick(now=40)
    assert timed_out is not None and timed_out.level is None and pad.screen() == ()
