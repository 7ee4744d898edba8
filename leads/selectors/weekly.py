"""Which open leads owe their owner's weekly update: one set-based query, whatever the count.

A lead is **open** (owes updates) when accepted or SQL. It is **missing** for a
week when it has no update for that week — unless its current owner got it
within the week's last two business days (Thursday on, tenant time), or after
the week. Boundaries are the tenant's midnights (``leadflow/lib/weeks.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
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


def reported_mask(window: list[PastWeek]) -> Coalesce:
    """One integer a lead: bit ``i`` set when it has an update for ``window[i]``.

    A correlated subquery on the updates' (tenant, lead, week) index: one
    probe a lead, one integer back instead of every update row. ``SUM(DISTINCT
    …)`` of each week's own power of two counts a week once however many
    updates it has; plain SQL, so SQLite (``make run``) runs it too.
    """
    bit = Case(
        *[When(week=past.monday, then=Value(1 << i)) for i, past in enumerate(window)],
        default=Value(0),
        output_field=IntegerField(),
    )
    mask = (
        WeeklyUpdate.objects.filter(
            lead_id=OuterRef("pk"), week__gte=window[0].monday, week__lte=window[-1].monday
        )
        .order_by()
        .values("lead_id")
        .annotate(mask=Sum(bit, distinct=True))
        .values("mask")
    )
    return Coalesce(Subquery(mask, output_field=IntegerField()), Value(0))


def late_weeks(
    assigned_at: datetime | None,
    accepted_at: datetime | None,
    reported: int,
    window: list[PastWeek],
) -> list[date]:
    """The weeks of ``window`` a lead owed and has no update for (``reported_mask``), oldest first.

    Owed: assigned before the week's Thursday and not accepted only after the
    week ended (``owed_in_past_week``, My week's rule for its backlog).
    """
    if assigned_at is None:
        return []
    return [
        past.monday
        for i, past in enumerate(window)
        if not reported >> i & 1 and owed_in_past_week(assigned_at, accepted_at, past)
    ]
