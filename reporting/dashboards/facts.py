"""What each dashboard figure means, read straight from the base tables (no rollup).

The rollup refresh stores what these queries compute, the rows pages list
what they select, and the benchmark times them as the raw ``GROUP BY``: one
definition of every figure, so a tile and its rows cannot disagree.

An inquiry belongs to the cohort of the day it arrived (``created_at`` in the
tenant's time zone). It *reached* a stage if it is there now, its stage
history enters or leaves it, or a later stage was reached (the funnel is
monotone: a lead passed MQL). Lead stages read the inquiry's leads: SAL is a
lead accepted (``accepted_at``) or beyond, SQL one qualified or won, won a
lead whose stage is won now (a reopened lead is not won). Its partner is the
latest lead's owner partner, else the partner that referred the inquiry; its
rep the latest lead's rep. *Nurtured*: ever in stage nurture.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.db.models import (
    BigIntegerField,
    Count,
    DecimalField,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Now, TruncDate

from inquiries.models import Inquiry, Outcome
from leadflow.tenancy.models import StageChange
from leads.models import Lead, LeadStage, Touch

DIMENSIONS = ("day", "source", "campaign_id", "partner_dim", "rep_dim")
# The funnel's steps: (key, label, Q over the annotated inquiries).
FUNNEL_STEPS = ("inquiries", "mqls", "leads", "sals", "sqls", "won")
# Stages timed: (machine, stage in the machine, the funnel's name for it).
TIMED_STAGES = {
    ("inquiry", "inquiry"): "inquiry",
    ("inquiry", "mql"): "mql",
    ("lead", "awaiting_acceptance"): "lead",
    ("lead", "accepted"): "sal",
    ("lead", "sql"): "sql",
}
DAY = timedelta(days=1)


def day_bounds(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """From midnight of ``first`` to midnight after ``last``, in ``tz``."""
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(last + DAY, datetime.min.time(), tzinfo=tz)
    return start, end


def _seen(stage: str) -> Exists:
    return Exists(
        StageChange.objects.filter(machine="inquiry", object_id=OuterRef("pk")).filter(
            Q(to_stage=stage) | Q(from_stage=stage)
        )
    )


def annotated_inquiries(inquiries: QuerySet[Inquiry], tz: tzinfo) -> QuerySet[Inquiry]:
    """The inquiries with their cohort day, dimensions and what stages they reached."""
    leads = Lead.objects.filter(inquiry_id=OuterRef("pk"))
    latest = leads.order_by("-created_at", "-id")
    won_value = (
        leads.filter(stage=LeadStage.WON)
        .values("inquiry_id")
        .annotate(total=Sum("value"))
        .values("total")
    )
    money: DecimalField[Decimal, Decimal] = DecimalField(max_digits=16, decimal_places=2)
    return inquiries.annotate(
        day=TruncDate("created_at", tzinfo=tz),
        partner_dim=Coalesce(
            Subquery(latest.values("partner_id")[:1]), "partner_id", output_field=BigIntegerField()
        ),
        rep_dim=Subquery(latest.values("rep_id")[:1], output_field=BigIntegerField()),
        has_lead=Exists(leads),
        seen_mql=_seen("mql"),
        seen_nurture=_seen("nurture"),
        has_sal=Exists(
            leads.filter(
                Q(accepted_at__isnull=False)
                | Q(stage__in=[LeadStage.ACCEPTED, LeadStage.SQL, LeadStage.WON])
            )
        ),
        has_sql=Exists(
            leads.filter(
                Q(qualified_at__isnull=False) | Q(stage__in=[LeadStage.SQL, LeadStage.WON])
            )
        ),
        has_won=Exists(leads.filter(stage=LeadStage.WON)),
        won_value=Coalesce(Subquery(won_value, output_field=money), Value(0), output_field=money),
    )


# What each step means over the annotated inquiries (the rows pages filter by these).
WON = Q(has_won=True)
SQL = Q(has_sql=True) | WON
SAL = Q(has_sal=True) | SQL
LEAD = Q(has_lead=True) | Q(stage="lead") | SAL
MQL = Q(seen_mql=True) | Q(stage="mql") | LEAD
NURTURED = Q(seen_nurture=True) | Q(stage="nurture")
HISTORY_WON = Q(outcome=Outcome.WON, has_lead=False)
STEP_FILTERS: dict[str, Q] = {
    "inquiries": Q(),
    "mqls": MQL,
    "leads": LEAD,
    "sals": SAL,
    "sqls": SQL,
    "won": WON,
}


def funnel_groups(inquiries: QuerySet[Inquiry], tz: tzinfo) -> QuerySet[Any]:
    """The rollup's rows: one per cohort day and dimension, counted on the base tables."""
    groups: QuerySet[Any] = (
        annotated_inquiries(inquiries, tz)
        .values(*DIMENSIONS)
        .order_by()
        .annotate(
            inquiries=Count("id"),
            mqls=Count("id", filter=MQL),
            leads=Count("id", filter=LEAD),
            sals=Count("id", filter=SAL),
            sqls=Count("id", filter=SQL),
            won=Count("id", filter=WON),
            value_won=Sum("won_value"),
            history_won=Count("id", filter=HISTORY_WON),
            nurtured=Count("id", filter=NURTURED),
            nurtured_won=Count("id", filter=NURTURED & WON),
        )
    )
    return groups


def stage_times(inquiries: QuerySet[Inquiry], tz: tzinfo) -> Counter[tuple[Any, ...]]:
    """Whole days spent in each timed stage, per cohort day and dimension: a histogram.

    A record's time in a stage is the sum of its completed stays there (a stay
    ends with the next move); a stay still running is not timed yet. Four
    queries whatever the number of records.
    """
    people = {
        row["id"]: tuple(row[d] for d in DIMENSIONS)
        for row in annotated_inquiries(inquiries, tz).values("id", *DIMENSIONS).order_by()
    }
    if not people:
        return Counter()
    ids = list(people)
    leads = list(
        Lead.objects.filter(inquiry_id__in=ids).values_list(
            "id", "inquiry_id", "created_at", "stage"
        )
    )
    records: dict[tuple[str, int], tuple[tuple[Any, ...], datetime, str]] = {}
    created = dict(Inquiry.objects.filter(pk__in=ids).values_list("id", "created_at").order_by())
    current = dict(Inquiry.objects.filter(pk__in=ids).values_list("id", "stage").order_by())
    for pk, dims in people.items():
        records[("inquiry", pk)] = (dims, created[pk], current[pk])
    for lead_id, inquiry_id, lead_created, stage in leads:
        records[("lead", lead_id)] = (people[inquiry_id], lead_created, stage)
    changes: dict[tuple[str, int], list[tuple[datetime, str, str]]] = {}
    history = StageChange.objects.filter(
        Q(machine="inquiry", object_id__in=ids)
        | Q(machine="lead", object_id__in=[lead[0] for lead in leads])
    ).order_by("created_at", "id")
    for machine, object_id, at, from_stage, to_stage in history.values_list(
        "machine", "object_id", "created_at", "from_stage", "to_stage"
    ):
        changes.setdefault((machine, object_id), []).append((at, from_stage, to_stage))
    counts: Counter[tuple[Any, ...]] = Counter()
    for key, (dims, born, stage_now) in records.items():
        moves = changes.get(key, [])
        stage = moves[0][1] if moves else stage_now
        since = born
        spent: dict[str, timedelta] = {}
        for at, _from, to in moves:
            spent[stage] = spent.get(stage, timedelta()) + max(at - since, timedelta())
            stage, since = to, at
        for stage_name, total in spent.items():
            label = TIMED_STAGES.get((key[0], stage_name))
            if label is not None:
                counts[(*dims, label, int(total.total_seconds() // 86400))] += 1
    return counts


def lead_facts(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """The leads with their touches counted and the latest touch's time (``LeadFact``'s names)."""
    touches = Touch.objects.filter(lead_id=OuterRef("pk")).values("lead_id").order_by()
    return leads.annotate(
        touches=Coalesce(Subquery(touches.annotate(n=Count("id")).values("n")), Value(0)),
        last_touch_at=Subquery(
            Touch.objects.filter(lead_id=OuterRef("pk")).order_by("-at").values("at")[:1]
        ),
    )


def cohort_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Runs of consecutive days, so each is one index range scan."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] + DAY == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


# ``stage_times`` in one statement (PostgreSQL): each move ends a stay in the stage it
# leaves — the previous move's target, or the first move's ``from_stage`` — which began
# at the previous move, or when the record was created; stays are summed per record and
# stage, cut to whole days and counted per cohort day and dimension.
_TIMED_VALUES = ", ".join(f"('{m}', '{s}', '{label}')" for (m, s), label in TIMED_STAGES.items())
_DIMS_SQL = "day, source, campaign_id, partner_dim, rep_dim"
STAGE_TIMES_SQL = f"""
WITH people AS ({{people}}),
records AS (
    SELECT 'inquiry'::varchar AS machine, i.id AS object_id, i.created_at AS born,
        {", ".join(f"p.{d}" for d in _DIMS_SQL.split(", "))}
    FROM people p JOIN inquiries_inquiry i ON i.tenant_id = %s AND i.id = p.id
    UNION ALL
    SELECT 'lead', l.id, l.created_at,
        {", ".join(f"p.{d}" for d in _DIMS_SQL.split(", "))}
    FROM people p JOIN leads_lead l ON l.tenant_id = %s AND l.inquiry_id = p.id
),
stays AS (
    SELECT r.machine, r.object_id, {_DIMS_SQL},
        COALESCE(LAG(c.to_stage) OVER w, c.from_stage) AS stage,
        GREATEST(c.created_at - COALESCE(LAG(c.created_at) OVER w, r.born), interval '0')
            AS stay
    FROM records r
    JOIN tenancy_stagechange c
        ON c.tenant_id = %s AND c.machine = r.machine AND c.object_id = r.object_id
    WINDOW w AS (PARTITION BY c.machine, c.object_id ORDER BY c.created_at, c.id)
),
spent AS (
    SELECT machine, object_id, {_DIMS_SQL}, stage, SUM(stay) AS total
    FROM stays GROUP BY machine, object_id, {_DIMS_SQL}, stage
)
SELECT day, source, campaign_id, partner_dim AS partner_id, rep_dim AS rep_id, t.label AS stage,
    floor(extract(epoch FROM s.total) / 86400)::integer AS days, count(*) AS records
FROM spent s JOIN (VALUES {_TIMED_VALUES}) AS t (machine, stage, label)
    ON t.machine = s.machine AND t.stage = s.stage
GROUP BY day, source, campaign_id, partner_dim, rep_dim, t.label, 7
"""


def stage_times_sql(inquiries: QuerySet[Inquiry], tz: tzinfo) -> tuple[str, list[Any]]:
    """``stage_times`` as one set-based query (PostgreSQL): its SQL and parameters.

    Rows: day, source, campaign_id, partner_id, rep_id, stage, days, records —
    the same histogram ``stage_times`` counts in Python (the property test holds
    the two equal).
    """
    from leadflow.tenancy.context import require_tenant_id

    people, params = (
        annotated_inquiries(inquiries, tz)
        .values("id", *DIMENSIONS)
        .order_by()
        .query.sql_with_params()
    )
    tenant_id = require_tenant_id()
    return STAGE_TIMES_SQL.format(people=people), [*params, tenant_id, tenant_id, tenant_id]


def funnel_groups_sql(inquiries: QuerySet[Inquiry], tz: tzinfo) -> tuple[str, list[Any]]:
    """``funnel_groups`` as SQL whose columns are named as ``FunnelRollup``'s (partner_id…)."""
    names = (*FUNNEL_STEPS, "value_won", "history_won", "nurtured", "nurtured_won")
    sql, params = funnel_groups(inquiries, tz).query.sql_with_params()
    columns = ", ".join(names)
    return (
        f"SELECT day, source, campaign_id, partner_dim AS partner_id, rep_dim AS rep_id, "
        f"{columns} FROM ({sql}) AS g",
        list(params),
    )


# --- Per nurture program: enrolled → engaged → MQL → lead → won -----------------------------

PROGRAM_STEPS = ("enrolled", "engaged", "mqls", "leads", "won")
# What counts as engaging while enrolled: the person did something (not LeadFlow's own rows).
ENGAGEMENT_KINDS = (
    "form_fill",
    "download",
    "webinar",
    "event_card",
    "chat",
    "email_reply",
    "email_click",
    "page_visit",
)


def annotated_enrollments(enrollments: QuerySet[Any]) -> QuerySet[Any]:
    """Enrollments with what their person did from enrolment on (``PROGRAM_FILTERS``' names).

    *Engaged*: an engagement activity while enrolled (from ``enrolled_at`` to the exit,
    or still enrolled). *MQL*: a move of the inquiry to MQL or lead at or after the
    enrolment. *Lead*: a lead of the inquiry created at or after it; *won*: such a lead
    won now. A step implies the ones before it (an MQL engaged), so the breakdown is a
    funnel.
    """
    from inquiries.models import Activity

    since = OuterRef("enrolled_at")
    leads = Lead.objects.filter(inquiry_id=OuterRef("inquiry_id"), created_at__gte=since)
    annotated: QuerySet[Any] = enrollments.annotate(ended=Coalesce("exited_at", Now())).annotate(
        engaged_activity=Exists(
            Activity.objects.filter(
                inquiry_id=OuterRef("inquiry_id"),
                kind__in=ENGAGEMENT_KINDS,
                occurred_at__gte=since,
                occurred_at__lte=OuterRef("ended"),
            )
        ),
        became_mql=Exists(
            StageChange.objects.filter(
                machine="inquiry",
                object_id=OuterRef("inquiry_id"),
                to_stage__in=["mql", "lead"],
                created_at__gte=since,
            )
        ),
        has_lead_since=Exists(leads),
        has_won_since=Exists(leads.filter(stage=LeadStage.WON)),
    )
    return annotated


PROGRAM_WON = Q(has_won_since=True)
PROGRAM_LEAD = Q(has_lead_since=True) | PROGRAM_WON
PROGRAM_MQL = Q(became_mql=True) | PROGRAM_LEAD
PROGRAM_ENGAGED = Q(engaged_activity=True) | PROGRAM_MQL
PROGRAM_FILTERS: dict[str, Q] = {
    "enrolled": Q(),
    "engaged": PROGRAM_ENGAGED,
    "mqls": PROGRAM_MQL,
    "leads": PROGRAM_LEAD,
    "won": PROGRAM_WON,
}
