"""Phone numbers compared as one person's number, the way people actually type them.

``030 1234567`` typed in Berlin and ``+49 30 1234567`` are the same number:
parsed with the maintained ``phonenumbers`` library against the tenant's
country (``Tenant.country``), both become ``+49301234567`` (E.164). Without
a country, a number without ``+`` (or ``00``) stays its digits.
"""

from __future__ import annotations

import re

import phonenumbers

_NOISE = re.compile(r"[\s().\-/]")


def _digits(raw: str) -> str:
    text = _NOISE.sub("", raw.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits.isdigit() or not 7 <= len(digits) <= 15:
        return ""
    return ("+" if plus else "") + digits


def normalize(raw: str, region: str = "") -> str:
    """E.164 (``+49301234567``) when the number parses; its digits otherwise; "" if unusable.

    ``region`` is the ISO 3166 country a number without ``+`` is read in (the
    tenant's). ``00`` before the country code counts as ``+``. Fewer than 7
    or more than 15 digits (the E.164 maximum), or letters, make the number
    unusable.
    """
    digits = _digits(raw)
    if not digits:
        return ""
    try:
        number = phonenumbers.parse(digits, region.upper() or None)
    except phonenumbers.NumberParseException:
        return digits
    if not phonenumbers.is_possible_number(number):
        return digits
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
