"""Which open leads owe their owner's weekly update: one set-based query, whatever the count.

A lead is **open** (owes updates) when accepted or SQL. It is **missing** for a
week when it has no update for that week — unless its current owner got it
within the week's last two business days (Thursday on, tenant time), or after
the week. Boundaries are the tenant's midnights (``leadflow/lib/weeks.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from leadflow.lib import weeks
from leads.models import REPORTED_STAGES, Lead, WeeklyUpdate

# Assigned from this day of the week on (Thursday: the last two business days), no update is owed.
EXEMPT_FROM_WEEKDAY = 3


def current_week(tz: tzinfo, at: datetime | None = None) -> date:
    """The Monday of the week ``at`` (default now) falls in, in ``tz``."""
    return weeks.week_of_moment(at or timezone.now(), tz)


def owed_cutoff(week: date, tz: tzinfo) -> datetime:
    """Leads assigned before this instant owe an update for ``week``."""
    return datetime.combine(week + timedelta(days=EXEMPT_FROM_WEEKDAY), time.min, tzinfo=tz)


def has_update_for(week: date) -> Exists:
    """``EXISTS`` an update of the outer lead for ``week`` (annotate or filter with it)."""
    return Exists(WeeklyUpdate.objects.filter(lead_id=OuterRef("pk"), week=week))


def owing_update(leads: QuerySet[Lead], *, week: date, tz: tzinfo) -> QuerySet[Lead]:
    """The leads of ``leads`` that owe an update for ``week`` (reported or not)."""
    return leads.filter(stage__in=REPORTED_STAGES, assigned_at__lt=owed_cutoff(week, tz))


def missing_update(leads: QuerySet[Lead], *, week: date, tz: tzinfo) -> QuerySet[Lead]:
    """The leads of ``leads`` that owe an update for ``week`` and have none: one query.

    For the current week (or later) it reads the lead's ``last_update_week``
    alone: no update is ever for a future week, so a lead whose latest update
    is before ``week`` has none for it. An earlier week (a backlog) probes the
    updates themselves.
    """
    owing = owing_update(leads, week=week, tz=tz)
    if week >= current_week(tz):
        return owing.filter(Q(last_update_week__isnull=True) | Q(last_update_week__lt=week))
    return owing.filter(~has_update_for(week))


# --- The late backlog, for every owner at once (the Monday digest) ------------------------

# How far back the backlog looks (as My week's ``BACKLOG_WEEKS``).
LATE_WEEKS = 8


def late_window(week: date) -> list[date]:
    """The ``LATE_WEEKS`` Mondays before ``week``, oldest first."""
    return [week - timedelta(weeks=n) for n in range(LATE_WEEKS, 0, -1)]


@dataclass(frozen=True)
class PastWeek:
    """A past week and the two instants that decide whether a lead owed its update."""

    monday: date
    cutoff: datetime  # ``owed_cutoff``: assigned before it, the update was owed
    ends: datetime  # the next Monday's midnight: accepted only after it, it was not


def past_weeks(week: date, tz: tzinfo) -> list[PastWeek]:
    """``late_window(week)`` with each week's instants in ``tz``, computed once for all leads."""
    return [
        PastWeek(monday, owed_cutoff(monday, tz), weeks.week_bounds(monday, tz)[1])
        for monday in late_window(week)
    ]


def owed_in_past_week(assigned_at: datetime, accepted_at: datetime | None, past: PastWeek) -> bool:
    """Whether a lead (now accepted or SQL) owed its owner's update for the past week.

    Assigned before that week's Thursday (tenant time), and not accepted only after it
    ended — My week's rule for its backlog.
    """
    if assigned_at >= past.cutoff:
        return False
    return accepted_at is None or accepted_at < past.ends


def updates_in(leads: QuerySet[Lead], *, since: date, before: date) -> QuerySet[Any]:
    """``(lead_id, week)`` of the updates of ``leads`` for the weeks ``since`` to before ``before``.

    One query whatever the number of leads (``leads`` is a subquery); with
    ``weeks_by_lead`` the gaps are then found in Python on any database,
    SQLite included.
    """
    return (
        WeeklyUpdate.objects.filter(
            lead_id__in=leads.order_by().values("pk"), week__gte=since, week__lt=before
        )
        .order_by()  # not the model's (week, created_at, id): nothing reads an order here
        .values_list("lead_id", "week")
    )


def weeks_by_lead(rows: Iterable[tuple[int, date]]) -> dict[int, set[date]]:
    """``updates_in``'s rows as each lead's set of reported weeks."""
    found: dict[int, set[date]] = {}
    for lead_id, monday in rows:
        found.setdefault(lead_id, set()).add(monday)
    return found


def late_weeks(lead: Lead, reported: set[date], window: list[PastWeek]) -> list[date]:
    """The weeks of ``window`` ``lead`` owed and has no update for, oldest first."""
    if lead.assigned_at is None:
        return []
    assigned_at, accepted_at = lead.assigned_at, lead.accepted_at
    return [
        past.monday
        for past in window
        if past.monday not in reported and owed_in_past_week(assigned_at, accepted_at, past)
    ]
