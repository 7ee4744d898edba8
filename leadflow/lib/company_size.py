"""Company size as spreadsheets, forms and CRMs write it, read as one whole number.

Every door (the API, the public form, the CSV import) reads a size with
``parse_company_size``, so all of them accept the same forms:

* a head count: ``250``, with thousands separators ``1,000`` ``10 000``
  ``1'000`` ``1.000``, a spreadsheet's float ``250.0``, thousands ``10k``
  ``1.5k``;
* a band: ``1-10``, ``51 - 200``, ``1–10`` (en or em dash), ``11 to 50``;
* an open band: ``1000+``, ``>500``, ``over 500``, ``500 or more``;
* an estimate: ``approx 50``, ``about 50``, ``ca. 50``, ``~50``;
* any of these followed by ``employees``, ``staff`` or ``people``.

The number stored is the head count, or the **lower bound** of a band: the
company has at least that many people, so a scoring rule on a size range
(``[50, 5000]``) or a minimum gives the answer the band supports (``51-200``
is 51 and falls in 50–5,000; ``5001-10000`` is 5,001 and does not; ``1000+``
is 1,000). An estimate is taken at its number.

A dot followed by exactly three digits separates thousands (``1.000`` is
one thousand, as German, Dutch or Brazilian spreadsheets write it): a head
count is a whole number, so ``1.000`` cannot mean one. Any other fraction
(``1.5``) is refused, except a spreadsheet's trailing zeros (``250.0``) and
thousands (``1.5k``).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

COMPANY_SIZE_MIN = 0
COMPANY_SIZE_MAX = 10_000_000
MAX_TEXT = 60

_PLAIN = re.compile(r"\d{1,9}")
_COMMAS = re.compile(r"\d{1,3}(?:,\d{3}){1,2}")
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2019": "'"})
_WORDS = re.compile(r"\s*(?:employees?|staff|people|persons|heads|ftes?)\.?\s*$")
_ESTIMATE = re.compile(r"^(?:approx(?:imately|\.)?|about|around|roughly|circa|ca\.?|c\.|~|≈)\s*")
_AT_LEAST_BEFORE = re.compile(r"^(?:>=?|≥|over|more than|at least)\s*")
_AT_LEAST_AFTER = re.compile(r"\s*(?:\+|or more|and more|and above)$")
_RANGE = re.compile(r"\s*(?:[-–—−‑]|\bto\b)\s*")
_GROUPED = re.compile(r"\d{1,3}(?P<sep>[,.' ])\d{3}(?:(?P=sep)\d{3})*(?P<zeros>[.,]0+)?")
_WHOLE = re.compile(r"\d+(?:\.0+)?")
_THOUSANDS = re.compile(r"(\d+(?:[.,]\d+)?)\s*k")
_FRACTION = re.compile(r"\d+[.,]\d+")
_NEGATIVE = re.compile(r"-\s*\d[\d,.' ]*")
_MONTH = re.compile(r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec")


def parse_company_size(text: str) -> int:
    """The number of employees a cell or a form field says; ValueError with what is wrong."""
    text = text.strip()
    if _PLAIN.fullmatch(text):  # what most cells hold, answered at once
        return _bounded(int(text))
    if _COMMAS.fullmatch(text):
        return _bounded(int(text.replace(",", "")))
    if "\x00" in text:
        raise ValueError("Null characters are not allowed.")
    shown = text[:40]
    if len(text) > MAX_TEXT:  # no size is written longer; the patterns never see a long text
        raise ValueError(f'"{shown}…" is not a company size: give a number of employees.')
    body = text.lower().translate(_SPACES)
    body = _WORDS.sub("", body)
    body = _ESTIMATE.sub("", body)
    open_ended = False
    for pattern in (_AT_LEAST_BEFORE, _AT_LEAST_AFTER):
        body, found = pattern.subn("", body)
        open_ended = open_ended or bool(found)
    body = body.strip()
    if _NEGATIVE.fullmatch(body):
        raise ValueError(f"Ensure this value is greater than or equal to {COMPANY_SIZE_MIN}.")
    parts = _RANGE.split(body)
    if len(parts) == 1:
        low = _count(parts[0])
    elif len(parts) == 2 and not open_ended:
        low, high = _count(parts[0]), _count(parts[1])
        if high is None:
            low = None
        elif low is not None and low > high:
            raise ValueError(f'The range "{shown}" runs backwards; put the smaller number first.')
    else:
        low = None
    if low is None:
        if _FRACTION.fullmatch(body):
            raise ValueError(f'"{shown}" is not a whole number of employees.')
        if _MONTH.search(body):
            raise ValueError(
                f'"{shown}" is a date, not a company size: a spreadsheet turns a band such '
                "as 1-10 into a date. Format the column as text and export the file again."
            )
        raise ValueError(
            f'"{shown}" is not a company size: give a number of employees (250, 1,000) '
            "or a range (51-200, 1000+)."
        )
    return _bounded(low)


def _count(text: str) -> int | None:
    """A whole number written with or without thousands separators, or None."""
    if text.isdigit():
        return int(text)
    grouped = _GROUPED.fullmatch(text)
    if grouped:
        zeros = grouped["zeros"]
        # "1,000.0" and "1.000,0" carry zeros after the decimal mark; "1,000,0" does not.
        if zeros and zeros[0] == grouped["sep"]:
            return None
        digits = text[: len(text) - len(zeros)] if zeros else text
        return int(re.sub(r"\D", "", digits))
    if _WHOLE.fullmatch(text):
        return int(text.split(".")[0])
    thousands = _THOUSANDS.fullmatch(text)
    if thousands:
        try:
            number = Decimal(thousands[1].replace(",", ".")) * 1000
        except InvalidOperation:
            return None
        return int(number) if number == number.to_integral_value() else None
    return None


def _bounded(number: int) -> int:
    if number < COMPANY_SIZE_MIN:
        raise ValueError(f"Ensure this value is greater than or equal to {COMPANY_SIZE_MIN}.")
    if number > COMPANY_SIZE_MAX:
        raise ValueError(f"Ensure this value is less than or equal to {COMPANY_SIZE_MAX}.")
    return number
