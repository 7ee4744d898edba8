"""Comma-separated row ids in a query string (``?ids=1,2,3``), as the OpenAPI schema states them."""

from __future__ import annotations

import re

# Up to 18 digits: every such number is a valid bigint id.
_ID = "[1-9][0-9]{0,17}"


def ids_pattern(*, at_most: int) -> str:
    """The JSON-schema pattern of 1 to ``at_most`` comma-separated ids."""
    return f"^{_ID}(,{_ID}){{0,{at_most - 1}}}$"


def parse_ids(text: str, *, at_most: int) -> list[int] | None:
    """The ids of ``text`` in order, or None unless it matches :func:`ids_pattern`."""
    if not re.fullmatch(ids_pattern(at_most=at_most), text):
        return None
    return [int(part) for part in text.split(",")]
