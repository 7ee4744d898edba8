"""The rules a value of an inquiry's profile must meet, in one place.

The API's ``InquiryInput`` serializer reads its limits from here and the CSV
import checks each cell with ``clean_cell``, so a value the API refuses is
refused by the import with the same message, and the other way round. The
identity rule and the phone rule live with capture (``capture._normalized``),
custom-field values with ``custom_fields.clean_custom_values``.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta
from typing import Any

import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from inquiries.models import RECORDABLE_ACTIVITY_KINDS, Consent, Outcome, Source, Timeline
from leadflow.lib.company_size import parse_company_size

MAX_LENGTHS = {
    "first_name": 100,
    "last_name": 100,
    "email": 254,
    "phone": 40,
    "title": 200,
    "company": 200,
    "industry": 100,
    "region": 100,
    "interest": 200,
    "external_source": 50,
    "external_id": 100,
}
COUNTRY_MESSAGE = "Use a two-letter ISO 3166-1 country code, e.g. DE, US or GB."
NULL_MESSAGE = "Null characters are not allowed."
CHOICES: dict[str, list[tuple[str, str]]] = {
    "timeline": list(Timeline.choices),
    "source": list(Source.choices),
    "consent": list(Consent.choices),
    "outcome": list(Outcome.choices),
}
# An activity may be recorded up to this far ahead (clock skew), never later.
FUTURE_SLACK = timedelta(minutes=5)
ACTIVITY_KINDS = frozenset(kind for kind, _label in RECORDABLE_ACTIVITY_KINDS)
# Plain addresses (ASCII dot-atom at a dotted host name), a subset of what Django's
# validate_email accepts: they pass at once; anything else is asked of Django. One
# regular expression instead of Django's two with their Unicode ranges (0.6 s per
# 100,000 imported rows).
_PLAIN_EMAIL_RE = re.compile(
    r"[-!#$%&'*+/=?^_`{}|~0-9a-z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9a-z]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    re.IGNORECASE,
)

# The standard fields a cell of an imported file may fill.
CELL_FIELDS = (
    *MAX_LENGTHS,
    "company_size",
    "country",
    "timeline",
    "source",
    "consent",
)


def is_valid_email(text: str) -> bool:
    """Django's ``validate_email``, answered without it for a plain address."""
    if _PLAIN_EMAIL_RE.fullmatch(text):
        return True
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


@functools.cache
def country_codes() -> frozenset[str]:
    """The ISO 3166-1 alpha-2 codes of pycountry's maintained list (read once)."""
    return frozenset(country.alpha_2 for country in pycountry.countries)


def clean_country(text: str) -> str:
    """An assigned ISO 3166-1 alpha-2 code, in capitals; ValueError with the message.

    Every door that takes a country (the API, the public form, the import)
    asks this, so "XX" or "UK" is refused the same way everywhere.
    """
    code = text.strip().upper()
    if code not in country_codes():
        shown = text.strip()[:20]
        hint = " The United Kingdom is GB." if code == "UK" else ""
        raise ValueError(f'"{shown}" is not a country code. {COUNTRY_MESSAGE}{hint}')
    return code


def clean_cell(field: str, text: str) -> Any:
    """The typed value of one non-empty cell for a standard field; ValueError with the message.

    Text is taken as given (trimmed): a cell starting with ``=`` stays text.
    """
    if "\x00" in text:
        raise ValueError(NULL_MESSAGE)
    if field in MAX_LENGTHS:
        limit = MAX_LENGTHS[field]
        if len(text) > limit:
            raise ValueError(f"Ensure this field has no more than {limit} characters.")
        if field == "email" and not is_valid_email(text):
            raise ValueError("Enter a valid email address.")
        return text
    if field == "company_size":
        return clean_company_size(text)
    if field == "country":
        return clean_country(text)
    if field in CHOICES:
        return clean_choice(field, text)
    raise ValueError(f"Unknown field {field!r}.")


def clean_company_size(text: str) -> int:
    """A head count or a size band as spreadsheets write them (``leadflow.lib.company_size``)."""
    return parse_company_size(text)


def clean_choice(field: str, text: str) -> str:
    """One of the field's choices, given by value or label, in any case."""
    wanted = text.lower()
    for value, label in CHOICES[field]:
        if wanted in (value.lower(), str(label).lower()):
            return value
    return _invalid_choice(text)


def _invalid_choice(text: str) -> str:
    raise ValueError(f'"{text}" is not a valid choice.')


def clean_activity_time(text: str) -> datetime:
    """When an imported activity happened: an ISO 8601 date or date and time, not in the future.

    A time without a zone is read in the project's time zone; a date alone is midnight.
    """
    if "\x00" in text:
        raise ValueError(NULL_MESSAGE)
    iso = text.replace("/", "-")
    try:
        when = parse_datetime(iso)
        day = None if when else parse_date(iso)
    except ValueError:
        when = day = None
    if when is None:
        if day is None:
            raise ValueError("Give a date as YYYY-MM-DD, or a date and time as YYYY-MM-DD HH:MM.")
        when = datetime(day.year, day.month, day.day, tzinfo=timezone.get_default_timezone())
    if timezone.is_naive(when):
        # The project's zone (cached), not the request's: an import runs on a worker.
        when = timezone.make_aware(when, timezone.get_default_timezone())
    if when > timezone.now() + FUTURE_SLACK:
        raise ValueError("An activity cannot happen in the future.")
    return when
