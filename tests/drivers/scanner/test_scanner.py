"""Scanner decoding from recorded key events, the evdev reader over a pipe, ID-number masking."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from drivers.scanner import id_card
from drivers.scanner.evdev_reader import ScannerReader, pack_event, unpack_events
from drivers.scanner.keys import KeyDecoder, KeyEvent, Scan

# Key codes from linux/input-event-codes.h, named as there.
CODES = {
    "KEY_1": 2, "KEY_2": 3, "KEY_3": 4, "KEY_4": 5, "KEY_5": 6, "KEY_6": 7, "KEY_7": 8,
    "KEY_8": 9, "KEY_9": 10, "KEY_0": 11, "KEY_MINUS": 12, "KEY_TAB": 15, "KEY_Q": 16,
    "KEY_E": 18,
    "KEY_O": 24, "KEY_D": 32, "KEY_SEMICOLON": 39, "KEY_EQUAL": 13,
    "KEY_T": 20, "KEY_Y": 21, "KEY_P": 25, "KEY_ENTER": 28, "KEY_A": 30,
    "KEY_S": 31, "KEY_H": 35, "KEY_L": 38, "KEY_LEFTSHIFT": 42, "KEY_Z": 44, "KEY_X": 45,
    "KEY_C": 46, "KEY_N": 49, "KEY_M": 50, "KEY_DOT": 52, "KEY_SLASH": 53,
    "KEY_RIGHTSHIFT": 54, "KEY_CAPSLOCK": 58, "KEY_F1": 59, "KEY_KPENTER": 96,
}


def recording(text: str) -> list[KeyEvent]:
    """`<ms> <KEY_NAME> <value>` per line, as `evtest` shows them; SYN/MSC lines kept too."""
    events = []
    for line in text.strip().splitlines():
        ms, name, value = line.split()
        if name == "SYN":
            events.append(KeyEvent(int(ms) / 1000, 0, 0, 0))
        elif name == "MSC":
            events.append(KeyEvent(int(ms) / 1000, 4, 4, int(value, 16)))
        else:
            events.append(KeyEvent(int(ms) / 1000, 1, CODES[name], int(value)))
    return events


def keystrokes(start_ms: int, step_ms: int, keys: str) -> str:
    """Down and up for each space-separated key, `+` marks shift held (e.g. `+KEY_A`)."""
    lines, t = [], start_ms
    for key in keys.split():
        shifted = key.startswith("+")
        name = key.lstrip("+")
        if shifted:
            lines.append(f"{t} KEY_LEFTSHIFT 1")
        lines += [f"{t} MSC 70004", f"{t} {name} 1", f"{t} SYN 0", f"{t + 1} {name} 0"]
        if shifted:
            lines.append(f"{t + 1} KEY_LEFTSHIFT 0")
        lines.append(f"{t + 1} SYN 0")
        t += step_ms
    return "\n".join(lines)


def decode_all(decoder: KeyDecoder, events: list[KeyEvent]) -> list[Scan]:
    return [scan for event in events if (scan := decoder.feed(event)) is not None]


APPOINTMENT = keystrokes(
    1000, 2, "+KEY_Y +KEY_Y KEY_2 KEY_0 KEY_2 KEY_4 KEY_0 KEY_3 KEY_0 KEY_4 KEY_MINUS "
    "KEY_0 KEY_0 KEY_4 KEY_2 KEY_ENTER",
)
ID_NUMBER = "11010519491231002X"
ID_CARD = keystrokes(
    5000, 3, " ".join(f"KEY_{c}" for c in ID_NUMBER[:17]) + " +KEY_X KEY_KPENTER"
)


def test_appointment_code_with_shift_and_terminator() -> None:
    scans = decode_all(KeyDecoder(), recording(APPOINTMENT))
    assert [s.text for s in scans] == ["YY20240304-0042"]
    assert scans[0].duration_s == pytest.approx(0.030, abs=0.001)


def test_id_card_reader_on_keypad_enter() -> None:
    (scan,) = decode_all(KeyDecoder(), recording(ID_CARD))
    assert scan.text == ID_NUMBER


def test_german_layout_scanner_url() -> None:
    # "https://q.example.cn/y" typed by a scanner set to QWERTZ: ':' is Shift+.,
    # '/' is Shift+7, and the key labelled Z on a US board makes 'y'.
    keys = ("KEY_H KEY_T KEY_T KEY_P KEY_S +KEY_DOT +KEY_7 +KEY_7 KEY_Q KEY_DOT KEY_E KEY_X "
            "KEY_A KEY_M KEY_P KEY_L KEY_E KEY_DOT KEY_C KEY_N +KEY_7 KEY_Z KEY_ENTER")
    events = recording(keystrokes(0, 2, keys))
    assert [s.text for s in decode_all(KeyDecoder(layout="de"), events)] == [
        "https://q.example.cn/y"
    ]
    # Read with the wrong layout the same events are a different string: the setting matters.
    assert [s.text for s in decode_all(KeyDecoder(layout="us"), events)] == [
        "https>&&q.example.cn&z"
    ]


def test_person_typing_is_not_a_scan() -> None:
    slow = recording(keystrokes(0, 180, "KEY_1 KEY_2 KEY_3 KEY_4 KEY_5 KEY_ENTER"))
    decoder = KeyDecoder()
    assert decode_all(decoder, slow) == []
    assert decoder.rejected == 5  # each hand-typed key is dropped on its own


def test_stray_key_before_a_scan_does_not_spoil_it() -> None:
    events = recording(keystrokes(0, 1, "KEY_A") + "\n" + APPOINTMENT)
    assert [s.text for s in decode_all(KeyDecoder(), events)] == ["YY20240304-0042"]


def test_caps_lock_and_right_shift_and_repeat() -> None:
    events = recording(
        "0 KEY_CAPSLOCK 1\n0 KEY_CAPSLOCK 0\n1 KEY_A 1\n1 KEY_A 2\n2 KEY_A 0\n"
        "3 KEY_RIGHTSHIFT 1\n3 KEY_A 1\n4 KEY_A 0\n4 KEY_RIGHTSHIFT 0\n5 KEY_A 1\n"
        "6 KEY_1 1\n7 KEY_TAB 1\n8 KEY_ENTER 1"
    )
    # Caps lock upper-cases, shift with caps lower-cases, auto-repeat is ignored, and a Tab is
    # not a terminator unless configured (it is not a character either: the scan is dropped).
    assert decode_all(KeyDecoder(), events) == []
    tab = KeyDecoder(terminators=frozenset({15}))
    assert [s.text for s in decode_all(tab, events)] == ["AaA1"]


def test_function_key_marks_a_keyboard_not_a_scanner() -> None:
    events = recording(keystrokes(0, 2, "KEY_1 KEY_2 KEY_F1 KEY_3 KEY_4 KEY_ENTER"))
    assert decode_all(KeyDecoder(), events) == []


def test_event_struct_round_trip() -> None:
    events = recording(APPOINTMENT)
    packed = b"".join(pack_event(e) for e in events)
    assert list(unpack_events(packed)) == events


def test_reader_over_a_pipe_delivers_scans_and_survives_unplugging(tmp_path: Path) -> None:
    fifo = tmp_path / "event-scanner"
    os.mkfifo(fifo)
    scans: list[str] = []
    got = threading.Event()

    def on_scan(scan: Scan) -> None:
        scans.append(scan.text)
        got.set()

    reader = ScannerReader(str(tmp_path / "event-*"), KeyDecoder(), on_scan, grab=True,
                           rescan_s=0.05).start()
    try:
        for expected in (["YY20240304-0042"], ["YY20240304-0042", ID_NUMBER]):
            # Read-write, so opening never waits for the reader and the bytes wait in the pipe
            # for it: the scanner is there from now on, whenever the reader looks.
            writer = os.open(fifo, os.O_RDWR)
            data = b"".join(pack_event(e) for e in recording(
                APPOINTMENT if len(expected) == 1 else ID_CARD))
            os.write(writer, data[:37])  # a read may end mid-event
            time.sleep(0.01)
            os.write(writer, data[37:])
            assert got.wait(5)
            got.clear()
            assert scans == expected
            seen = reader.disconnects
            os.close(writer)  # unplugged: the reader notices and waits for it to come back
            for _ in range(500):
                if reader.disconnects > seen:
                    break
                time.sleep(0.01)
            assert reader.disconnects > seen
    finally:
        reader.stop()


@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014"])
def test_valid_id_numbers(number: str) -> None:
    assert id_card.validate(number.lower()) == number


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("110105194912310021", "check digit"),
        ("11010519491331002X", "birth date"),
        ("1101051949123100", "17 digits"),
    ],
)
def test_invalid_id_numbers_say_why_without_the_number(number: str, reason: str) -> None:
    with pytest.raises(id_card.InvalidIdNumber) as failure:
        id_card.validate(number)
    assert reason in str(failure.value)
    assert number not in str(failure.value)


def test_mask_hides_the_birth_date_and_passes_the_bus_contract() -> None:
    from hall_bus.contract import TakeTicketRequest

    masked = id_card.mask(ID_NUMBER)
    assert masked == "1101**********002X"
    assert "19491231" not in masked
    TakeTicketRequest(service_id="household", citizen_masked_id=masked)
    with pytest.raises(ValueError):
        TakeTicketRequest(service_id="household", citizen_masked_id=ID_NUMBER)


@pytest.mark.parametrize("layout", ["us", "de"])
def test_simulated_scanner_types_what_the_decoder_reads(layout: str) -> None:
    from drivers.scanner.simulator import key_events

    text = "https://q.example.cn/a?code=YY-0815&x=1"
    assert [s.text for s in decode_all(KeyDecoder(layout=layout), key_events(text, layout))] == [
        text
    ]
    with pytest.raises(ValueError, match="cannot be typed"):
        key_events("号码", layout)
