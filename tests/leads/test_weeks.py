"""``leadflow/lib/weeks.py``: ISO weeks named by their Monday, local midnights, business days."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from leadflow.lib import weeks

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("day", "monday"),
    [
        (date(2026, 12, 28), date(2026, 12, 28)),
        (date(2027, 1, 3), date(2026, 12, 28)),  # Sunday of 2026-W53, in the next year
        (date(2027, 1, 4), date(2027, 1, 4)),
        (date(2026, 1, 1), date(2025, 12, 29)),  # New Year's Day 2026 is in 2026-W01
    ],
)
def test_week_of_is_the_iso_weeks_monday(day, monday):
    assert weeks.week_of(day) == monday


def test_week_53_of_2026_is_labelled_and_parsed_both_ways():
    assert weeks.week_label(date(2026, 12, 28)) == "2026-W53"
    assert weeks.parse_week("2026-W53") == date(2026, 12, 28)
    assert weeks.parse_week("2027-01-02") == date(2026, 12, 28)


def test_the_first_week_of_2026_begins_in_2025():
    assert weeks.parse_week("2026-W01") == date(2025, 12, 29)
    assert weeks.week_label(date(2025, 12, 29)) == "2026-W01"


@pytest.mark.parametrize("text", ["2025-W53", "last week", "2026-13-01", ""])
def test_a_text_that_names_no_week_is_a_value_error(text):
    with pytest.raises(ValueError):
        weeks.parse_week(text)


def test_a_moment_belongs_to_the_local_week_not_the_utc_one():
    # Sunday 23:30 UTC on 25 October 2026 is Monday 00:30 in Berlin (winter time, UTC+1).
    moment = datetime(2026, 10, 25, 23, 30, tzinfo=UTC)
    assert weeks.week_of_moment(moment, UTC) == date(2026, 10, 19)
    assert weeks.week_of_moment(moment, BERLIN) == date(2026, 10, 26)


def test_the_week_of_the_spring_dst_change_is_167_hours_long():
    start, end = weeks.week_bounds(date(2026, 3, 23), BERLIN)
    assert (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == 167 * 3600
    assert start.utcoffset().total_seconds() == 3600 and end.utcoffset().total_seconds() == 7200


def test_the_week_of_the_autumn_dst_change_is_169_hours_long():
    start, end = weeks.week_bounds(date(2026, 10, 19), BERLIN)
    assert (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == 169 * 3600


def test_two_business_days_from_friday_afternoon_is_tuesday_afternoon():
    friday = datetime(2026, 12, 4, 15, tzinfo=UTC)
    assert weeks.add_business_days(friday, 2, UTC) == datetime(2026, 12, 8, 15, tzinfo=UTC)


def test_two_business_days_from_saturday_is_wednesday_midnight():
    saturday = datetime(2026, 12, 5, 11, tzinfo=UTC)
    assert weeks.add_business_days(saturday, 2, UTC) == datetime(2026, 12, 9, tzinfo=UTC)


def test_business_days_keep_the_local_time_across_new_year():
    thursday = datetime(2026, 12, 31, 9, tzinfo=BERLIN)
    assert weeks.add_business_days(thursday, 2, BERLIN) == datetime(2027, 1, 4, 9, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("day", "late"),
    [(2, False), (3, True), (4, True), (5, True), (6, True), (7, False)],
)
def test_thursday_on_is_in_the_last_two_business_days(day, late):
    # 2026-12-(day) at noon Berlin: Wednesday the 2nd … Monday the 7th.
    moment = datetime(2026, 12, day, 12, tzinfo=BERLIN)
    assert weeks.in_last_business_days(moment, BERLIN) is late
