"""One ID-number detector: every way a person or a paste writes a full number is caught, by the
bus (refused), the logs, the console and the bridge (masked)."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from daemons.bridge.records import mask_text
from daemons.console.privacy import scrub_text
from hall_bus import logs
from hall_bus.contract import CancelRequest, PauseRequest, RateRequest, RatingLevel
from hall_bus.contract.notice import HallNotice
from hall_bus.contract.queue_documents import RosterEntry
from hall_bus.id_numbers import contains_id_number, mask_id_numbers

NUMBER = "11010519491231002X"
VARIANTS = {
    "plain": NUMBER,
    "lower-case x": NUMBER.lower(),
    "grouped with spaces": "110105 19491231 002X",
    "non-breaking spaces": "110105\u00a019491231\u00a0002X",
    "ideographic spaces": "110105\u300019491231\u3000002X",
    "zero-width spaces": "1101\u200b0519491231\u200b002X",
    "word joiner and BOM": "1101\u20600519491231\ufeff002X",
    "hyphens": "110105-19491231-002X",
    "full-width digits": "１１０１０５１９４９１２３１００２Ｘ",
    "full-width, spaced": "１１０１０５　１９４９１２３１　００２ｘ",
}


@pytest.mark.parametrize("written", VARIANTS.values(), ids=VARIANTS.keys())
def test_every_variant_is_found_and_masked_in_place(written: str) -> None:
    text = f"市民 {written} 要求加急"
    assert contains_id_number(text)
    assert mask_id_numbers(text) == "市民 1101**********002X 要求加急"
    # Each output's own masker is the same detector.
    for masked in (scrub_text(text), mask_id_numbers(text)):  # the console's, the logs'
        assert "1101**********002X" in masked and not contains_id_number(masked)
    assert not contains_id_number(mask_text(text))


@pytest.mark.parametrize("text", [
    "1101051949123100",  # 16 digits
    "2026120612304512345",  # a 19-digit timestamp
    "01M96KNC4V4W7D7JV33ZTV4C9E",  # a request id
    "请A023号到3号窗口",
    "电话 13800138000",
])
def test_other_numbers_are_left_alone(text: str) -> None:
    assert not contains_id_number(text)
    assert mask_id_numbers(text) == text


@pytest.mark.parametrize("written", VARIANTS.values(), ids=VARIANTS.keys())
def test_the_bus_refuses_every_variant_in_every_free_text_field(written: str) -> None:
    reason = f"家属代办 {written}"
    with pytest.raises(ValidationError, match="full ID-card number"):
        PauseRequest(window_id="w1", reason=reason)
    with pytest.raises(ValidationError, match="full ID-card number"):
        CancelRequest(ticket_id="t1", reason=reason)
    with pytest.raises(ValidationError, match="full ID-card number"):
        RateRequest(ticket_id="t1", level=RatingLevel.DISSATISFIED, reason=reason)
    with pytest.raises(ValidationError, match="full ID-card number"):
        HallNotice(text_zh=f"请{written}到服务台")
    with pytest.raises(ValidationError, match="full ID-card number"):
        RosterEntry(staff_id="s9", name=written[:20])


def test_a_log_line_never_carries_the_number(caplog: pytest.LogCaptureFixture) -> None:
    formatter = logs.JsonFormatter("queue")
    record = logging.LogRecord("hall.queue", logging.INFO, __file__, 1,
                               "reason: %s", (VARIANTS["full-width, spaced"],), None)
    line = formatter.format(record)
    assert "1101**********002X" in line and "１９４９" not in line
