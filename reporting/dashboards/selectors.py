"""The dashboards' figures, read from the rollups, and the rows behind each figure.

Every dashboard is a handful of queries over the rollup tables whatever the
tenant's size (tested); every figure names a ``metric`` whose rows
(:func:`metric_rows`) are selected from the base tables with the same
definition (``facts.py``), so a rows page's count equals its tile once the
refresh has run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from inquiries.models import Campaign, Inquiry
from leadflow.lib import program_funnels, weeks
from leadflow.tenancy.models import Partner, PartnerStatus, Tenant, User
from leads.models import REPORTED_STAGES, Lead, LeadSettings, LeadStage, Target
from nurture.models import Enrollment, NurtureProgram
from reporting.dashboards import facts
from reporting.dashboards.models import (
    OPEN_STAGES,
    FunnelRollup,
    OwnerKind,
    StageTimeRollup,
)

CLOSED_WITH_OUTCOME = (LeadStage.WON, LeadStage.LOST, LeadStage.POSTPONED)
STEP_LABELS = {
    "inquiries": "Inquiry",
    "mqls": "MQL",
    "leads": "Lead (appointment)",
    "sals": "SAL (accepted)",
    "sqls": "SQL",
    "won": "Won",
}
STEP_TIMED = {"inquiries": "inquiry", "mqls": "mql", "leads": "lead", "sals": "sal", "sqls": "sql"}
# The articles' figures the nurture dashboard is read against.
NURTURED_BENCHMARK = (Decimal("0.15"), Decimal("0.20"))
NOT_NURTURED_BENCHMARK = (Decimal("0.08"), Decimal("0.10"))
# Touches per closed lead, bucketed: 0–7 one by one, then the 8–12 buyers need, then more.
TOUCH_BUCKETS = ("0", "1", "2", "3", "4", "5", "6", "7", "8-12", "13+")
STALE_DAYS_DEFAULT = 14


@dataclass(frozen=True)
class Scope:
    """Whose figures over which days: the period in the tenant's zone, filters, visibility."""

    tenant: Tenant
    tz: tzinfo
    first: date
    last: date
    source: str | None = None
    campaign_id: int | None = None
    partner_id: int | None = None
    rep_id: int | None = None
    include_history: bool = False
    program_id: int | None = None
    now: datetime = field(default_factory=timezone.now)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return facts.day_bounds(self.first, self.last, self.tz)

    def cohort(self, rows: QuerySet[Any], *, dims: bool = True) -> QuerySet[Any]:
        """Rollup (or annotated inquiry) rows of the period and the filters."""
        rows = rows.filter(day__range=(self.first, self.last))
        if self.source:
            rows = rows.filter(source=self.source)
        if self.campaign_id:
            rows = rows.filter(campaign_id=self.campaign_id)
        return rows


def _rollup_filter(rows: QuerySet[Any], scope: Scope) -> QuerySet[Any]:
    rows = scope.cohort(rows)
    if scope.partner_id:
        rows = rows.filter(partner_id=scope.partner_id)
    if scope.rep_id:
        rows = rows.filter(rep_id=scope.rep_id)
    return rows


def _rate(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"))


def _money(amount: Decimal | int | None) -> Decimal:
    return Decimal(amount or 0).quantize(Decimal("0.01"))


def weighted_median(histogram: Iterable[tuple[int, int]]) -> Decimal | None:
    """The median of values given as (value, how many), the two middles averaged."""
    pairs = sorted((value, n) for value, n in histogram if n)
    total = sum(n for _v, n in pairs)
    if not total:
        return None
    wanted = [(total - 1) // 2, total // 2]
    found: list[int] = []
    seen = 0
    for value, n in pairs:
        while wanted and wanted[0] < seen + n:
            found.append(value)
            wanted.pop(0)
        seen += n
    return (Decimal(found[0] + found[1]) / 2).quantize(Decimal("0.1"))


# --- Funnel -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    count: int
    rate_from_previous: Decimal | None
    rate_from_inquiry: Decimal | None
    median_days: Decimal | None


@dataclass(frozen=True)
class Funnel:
    steps: list[Step]
    value_won: Decimal
    history_won: int
    include_history: bool


SUMS = (*facts.FUNNEL_STEPS, "value_won", "history_won", "nurtured", "nurtured_won")


def _totals(rows: QuerySet[Any]) -> dict[str, Any]:
    found = rows.aggregate(**{name: Sum(name) for name in SUMS})
    return {name: found[name] or 0 for name in SUMS}


def funnel(scope: Scope) -> Funnel:
    """Inquiry → MQL → lead → SAL → SQL → won for the period's cohort: two queries."""
    totals = _totals(_rollup_filter(FunnelRollup.objects.all(), scope))
    history = totals["history_won"] if scope.include_history else 0
    medians: dict[str, list[tuple[int, int]]] = {}
    timed = (
        _rollup_filter(StageTimeRollup.objects.all(), scope)
        .values("stage", "days")
        .annotate(n=Sum("records"))
        .order_by()
    )
    for row in timed:
        medians.setdefault(row["stage"], []).append((row["days"], row["n"]))
    steps: list[Step] = []
    first = totals["inquiries"]
    previous: int | None = None
    for key in facts.FUNNEL_STEPS:
        count = totals[key] + (history if key != "inquiries" else 0)
        stage = STEP_TIMED.get(key)
        steps.append(
            Step(
                key=key,
                label=STEP_LABELS[key],
                count=count,
                rate_from_previous=_rate(count, previous) if previous is not None else None,
                rate_from_inquiry=_rate(count, first) if key != "inquiries" else None,
                median_days=weighted_median(medians.get(stage, [])) if stage else None,
            )
        )
        previous = count
    return Funnel(
        steps=steps,
        value_won=_money(totals["value_won"]),
        history_won=totals["history_won"],
        include_history=scope.include_history,
    )


# --- ROI ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignRoi:
    campaign_id: int | None
    name: str
    spend: Decimal
    inquiries: int
    mqls: int
    leads: int
    won: int
    value_won: Decimal
    # Marketing's formulas: leads per 1,000 of spend; cost per inquiry, MQL, lead, win.
    leads_per_1000: Decimal | None
    cost_per_inquiry: Decimal | None
    cost_per_mql: Decimal | None
    cost_per_lead: Decimal | None
    cost_per_win: Decimal | None
    # Sales' formula: won ÷ leads.
    win_rate: Decimal | None


@dataclass(frozen=True)
class Roi:
    campaigns: list[CampaignRoi]
    total: CampaignRoi
    target_value: Decimal | None
    value_to_target: Decimal | None
    include_history: bool


def _cost(spend: Decimal, count: int) -> Decimal | None:
    return _money(spend / count) if count and spend else None


def _campaign_roi(
    campaign_id: int | None, name: str, spend: Decimal, row: dict[str, Any], history: bool
) -> CampaignRoi:
    extra = row["history_won"] if history else 0
    mqls, leads, won = row["mqls"] + extra, row["leads"] + extra, row["won"] + extra
    return CampaignRoi(
        campaign_id=campaign_id,
        name=name,
        spend=_money(spend),
        inquiries=row["inquiries"],
        mqls=mqls,
        leads=leads,
        won=won,
        value_won=_money(row["value_won"]),
        leads_per_1000=(Decimal(leads) * 1000 / spend).quantize(Decimal("0.01")) if spend else None,
        cost_per_inquiry=_cost(spend, row["inquiries"]),
        cost_per_mql=_cost(spend, mqls),
        cost_per_lead=_cost(spend, leads),
        cost_per_win=_cost(spend, won),
        win_rate=_rate(won, leads),
    )


def quarters_of(first: date, last: date) -> list[tuple[int, int]]:
    """The (year, quarter) pairs the days from ``first`` to ``last`` touch."""
    found: list[tuple[int, int]] = []
    year, quarter = first.year, (first.month - 1) // 3 + 1
    while (year, quarter) <= (last.year, (last.month - 1) // 3 + 1):
        found.append((year, quarter))
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return found


def roi(scope: Scope) -> Roi:
    """Both departments' formulas per campaign, side by side: four queries.

    Spend is the campaign's whole spend (``Campaign.spend`` is not dated); the
    target is the sum of the value targets of reps and partners (teams'
    targets would count them twice) for the quarters the period touches.
    """
    per_campaign = {
        row["campaign_id"]: row
        for row in _rollup_filter(FunnelRollup.objects.all(), scope)
        .values("campaign_id")
        .annotate(**{name: Sum(name) for name in SUMS})
        .order_by()
    }
    campaigns = Campaign.objects.all()
    if scope.campaign_id:
        campaigns = campaigns.filter(pk=scope.campaign_id)
    known = {c.pk: c for c in campaigns.only("id", "name", "spend")}
    empty = dict.fromkeys(SUMS, 0)
    rows: list[CampaignRoi] = []
    for pk, campaign in sorted(known.items(), key=lambda item: item[1].name.lower()):
        rows.append(
            _campaign_roi(
                pk,
                campaign.name,
                campaign.spend,
                per_campaign.get(pk, empty),
                scope.include_history,
            )
        )
    if None in per_campaign:
        rows.append(
            _campaign_roi(
                None, "No campaign", Decimal(0), per_campaign[None], scope.include_history
            )
        )
    summed = {name: sum((r[name] for r in per_campaign.values()), 0) for name in SUMS}
    spend = sum((c.spend for c in known.values()), Decimal(0))
    total = _campaign_roi(None, "All campaigns", spend, summed, scope.include_history)
    targets = Q()
    for year, quarter in quarters_of(scope.first, scope.last):
        targets |= Q(year=year, quarter=quarter)
    owners = Target.objects.filter(targets, team__isnull=True)
    if scope.rep_id:
        owners = owners.filter(rep_id=scope.rep_id)
    if scope.partner_id:
        owners = owners.filter(partner_id=scope.partner_id)
    target_value = owners.aggregate(total=Sum("value"))["total"]
    return Roi(
        campaigns=rows,
        total=total,
        target_value=_money(target_value) if target_value is not None else None,
        value_to_target=_rate(total.value_won, target_value) if target_value else None,
        include_history=scope.include_history,
    )


# --- Nurture effect -----------------------------------------------------------------------


@dataclass(frozen=True)
class NurtureMonth:
    month: date
    nurtured: int
    nurtured_won: int
    never: int
    never_won: int
    nurtured_rate: Decimal | None
    never_rate: Decimal | None


@dataclass(frozen=True)
class NurtureEffect:
    months: list[NurtureMonth]
    total: NurtureMonth
    nurtured_benchmark: tuple[Decimal, Decimal] = NURTURED_BENCHMARK
    never_benchmark: tuple[Decimal, Decimal] = NOT_NURTURED_BENCHMARK


def _nurture_month(month: date, row: dict[str, Any]) -> NurtureMonth:
    never = row["inquiries"] - row["nurtured"]
    never_won = row["won"] - row["nurtured_won"]
    return NurtureMonth(
        month=month,
        nurtured=row["nurtured"],
        nurtured_won=row["nurtured_won"],
        never=never,
        never_won=never_won,
        nurtured_rate=_rate(row["nurtured_won"], row["nurtured"]),
        never_rate=_rate(never_won, never),
    )


def nurture_effect(scope: Scope) -> NurtureEffect:
    """Won ÷ inquiries of the nurtured and the never nurtured, by cohort month: one query.

    Imported history is left out: whether an imported buyer was nurtured is unknown.
    """
    by_month: dict[date, dict[str, int]] = {}
    names = ("inquiries", "won", "nurtured", "nurtured_won")
    rows = (
        _rollup_filter(FunnelRollup.objects.all(), scope)
        .values("day")
        .annotate(**{name: Sum(name) for name in names})
    )
    for row in rows.order_by():
        month = row["day"].replace(day=1)
        into = by_month.setdefault(month, dict.fromkeys(names, 0))
        for name in names:
            into[name] += row[name]
    months = [_nurture_month(month, by_month[month]) for month in sorted(by_month)]
    total = {name: sum(m[name] for m in by_month.values()) for name in names}
    return NurtureEffect(months=months, total=_nurture_month(scope.first.replace(day=1), total))


# --- Nurture per program ------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramFunnel:
    """One program's people enrolled in the period and how far they got from there."""

    program_id: int
    name: str
    long_term: bool
    paused: bool
    enrolled: int
    engaged: int
    mqls: int
    leads: int
    won: int

    @property
    def rates(self) -> dict[str, Decimal | None]:
        """Each step ÷ enrolled."""
        return {step: _rate(getattr(self, step), self.enrolled) for step in facts.PROGRAM_STEPS}


def program_enrollments(scope: Scope) -> QuerySet[Enrollment]:
    """Enrollments made in the period, of inquiries within the filters and the caller's view."""
    start, end = scope.bounds
    found = Enrollment.objects.filter(enrolled_at__gte=start, enrolled_at__lt=end)
    if scope.program_id:
        found = found.filter(program_id=scope.program_id)
    if scope.source:
        found = found.filter(inquiry__source=scope.source)
    if scope.campaign_id:
        found = found.filter(inquiry__campaign_id=scope.campaign_id)
    if scope.partner_id or scope.rep_id:
        owned = facts.annotated_inquiries(Inquiry.objects.all(), scope.tz)
        if scope.partner_id:
            owned = owned.filter(Q(partner_dim=scope.partner_id))
        if scope.rep_id:
            owned = owned.filter(Q(rep_dim=scope.rep_id))
        found = found.filter(inquiry_id__in=owned.values("id"))
    return found


def nurture_programs(scope: Scope) -> list[ProgramFunnel]:
    """Enrolled → engaged → MQL → lead → won per program (every program, the long-term one
    first), counting people (an inquiry enrolled twice in a program counts once): two queries.

    Read from the base tables, not a rollup: enrollments are a small share of inquiries,
    and engagement depends on each enrollment's own dates.
    """
    counts = _program_counts(program_enrollments(scope))
    programs = NurtureProgram.objects.order_by("-is_long_term", "position", "name", "id")
    if scope.program_id:
        programs = programs.filter(pk=scope.program_id)
    empty = dict.fromkeys(facts.PROGRAM_STEPS, 0)
    return [
        ProgramFunnel(
            program_id=program.pk,
            name=program.name,
            long_term=program.is_long_term,
            paused=program.paused,
            **{step: counts.get(program.pk, empty)[step] for step in facts.PROGRAM_STEPS},
        )
        for program in programs
    ]


def _program_counts(enrollments: QuerySet[Enrollment]) -> dict[int, dict[str, Any]]:
    """Each program's people at every step (``facts.PROGRAM_FILTERS``), in one query."""
    return {
        row["program_id"]: row
        for row in facts.annotated_enrollments(enrollments)
        .values("program_id")
        .annotate(
            **{
                step: Count("inquiry_id", distinct=True, filter=condition)
                for step, condition in facts.PROGRAM_FILTERS.items()
            }
        )
        .order_by()
    }


def program_funnel_counts(program_id: int) -> dict[str, int]:
    """One program's funnel over every enrollment ever made in it (its page and API), one query.

    Registered in ``leadflow.lib.program_funnels`` so nurture's program page counts
    with the dashboards' definition.
    """
    row = _program_counts(Enrollment.objects.filter(program_id=program_id)).get(program_id, {})
    return {
        name: row.get(step, 0)
        for name, step in zip(program_funnels.STEPS, facts.PROGRAM_STEPS, strict=True)
    }


def program_rows(step: str, scope: Scope) -> QuerySet[Inquiry]:
    """The people behind a program's figure (``scope.program_id``): as many as it counts."""
    enrolled = facts.annotated_enrollments(program_enrollments(scope)).filter(
        facts.PROGRAM_FILTERS[step]
    )
    return Inquiry.objects.filter(pk__in=enrolled.values("inquiry_id"))


# --- Accountability -----------------------------------------------------------------------


def stale_days() -> int:
    found = LeadSettings.objects.values_list("recall_after_days", flat=True).first()
    return found or STALE_DAYS_DEFAULT


def this_week(scope: Scope) -> tuple[date, datetime]:
    """This week's Monday and the moment from which a lead assigned owes no update yet."""
    week = weeks.week_of_moment(scope.now, scope.tz)
    return week, datetime.combine(week + timedelta(days=3), datetime.min.time(), tzinfo=scope.tz)


def accountability_filters(scope: Scope, stale_after: int) -> dict[str, Q]:
    """Each accountability figure as a condition on ``LeadFact`` or on annotated leads."""
    start, end = scope.bounds
    week, cutoff = this_week(scope)
    stale_before = scope.now - timedelta(days=stale_after)
    open_ = Q(stage__in=OPEN_STAGES)
    return {
        "open": open_,
        "missing": Q(stage__in=list(REPORTED_STAGES), assigned_at__lt=cutoff)
        & (Q(last_update_week__isnull=True) | Q(last_update_week__lt=week)),
        "breached": Q(breached_at__gte=start, breached_at__lt=end),
        "stale": open_
        & (
            Q(last_touch_at__lt=stale_before)
            | Q(last_touch_at__isnull=True, assigned_at__lt=stale_before)
        ),
        "unworked": open_ & Q(touches=0),
        "closed": Q(stage__in=list(CLOSED_WITH_OUTCOME), closed_at__gte=start, closed_at__lt=end),
    }


def touch_bucket_filter(bucket: str) -> Q:
    if bucket == "8-12":
        return Q(touches__gte=8, touches__lte=12)
    if bucket == "13+":
        return Q(touches__gte=13)
    return Q(touches=int(bucket))


@dataclass(frozen=True)
class Bucket:
    touches: str
    leads: int


@dataclass(frozen=True)
class OwnerRow:
    rep_id: int | None
    partner_id: int | None
    name: str
    open: int
    missing: int
    breached: int
    stale: int
    unworked: int
    money_at_risk: Decimal


@dataclass(frozen=True)
class PartnerCompliance:
    partner_id: int
    name: str
    status: str  # active, warned or suspended
    open: int
    missing: int


@dataclass(frozen=True)
class Accountability:
    owners: list[OwnerRow]
    total: OwnerRow
    histogram: list[Bucket]
    touch_cliff: int
    touch_minimum: int
    cost_per_lead: Decimal
    partners: list[PartnerCompliance]
    stale_days: int


def accountability(scope: Scope) -> Accountability:
    """Per rep and partner: open, missing updates, breaches, stale, unworked, money: 4 queries
    (the settings, the counts from the owner rollup and recent facts, reps' and partners'
    names) whatever the number of leads or owners.

    Never counts imported history (an imported outcome has no lead to account for). One
    read-only transaction: the figures come from one snapshot, and the tenant is set once
    instead of around each query.
    """
    with transaction.atomic():
        return _accountability(scope)


# Each histogram bucket as ``OwnerRollup.touches`` codes it (``services.TOUCH_CODE``).
BUCKET_CODES = dict(zip(TOUCH_BUCKETS, (0, 1, 2, 3, 4, 5, 6, 7, 8, 13), strict=True))
OWNER_FIGURES = ("open", "missing", "breached", "stale", "unworked")


def full_months(first: date, last: date) -> tuple[date, date]:
    """The months wholly inside ``first``–``last``: from the first of ``lo`` to before
    the first of ``hi`` (none when ``lo >= hi``)."""
    lo = first if first.day == 1 else (first.replace(day=1) + timedelta(days=32)).replace(day=1)
    return lo, (last + facts.DAY).replace(day=1)


def _edge_spans(scope: Scope, lo: date, hi: date) -> list[tuple[datetime, datetime]]:
    """The period's parts outside its whole months, as moments (from, before)."""
    spans = (
        [(scope.first, scope.last)]
        if lo >= hi
        else [(scope.first, lo - facts.DAY), (hi, scope.last)]
    )
    return [facts.day_bounds(first, last, scope.tz) for first, last in spans if first <= last]


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


OPEN_SQL = _in(OPEN_STAGES)
REPORTED_SQL = _in(REPORTED_STAGES)
CLOSED_SQL = _in(CLOSED_WITH_OUTCOME)
TOUCH_CODE_SQL = "CASE WHEN touches >= 13 THEN 13 WHEN touches >= 8 THEN 8 ELSE touches END"


def _owner_figures(scope: Scope, stale_before: datetime) -> list[tuple[Any, ...]]:
    """Accountability's counts per owner in one statement, rows (rep, partner, what, stage,
    touches, n): the owner rollup's rows of the period (open by stage and worked, breaches of
    its days, closes of its whole months by bucket), then three reads of recent facts —
    open leads touched (or assigned) since ``stale_before`` (``fresh``: not stale),
    reported leads assigned since this week's cutoff or updated this week (``excused``: not
    missing) and the closes of the period's part months by bucket.

    Plain SQL: built by the ORM, its dozen conditional aggregates cost more in Python than
    the database spends on the rows. Tenant-filtered, as every read, and under RLS.
    """
    ops = connection.ops
    lo, hi = full_months(scope.first, scope.last)
    week, cutoff = this_week(scope)
    owner, owner_params = "", list[Any]()
    if scope.rep_id:
        owner, owner_params = owner + " AND rep_id = %s", [*owner_params, scope.rep_id]
    if scope.partner_id:
        owner, owner_params = owner + " AND partner_id = %s", [*owner_params, scope.partner_id]
    tenant = [scope.tenant.pk]
    edges = _edge_spans(scope, lo, hi)
    edge_sql = " OR ".join(["(closed_at >= %s AND closed_at < %s)"] * len(edges)) or "1 = 0"
    edge_params = [ops.adapt_datetimefield_value(at) for span in edges for at in span]
    day = ops.adapt_datefield_value
    sql = f"""
        SELECT rep_id, partner_id, kind, stage, touches, SUM(leads)
        FROM reporting_ownerrollup
        WHERE tenant_id = %s{owner} AND (
            kind = 'open'
            OR (kind = 'breach' AND day >= %s AND day <= %s)
            OR (kind = 'closed' AND day >= %s AND day < %s))
        GROUP BY rep_id, partner_id, kind, stage, touches
        UNION ALL
        SELECT rep_id, partner_id, 'fresh', '', 0, COUNT(*)
        FROM reporting_leadfact
        WHERE tenant_id = %s{owner} AND stage IN {OPEN_SQL}
            AND (last_touch_at >= %s OR (last_touch_at IS NULL AND assigned_at >= %s))
        GROUP BY rep_id, partner_id
        UNION ALL
        SELECT rep_id, partner_id, 'excused', '', 0, COUNT(*)
        FROM reporting_leadfact
        WHERE tenant_id = %s{owner} AND stage IN {REPORTED_SQL}
            AND (assigned_at >= %s OR last_update_week >= %s)
        GROUP BY rep_id, partner_id
        UNION ALL
        SELECT rep_id, partner_id, 'closed', '', {TOUCH_CODE_SQL}, COUNT(*)
        FROM reporting_leadfact
        WHERE tenant_id = %s{owner} AND stage IN {CLOSED_SQL} AND ({edge_sql})
        GROUP BY rep_id, partner_id, {TOUCH_CODE_SQL}
    """
    params = [
        *tenant,
        *owner_params,
        day(scope.first),
        day(scope.last),
        day(lo),
        day(hi),
        *tenant,
        *owner_params,
        ops.adapt_datetimefield_value(stale_before),
        ops.adapt_datetimefield_value(stale_before),
        *tenant,
        *owner_params,
        ops.adapt_datetimefield_value(cutoff),
        day(week),
        *tenant,
        *owner_params,
        *edge_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _accountability(scope: Scope) -> Accountability:
    settings = LeadSettings.objects.filter(tenant_id=scope.tenant.pk).first() or LeadSettings()
    after = settings.recall_after_days or STALE_DAYS_DEFAULT
    names = OWNER_FIGURES
    # The owner rollup's sums, less what the recent facts say the clock changes: stale =
    # open − touched since the cutoff; missing = reported − assigned since this week's
    # cutoff or updated this week. Rows per owner (and month, bucket), not per lead.
    counted = ("open", "unworked", "reported", "breached", "fresh", "excused")
    merged: dict[tuple[int | None, int | None], dict[str, int]] = {}
    counts = dict.fromkeys(TOUCH_BUCKETS, 0)
    bucket_of = {code: bucket for bucket, code in BUCKET_CODES.items()}
    for rep_id, partner_id, what, stage, touches, n in _owner_figures(
        scope, scope.now - timedelta(days=after)
    ):
        into = merged.setdefault((rep_id, partner_id), dict.fromkeys(counted, 0))
        n = int(n)
        if what == OwnerKind.OPEN:
            into["open"] += n
            into["unworked"] += n if touches == 0 else 0
            into["reported"] += n if stage in REPORTED_STAGES else 0
        elif what == OwnerKind.BREACH:
            into["breached"] += n
        elif what == OwnerKind.CLOSED:
            counts[bucket_of[touches]] += n
        else:
            into[what] += n
    per_owner: list[dict[str, Any]] = []
    for (rep_id, partner_id), got in merged.items():
        row = {
            "rep_id": rep_id,
            "partner_id": partner_id,
            "open": got["open"],
            "missing": got["reported"] - got["excused"],
            "breached": got["breached"],
            "stale": got["open"] - got["fresh"],
            "unworked": got["unworked"],
        }
        if any(row[name] for name in names):
            per_owner.append(row)
    users = {
        u.pk: u.display_name
        for u in User.objects.filter(pk__in=[r["rep_id"] for r in per_owner if r["rep_id"]])
    }
    partners = list(Partner.objects.all() if not scope.rep_id else Partner.objects.none())
    if scope.partner_id:
        partners = [p for p in partners if p.pk == scope.partner_id]
    partner_names = {p.pk: p.name for p in partners}
    cost = _money(settings.cost_per_lead)

    def owner_row(row: dict[str, Any], name: str) -> OwnerRow:
        return OwnerRow(
            rep_id=row.get("rep_id"),
            partner_id=row.get("partner_id"),
            name=name,
            **{n: row[n] for n in names},
            money_at_risk=_money(cost * row["unworked"]),
        )

    owners: list[OwnerRow] = []
    for row in per_owner:
        if row["partner_id"]:
            name = partner_names.get(row["partner_id"], f"Partner {row['partner_id']}")
        elif row["rep_id"]:
            name = users.get(row["rep_id"], f"User {row['rep_id']}")
        else:
            name = "Nobody (waiting for a manager)"
        owners.append(owner_row(row, name))
    owners.sort(key=lambda o: (-o.money_at_risk, o.name.lower()))
    summed: dict[str, Any] = {n: sum(getattr(o, n) for o in owners) for n in names}
    total = owner_row(summed, "Everyone")
    by_partner = {o.partner_id: o for o in owners if o.partner_id}
    compliance = [
        PartnerCompliance(
            partner_id=p.pk,
            name=p.name,
            status=(
                "suspended"
                if p.status == PartnerStatus.SUSPENDED
                else "warned"
                if p.warned_at is not None
                else "active"
            ),
            open=by_partner[p.pk].open if p.pk in by_partner else 0,
            missing=by_partner[p.pk].missing if p.pk in by_partner else 0,
        )
        for p in partners
    ]
    return Accountability(
        owners=owners,
        total=total,
        histogram=[Bucket(touches=k, leads=n) for k, n in counts.items()],
        touch_cliff=settings.touch_cliff,
        touch_minimum=settings.touch_minimum,
        cost_per_lead=cost,
        partners=compliance,
        stale_days=after,
    )


# --- The rows behind a figure -------------------------------------------------------------

INQUIRY_METRICS = {f"funnel.{step}" for step in facts.FUNNEL_STEPS} | {
    "nurture.nurtured",
    "nurture.nurtured_won",
    "nurture.never",
    "nurture.never_won",
}
PROGRAM_METRICS = {f"nurture.program.{step}" for step in facts.PROGRAM_STEPS}
LEAD_METRICS = {
    "accountability.open",
    "accountability.missing",
    "accountability.breached",
    "accountability.stale",
    "accountability.unworked",
} | {f"accountability.touches.{bucket}" for bucket in TOUCH_BUCKETS}
METRICS = tuple(sorted(INQUIRY_METRICS | PROGRAM_METRICS | LEAD_METRICS))


def inquiry_rows(metric: str, scope: Scope) -> QuerySet[Inquiry]:
    """The inquiries behind a funnel, ROI or nurture figure, from the base tables."""
    if metric in PROGRAM_METRICS:
        return program_rows(metric.rsplit(".", 1)[1], scope)
    start, end = scope.bounds
    found = facts.annotated_inquiries(
        Inquiry.objects.filter(created_at__gte=start, created_at__lt=end), scope.tz
    )
    if scope.source:
        found = found.filter(source=scope.source)
    if scope.campaign_id:
        found = found.filter(campaign_id=scope.campaign_id)
    if scope.partner_id:
        found = found.filter(Q(partner_dim=scope.partner_id))
    if scope.rep_id:
        found = found.filter(Q(rep_dim=scope.rep_id))
    kind, name = metric.split(".", 1)
    if kind == "funnel":
        condition = facts.STEP_FILTERS[name]
        if scope.include_history and name != "inquiries":
            condition = condition | facts.HISTORY_WON
        return found.filter(condition)
    nurtured = facts.NURTURED
    return found.filter(
        {
            "nurtured": nurtured,
            "nurtured_won": nurtured & facts.WON,
            "never": ~nurtured,
            "never_won": ~nurtured & facts.WON,
        }[name]
    )


def lead_rows(metric: str, scope: Scope) -> QuerySet[Lead]:
    """The leads behind an accountability figure, from the base tables (touches counted)."""
    found = facts.lead_facts(Lead.objects.all())
    if scope.rep_id:
        found = found.filter(rep_id=scope.rep_id)
    if scope.partner_id:
        found = found.filter(partner_id=scope.partner_id)
    figures = accountability_filters(scope, stale_days())
    name = metric.split(".", 1)[1]
    if name.startswith("touches."):
        return found.filter(figures["closed"] & touch_bucket_filter(name.split(".", 1)[1]))
    return found.filter(figures[name])


def owner_scope(scope: Scope, *, rep_id: int | None, partner_id: int | None) -> Scope:
    """Narrowed to one owner (an accountability row's link); a rep or partner stays theirs."""
    return replace(
        scope,
        rep_id=scope.rep_id or rep_id,
        partner_id=scope.partner_id or partner_id,
    )
