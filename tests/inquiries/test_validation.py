"""The shortcut for plain email addresses answers as Django's validate_email does."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from inquiries.services.validation import (
    _PLAIN_EMAIL_RE,
    clean_cell,
    clean_country,
    is_valid_email,
)

SAMPLES = [
    "buyer1.r0@company1.example",
    "Pat.O'Neil+fairs@Sub.Example.co.uk",
    "a@b.cd",
    "x@localhost",
    "x@example",
    "x@example.c",
    "x@-example.com",
    "x@example-.com",
    "x@exa_mple.com",
    "x@example..com",
    "x..y@example.com",
    ".x@example.com",
    "x.@example.com",
    "x y@example.com",
    '"quoted name"@example.com',
    "zoë@müller.de",
    "x@xn--mller-kva.de",
    "x@[127.0.0.1]",
    "x@example.com.",
    "@example.com",
    "x@",
    "x",
    "x@example.com\n",
    "x@" + "a" * 64 + ".com",
    "x@" + "a" * 63 + ".com",
    "x@example." + "c" * 64,
    "x@123.example.com",
    "x@example.123",
]


def django_says(text: str) -> bool:
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("text", SAMPLES)
def test_an_address_is_valid_exactly_when_django_says_so(text):
    assert is_valid_email(text) is django_says(text)


@pytest.mark.parametrize("text", [t for t in SAMPLES if _PLAIN_EMAIL_RE.fullmatch(t)])
def test_every_address_the_shortcut_takes_is_one_django_takes(text):
    assert django_says(text)


@pytest.mark.parametrize(("text", "code"), [("DE", "DE"), ("us", "US"), ("Gb", "GB"), ("AX", "AX")])
def test_an_assigned_country_code_is_taken_in_capitals(text, code):
    assert clean_country(text) == code


@pytest.mark.parametrize("text", ["XX", "UK", "EU", "ZZ", "D", "DEU", "Germany", "1A", ""])
def test_a_code_not_on_the_iso_3166_list_is_refused(text):
    with pytest.raises(ValueError, match="is not a country code"):
        clean_country(text)


def test_the_import_refuses_an_unassigned_country_code():
    with pytest.raises(ValueError, match="is not a country code"):
        clean_cell("country", "XX")
