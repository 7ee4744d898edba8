"""Weeks and business days in a tenant's time zone: the calendar the weekly update runs on.

A **week** is an ISO week (Monday to Sunday) and is named by its Monday: the
date an update's ``week`` stores. Its boundaries are the tenant's midnights,
so a lead's week does not depend on the server's zone or on who looks.
**Business days** are Monday to Friday in that zone (no holiday calendar yet).
Pure functions of dates and zones; nothing here reads the database.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

SATURDAY = 5  # date.weekday(): Monday 0 … Sunday 6


def week_of(day: date) -> date:
    """The Monday that starts ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def week_of_moment(moment: datetime, tz: tzinfo) -> date:
    """The Monday of the ISO week ``moment`` falls in, read in ``tz``."""
    return week_of(moment.astimezone(tz).date())


def week_label(monday: date) -> str:
    """``2026-W53`` (ISO year and week): how pages and the API name a week."""
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}"


def parse_week(text: str) -> date:
    """The Monday of ``2026-W53`` or of any date in it (``2026-12-31``); ValueError otherwise."""
    text = text.strip()
    if "-W" in text.upper():
        return date.fromisocalendar(int(text[:4]), int(text.upper().split("-W")[1][:2]), 1)
    return week_of(date.fromisoformat(text))


def week_bounds(monday: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The week's first and next week's first instant: local midnights in ``tz`` (DST-safe)."""
    start = datetime.combine(monday, time.min, tzinfo=tz)
    end = datetime.combine(monday + timedelta(days=7), time.min, tzinfo=tz)
    return start, end


def is_business_day(day: date) -> bool:
    return day.weekday() < SATURDAY


def add_business_days(moment: datetime, days: int, tz: tzinfo) -> datetime:
    """``days`` business days after ``moment``, at the same local time of day in ``tz``.

    A moment on a weekend counts from the next Monday's midnight: a lead booked
    on Saturday with 2 business days is due on Wednesday at 00:00, one booked on
    Friday at 15:00 on Tuesday at 15:00. The local time is kept across a DST
    change (the result is a wall-clock time in ``tz``).
    """
    local = moment.astimezone(tz)
    day, clock = local.date(), local.time().replace(tzinfo=None)
    if not is_business_day(day):
        while not is_business_day(day):
            day += timedelta(days=1)
        clock = time.min
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    return datetime.combine(day, clock, tzinfo=tz)


def in_last_business_days(moment: datetime, tz: tzinfo, count: int = 2) -> bool:
    """Whether ``moment`` falls within the last ``count`` business days of its week (or after).

    With 2: Thursday, Friday and the weekend. A lead assigned then owes no
    update for that week — its owner had too little of it.
    """
    weekday = moment.astimezone(tz).weekday()
    return weekday >= SATURDAY - count
