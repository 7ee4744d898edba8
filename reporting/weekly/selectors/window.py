"""Which week a report is about: parsing ``YYYY-Www``, the tenant's weeks, one week's window.

The week is an ISO week in the tenant's time zone: from Monday's local
midnight to the next Monday's (DST-safe, ``leadflow/lib/weeks.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from django.db import connection
from django.utils import timezone

from leadflow.lib import times, weeks
from leadflow.tenancy.models import Tenant
from leads.selectors.weekly import owed_cutoff

FIRST_YEAR = 1970  # no report is older; earlier years only invite date overflows
WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")


class BadWeek(ValueError):
    """A week parameter that is malformed or names no ISO week (``2026-W60``)."""


def parse_week(text: str) -> date:
    """The Monday of ``YYYY-Www``; :class:`BadWeek` if malformed or the week does not exist."""
    match = WEEK_PATTERN.match(text.strip())
    if match is None:
        raise BadWeek("Give the week as YYYY-Www, e.g. 2026-W49.")
    year, number = int(match.group(1)), int(match.group(2))
    if year < FIRST_YEAR:
        raise BadWeek(f"Give a week from {FIRST_YEAR} on.")
    try:
        return date.fromisocalendar(year, number, 1)
    except ValueError:
        raise BadWeek(f"{year} has no ISO week {number}.") from None


def tenant_zone(tenant: Tenant) -> tzinfo:
    return times.zone(tenant.timezone or "UTC")


def current_week(tz: tzinfo, at: datetime | None = None) -> date:
    """The Monday of the week ``at`` (default now) falls in, in ``tz``."""
    return weeks.week_of_moment(at or timezone.now(), tz)


def last_week(tenant: Tenant) -> date:
    """The Monday of the last complete week in the tenant's time zone (the default report)."""
    return current_week(tenant_zone(tenant)) - timedelta(weeks=1)


@dataclass(frozen=True)
class Window:
    """What the figures of one week read: its instants, its quarter, its missing-update cutoff."""

    week: date
    start: datetime
    end: datetime
    quarter_start: datetime
    year: int
    quarter: int
    cutoff: datetime

    @classmethod
    def of(cls, week: date, tz: tzinfo) -> Window:
        start, end = weeks.week_bounds(week, tz)
        quarter = (week.month - 1) // 3 + 1
        first = date(week.year, 3 * quarter - 2, 1)
        return cls(
            week=week,
            start=start,
            end=end,
            quarter_start=datetime.combine(first, time.min, tzinfo=tz),
            year=week.year,
            quarter=quarter,
            cutoff=owed_cutoff(week, tz),
        )

    def params(self, tenant_id: int) -> dict[str, Any]:
        """The query's parameters, adapted as the backend stores them (SQLite: UTC text)."""
        moment = connection.ops.adapt_datetimefield_value
        return {
            "tenant": tenant_id,
            "week": connection.ops.adapt_datefield_value(self.week),
            "start": moment(self.start),
            "end": moment(self.end),
            "qstart": moment(self.quarter_start),
            "year": self.year,
            "quarter": self.quarter,
            "cutoff": moment(self.cutoff),
        }
