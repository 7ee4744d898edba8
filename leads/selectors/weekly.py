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
    BigIntegerField,
    Case,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import Combinable, CombinedExpression
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


def reported_in_window(week: date) -> Case:
    """From the lead row alone: bit ``i`` set when it has an update for the week ``i`` weeks
    before ``week`` (``i`` = 1 … ``LATE_WEEKS``; bit 0 is ``week`` itself).

    ``Lead.reported_weeks`` counts back from ``last_update_week``; shifted left by
    the weeks between that and ``week`` it counts back from ``week``. A lead last
    reported before the window has no update in it. No updates are read.
    """
    return Case(
        *[
            When(
                last_update_week=week - timedelta(weeks=gap),
                then=F("reported_weeks").bitleftshift(gap) if gap else F("reported_weeks"),
            )
            for gap in range(LATE_WEEKS + 1)
        ],
        default=Value(0),
        output_field=BigIntegerField(),
    )


def owed_in_window(window: list[PastWeek]) -> Case | Value:
    """Bit ``i`` set when the lead owed an update for the week ``i`` weeks before the window's
    end (My week's rule for its backlog, in SQL: assigned before its Thursday, and not accepted
    only after it ended). Owed weeks run back from the newest, so it is one ``CASE``."""
    newest_first = list(reversed(window))
    terms = []
    for oldest in range(len(newest_first), 0, -1):
        past = newest_first[oldest - 1]
        owed = Q(assigned_at__lt=past.cutoff) & (
            Q(accepted_at__isnull=True) | Q(accepted_at__lt=past.ends)
        )
        # Weeks 1 … ``oldest`` back: bits 1 … oldest.
        terms.append(When(owed, then=Value(((1 << oldest) - 1) << 1)))
    if not terms:
        return Value(0)
    return Case(*terms, default=Value(0), output_field=BigIntegerField())


def missed_in_window(week: date, window: list[PastWeek]) -> CombinedExpression:
    """Bit ``i`` set when the lead owed the week ``i`` weeks before ``week`` and has no
    update for it: ``owed & ~reported``, from the lead row alone."""
    # ``owed & ~reported``: the owed ``CASE`` written (and evaluated) once.
    not_reported = Func(
        reported_in_window(week), template="~(%(expressions)s)", output_field=BigIntegerField()
    )
    return CombinedExpression(
        owed_in_window(window), Combinable.BITAND, not_reported, output_field=BigIntegerField()
    )


def late_weeks(missed: int, week: date) -> list[date]:
    """The weeks of ``missed_in_window``'s mask (bit ``i``: ``i`` weeks before ``week``),
    oldest first."""
    return [week - timedelta(weeks=back) for back in range(LATE_WEEKS, 0, -1) if missed >> back & 1]
