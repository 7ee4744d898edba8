"""The managers' partners page: each partner's leads, reporting and results, for all at once.

A fixed number of queries whatever the number of partners: the partners, their
leads' figures grouped by partner, this week's missing updates grouped by
partner, and their last reports grouped by partner. The figures:

- **open**: leads awaiting acceptance, accepted or sales-qualified;
- **missing**: leads owing this week's update without one (``missing_update``,
  the week read in the tenant's zone);
- **median acceptance**: the median time from assignment to acceptance of the
  leads it accepted;
- **win rate**: won / closed, closed being won, lost or postponed (no-shows and
  rejections never reached a sales outcome); ``None`` before the first close;
- **last report**: the latest weekly update the partner wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, F, Max, Q, QuerySet

from leadflow.lib import times
from leadflow.tenancy.models import Partner
from leadflow.tenancy.principal import Principal
from leads import stages as lead_stages
from leads.models import Lead, LeadStage, WeeklyUpdate
from leads.selectors.weekly import current_week, missing_update

CLOSED = (LeadStage.WON, LeadStage.LOST, LeadStage.POSTPONED)


class Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5)`` over an interval: the median duration."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


@dataclass
class PartnerRow:
    partner: Partner
    open_leads: int = 0
    missing: int = 0
    won: int = 0
    closed: int = 0
    median_acceptance: timedelta | None = None
    last_report_at: datetime | None = None

    @property
    def win_rate(self) -> float | None:
        """Won / closed (0–1), or ``None`` when nothing is closed yet."""
        return self.won / self.closed if self.closed else None


def _median_acceptances(partnered: QuerySet[Lead]) -> dict[int, timedelta]:
    """Each partner's median time to accept, worked out in Python (one query): for databases
    without ``percentile_cont`` (SQLite, which ``make run`` uses)."""
    durations: dict[int, list[timedelta]] = {}
    accepted = partnered.filter(accepted_at__isnull=False, assigned_at__isnull=False)
    for partner_id, accepted_at, assigned_at in accepted.values_list(
        "partner_id", "accepted_at", "assigned_at"
    ):
        if partner_id is not None and accepted_at is not None and assigned_at is not None:
            durations.setdefault(partner_id, []).append(accepted_at - assigned_at)
    return {partner_id: _median(found) for partner_id, found in durations.items()}


def _median(durations: list[timedelta]) -> timedelta:
    ordered = sorted(durations)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def partner_overview(*, principal: Principal) -> list[PartnerRow]:
    """Every partner of the tenant, by name, with its figures. Four queries (five on SQLite:
    the median acceptance time in Python)."""
    rows = {partner.pk: PartnerRow(partner=partner) for partner in Partner.objects.order_by("name")}
    partnered = Lead.objects.filter(partner_id__isnull=False)
    in_sql = connection.vendor == "postgresql"
    medians = {} if in_sql else _median_acceptances(partnered)
    figures = (
        partnered.order_by()
        .values("partner_id")
        .annotate(
            open_leads=Count("id", filter=Q(stage__in=lead_stages.OPEN)),
            won=Count("id", filter=Q(stage=LeadStage.WON)),
            closed=Count("id", filter=Q(stage__in=CLOSED)),
        )
    )
    if in_sql:
        figures = figures.annotate(
            median_acceptance=Median(
                F("accepted_at") - F("assigned_at"),
                filter=Q(accepted_at__isnull=False, assigned_at__isnull=False),
            )
        )
    for found in figures:
        row = rows.get(found["partner_id"])
        if row is not None:
            row.open_leads = found["open_leads"]
            row.won = found["won"]
            row.closed = found["closed"]
            row.median_acceptance = (
                found["median_acceptance"] if in_sql else medians.get(found["partner_id"])
            )
    tz = times.zone(principal.tenant.timezone)
    missing = (
        missing_update(partnered, week=current_week(tz), tz=tz)
        .order_by()
        .values("partner_id")
        .annotate(n=Count("id"))
    )
    for found in missing:
        if found["partner_id"] in rows:
            rows[found["partner_id"]].missing = found["n"]
    reports = (
        WeeklyUpdate.objects.filter(partner_id__isnull=False)
        .order_by()
        .values("partner_id")
        .annotate(last=Max("created_at"))
    )
    for found in reports:
        if found["partner_id"] in rows:
            rows[found["partner_id"]].last_report_at = found["last"]
    return list(rows.values())
