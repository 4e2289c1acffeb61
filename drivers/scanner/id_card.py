"""Resident ID numbers (GB 11643-1999): check-digit validation and the masked form.

A full number never leaves the kiosk process. Everything else — the bus, logs, screens, tickets,
voice — gets `mask()`: the first four and last four characters with the rest, birth date
included, hidden. That is also the form the bus contract accepts (`MaskedText`). To find the
citizen's appointment the kiosk sends `keyed_digest()` instead (docs/citizen-id-digest.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


class InvalidIdNumber(ValueError):
    """Not a valid resident ID number; the message never repeats the number."""


def check_digit(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def validate(number: str) -> str:
    """Return the number normalised (upper-case X); raise InvalidIdNumber if it is not valid."""
    number = number.strip().upper()
    if not _SHAPE.match(number):
        raise InvalidIdNumber("身份证号码格式不对 / not 17 digits followed by a digit or X")
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumber("身份证号码中的出生日期无效 / invalid birth date") from None
    if check_digit(number[:17]) != number[17]:
        raise InvalidIdNumber("身份证号码校验位不符 / check digit does not match")
    return number


def looks_like_id_number(text: str) -> bool:
    return bool(_SHAPE.match(text.strip().upper()))


def mask(number: str) -> str:
    """3301**********1234: region prefix and the last four only."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def keyed_digest(number: str, key: bytes) -> str:
    """HMAC-SHA256 of the validated, normalised number under the hall's key, lower-case hex.

    Keyed on purpose: a plain hash of an ID number is reversed by trying every number. About
    3,500 region codes × 36,500 birth dates × 1,000 sequence numbers is ~10^11 candidates (the
    check digit follows from the rest), minutes of work for one GPU, seconds once the region
    and rough age are known. Without the key the digest cannot be tested against a guess.
    """
    return hmac.new(key, validate(number).encode("ascii"), hashlib.sha256).hexdigest()
