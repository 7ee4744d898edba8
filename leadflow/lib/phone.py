"""Phone numbers compared by their digits, the way people actually type them."""

from __future__ import annotations

import re

_NOISE = re.compile(r"[\s().\-/]")


def normalize(raw: str) -> str:
    """Digits with a leading ``+`` kept ("+1 (555) 010-2000" → "+15550102000"); "" if unusable.

    ``00`` before the country code counts as ``+``. Fewer than 7 or more than
    15 digits (the E.164 maximum), or letters, make the number unusable.
    """
    text = _NOISE.sub("", raw.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits.isdigit() or not 7 <= len(digits) <= 15:
        return ""
    return ("+" if plus else "") + digits
