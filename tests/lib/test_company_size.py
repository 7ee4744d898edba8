"""A company size is read from the forms spreadsheets hold, as one whole number."""

from __future__ import annotations

import pytest

from leadflow.lib.company_size import parse_company_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("250", 250),
        ("  250 ", 250),
        ("1-10", 1),
        ("51-200", 51),
        ("51 - 200", 51),
        ("1–10", 1),  # en dash
        ("1—10", 1),  # em dash
        ("11 to 50", 11),
        ("1000+", 1000),
        ("10,001+", 10001),
        ("50 +", 50),
        (">500", 500),
        ("over 500", 500),
        ("500 or more", 500),
        ("1,000", 1000),
        ("1,000-5,000", 1000),
        ("1.000", 1000),  # a dot before three digits separates thousands
        ("12.500", 12500),
        ("10 000", 10000),
        ("10\u00a0000", 10000),  # no-break space, as a French spreadsheet writes it
        ("1'000", 1000),
        ("250.0", 250),  # a spreadsheet's float
        ("1,000.0", 1000),
        ("10k", 10000),
        ("1.5k", 1500),
        ("approx 50", 50),
        ("approx. 50", 50),
        ("about 1,000 staff", 1000),
        ("ca. 50", 50),
        ("~50", 50),
        ("200 employees", 200),
        ("1 employee", 1),
        ("1-10 Employees", 1),
        ("0", 0),
    ],
)
def test_a_size_in_a_usual_form_is_read_as_its_head_count_or_lower_bound(text, size):
    assert parse_company_size(text) == size


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "lots",
            '"lots" is not a company size: give a number of employees (250, 1,000) '
            "or a range (51-200, 1000+).",
        ),
        ("1.5", '"1.5" is not a whole number of employees.'),
        ("200-51", 'The range "200-51" runs backwards; put the smaller number first.'),
        ("-5", "Ensure this value is greater than or equal to 0."),
        ("20000000", "Ensure this value is less than or equal to 10000000."),
        ("10-Jan", '"10-Jan" is a date, not a company size'),
        ("5-", '"5-" is not a company size'),
        ("1,00", '"1,00" is not a whole number of employees.'),
    ],
)
def test_what_is_not_a_size_is_refused_with_what_to_write(text, message):
    with pytest.raises(ValueError) as refused:
        parse_company_size(text)
    assert str(refused.value).startswith(message)


def test_a_long_text_is_refused_before_any_pattern_reads_it():
    with pytest.raises(ValueError, match="is not a company size"):
        parse_company_size("1" + " " * 100_000 + "x")
