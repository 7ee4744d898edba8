"""Keeping the dashboards' rollups: the watermark refresh, the hooks' marks, the rebuild.

Every write of a rollup table is here. A refresh takes, for one tenant, what
changed since its watermark (new inquiries, stage changes, leads, touches,
weekly updates and assignments, by id) and what the stage mover's hooks
marked, turns it into cohort days and leads, and rewrites exactly those: the
days' rollup rows are deleted and inserted again from one ``GROUP BY`` per
run of consecutive days, the leads' facts from one query. The result equals
the raw aggregate (``reporting/dashboards/facts.py``) for every day it wrote,
whatever order the events came in (late events included).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from inquiries.models import Inquiry
from leadflow.lib import times
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import StageChange, Tenant
from leads.models import Assignment, Lead, LeadStage, Touch, WeeklyUpdate
from reporting.dashboards import facts
from reporting.dashboards.models import (
    FunnelRollup,
    LeadFact,
    RollupDirtyDay,
    RollupDirtyLead,
    RollupState,
    StageTimeRollup,
)

logger = logging.getLogger(__name__)
BATCH = 2000


@dataclass(frozen=True)
class Refreshed:
    days: int
    leads: int


def _days_of(inquiries: QuerySet[Inquiry], tz: tzinfo) -> set[date]:
    return set(
        inquiries.annotate(day=TruncDate("created_at", tzinfo=tz))
        .values_list("day", flat=True)
        .order_by()
        .distinct()
    )


def _ids_past(model: Any, last: int, top: int, column: str) -> QuerySet[Any]:
    return model.objects.filter(pk__gt=last, pk__lte=top).values_list(column, flat=True).order_by()


def mark_inquiries_moved(*, inquiry_ids: Iterable[int]) -> int:
    """Mark the cohort days of inquiries that moved (the stage mover's hook); how many days."""
    tenant = Tenant.objects.get(pk=require_tenant_id())
    days = _days_of(Inquiry.objects.filter(pk__in=list(inquiry_ids)), times.zone(tenant.timezone))
    RollupDirtyDay.objects.bulk_create(
        [RollupDirtyDay(tenant=tenant, day=day) for day in days], ignore_conflicts=True
    )
    return len(days)


def mark_inquiries_edited(*, inquiry_ids: Iterable[int], arrived: Iterable[datetime] = ()) -> int:
    """Mark the cohort days of inquiries edited outside the stage mover (the edits hook):
    those still there by their rows, those merged away by when they arrived."""
    tenant = Tenant.objects.get(pk=require_tenant_id())
    tz = times.zone(tenant.timezone)
    days = _days_of(Inquiry.objects.filter(pk__in=list(inquiry_ids)), tz)
    days |= {when.astimezone(tz).date() for when in arrived}
    RollupDirtyDay.objects.bulk_create(
        [RollupDirtyDay(tenant=tenant, day=day) for day in days], ignore_conflicts=True
    )
    return len(days)


def mark_leads_moved(*, lead_ids: Iterable[int]) -> int:
    """Mark leads that moved or were edited (the hooks) for their facts and cohort days."""
    tenant_id = require_tenant_id()
    marks = [RollupDirtyLead(tenant_id=tenant_id, lead_id=pk) for pk in set(lead_ids)]
    RollupDirtyLead.objects.bulk_create(marks, ignore_conflicts=True)
    return len(marks)


@transaction.atomic
def refresh_rollups() -> Refreshed:
    """Roll up what changed in the current tenant since the last refresh (the beat job's unit)."""
    tenant = Tenant.objects.get(pk=require_tenant_id())
    tz = times.zone(tenant.timezone)
    RollupState.objects.get_or_create(tenant=tenant)
    state = RollupState.objects.select_for_update().get(tenant=tenant)
    tops = _tops()
    changes = StageChange.objects.filter(pk__gt=state.last_stage_change_id, pk__lte=tops["change"])
    inquiry_ids = set(changes.filter(machine="inquiry").values_list("object_id", flat=True))
    lead_ids = set(changes.filter(machine="lead").values_list("object_id", flat=True))
    lead_ids |= set(_ids_past(Lead, state.last_lead_id, tops["lead"], "id"))
    lead_ids |= set(_ids_past(Touch, state.last_touch_id, tops["touch"], "lead_id"))
    lead_ids |= set(_ids_past(WeeklyUpdate, state.last_update_id, tops["update"], "lead_id"))
    lead_ids |= set(_ids_past(Assignment, state.last_assignment_id, tops["assignment"], "lead_id"))
    marked = RollupDirtyLead.objects.select_for_update(skip_locked=True)
    taken_leads = list(marked.values_list("id", "lead_id"))
    lead_ids |= {lead_id for _pk, lead_id in taken_leads}
    lead_ids.discard(None)
    days = _days_of(
        Inquiry.objects.filter(pk__gt=state.last_inquiry_id, pk__lte=tops["inquiry"]), tz
    )
    days |= _days_of(Inquiry.objects.filter(pk__in=inquiry_ids), tz)
    days |= _days_of(
        Inquiry.objects.filter(
            pk__in=Lead.objects.filter(pk__in=list(lead_ids)).values("inquiry_id")
        ),
        tz,
    )
    taken_days = list(
        RollupDirtyDay.objects.select_for_update(skip_locked=True).values_list("id", "day")
    )
    days |= {day for _pk, day in taken_days}
    RollupDirtyDay.objects.filter(pk__in=[pk for pk, _day in taken_days]).delete()
    RollupDirtyLead.objects.filter(pk__in=[pk for pk, _lead in taken_leads]).delete()
    # A breach changes an awaiting lead without a move: its fact only (no cohort day moves).
    breached = set(
        Lead.objects.filter(stage=LeadStage.AWAITING_ACCEPTANCE, breached_at__isnull=False)
        .exclude(pk__in=LeadFact.objects.filter(breached_at__isnull=False).values("lead_id"))
        .values_list("id", flat=True)
    )
    roll_up_days(tenant=tenant, days=days)
    write_lead_facts(tenant=tenant, lead_ids=lead_ids | breached)
    _advance(state, tops)
    return Refreshed(days=len(days), leads=len(lead_ids))


def _tops() -> dict[str, int]:
    """The newest id of each base table the refresh follows (its next watermark)."""
    models = {
        "inquiry": Inquiry,
        "change": StageChange,
        "lead": Lead,
        "touch": Touch,
        "update": WeeklyUpdate,
        "assignment": Assignment,
    }
    return {
        name: model.objects.aggregate(top=Max("id"))["top"] or 0 for name, model in models.items()
    }


def _advance(state: RollupState, tops: dict[str, int]) -> None:
    state.last_inquiry_id = tops["inquiry"]
    state.last_stage_change_id = tops["change"]
    state.last_lead_id = tops["lead"]
    state.last_touch_id = tops["touch"]
    state.last_update_id = tops["update"]
    state.last_assignment_id = tops["assignment"]
    state.refreshed_at = timezone.now()
    state.save()


def roll_up_days(*, tenant: Tenant, days: Iterable[date]) -> int:
    """Rewrite the rollup rows of ``days`` from the base tables; how many rows written."""
    tz = times.zone(tenant.timezone)
    written = 0
    for first, last in facts.cohort_ranges(days):
        FunnelRollup.objects.filter(day__range=(first, last)).delete()
        StageTimeRollup.objects.filter(day__range=(first, last)).delete()
        start, end = facts.day_bounds(first, last, tz)
        cohort = Inquiry.objects.filter(created_at__gte=start, created_at__lt=end)
        if connection.vendor == "postgresql":
            written += _insert_selected(tenant, cohort, tz)
            continue
        rows = [
            FunnelRollup(
                tenant=tenant,
                day=group["day"],
                source=group["source"],
                campaign_id=group["campaign_id"],
                partner_id=group["partner_dim"],
                rep_id=group["rep_dim"],
                **{name: group[name] for name in (*facts.FUNNEL_STEPS, "value_won", "history_won")},
                nurtured=group["nurtured"],
                nurtured_won=group["nurtured_won"],
            )
            for group in facts.funnel_groups(cohort, tz)
        ]
        FunnelRollup.objects.bulk_create(rows, batch_size=BATCH)
        times_rows = [
            StageTimeRollup(
                tenant=tenant,
                day=key[0],
                source=key[1],
                campaign_id=key[2],
                partner_id=key[3],
                rep_id=key[4],
                stage=key[5],
                days=key[6],
                records=count,
            )
            for key, count in facts.stage_times(cohort, tz).items()
        ]
        StageTimeRollup.objects.bulk_create(times_rows, batch_size=BATCH)
        written += len(rows) + len(times_rows)
    return written


FUNNEL_COLUMNS = (
    "day, source, campaign_id, partner_id, rep_id, inquiries, mqls, leads, sals, sqls, won, "
    "value_won, history_won, nurtured, nurtured_won"
)
STAGE_TIME_COLUMNS = "day, source, campaign_id, partner_id, rep_id, stage, days, records"


def _insert_selected(tenant: Tenant, cohort: QuerySet[Inquiry], tz: tzinfo) -> int:
    """Both rollups of a cohort written by two ``INSERT … SELECT`` (PostgreSQL): set-based,
    so nothing per inquiry or per stage change passes through Python."""
    written = 0
    with connection.cursor() as cursor:
        for table, columns, (select, params) in (
            ("reporting_funnelrollup", FUNNEL_COLUMNS, facts.funnel_groups_sql(cohort, tz)),
            ("reporting_stagetimerollup", STAGE_TIME_COLUMNS, facts.stage_times_sql(cohort, tz)),
        ):
            cursor.execute(
                f"INSERT INTO {table} (tenant_id, {columns}) "
                f"SELECT %s, {columns} FROM ({select}) AS s",
                [tenant.pk, *params],
            )
            written += cursor.rowcount
    return written


LEAD_FACT_COLUMNS = (
    "inquiry_id, rep_id, partner_id, stage, created_at, assigned_at, closed_at, breached_at, "
    "last_update_week, touches, last_touch_at"
)


def _insert_lead_facts(tenant: Tenant, leads: QuerySet[Lead]) -> int:
    """The leads' facts by one ``INSERT … SELECT`` (PostgreSQL)."""
    names = [name.strip() for name in LEAD_FACT_COLUMNS.split(",")]
    select, params = facts.lead_facts(leads).values("id", *names).order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO reporting_leadfact (tenant_id, lead_id, {LEAD_FACT_COLUMNS}) "
            f"SELECT %s, id, {LEAD_FACT_COLUMNS} FROM ({select}) AS s",
            [tenant.pk, *params],
        )
        return cursor.rowcount


def write_lead_facts(*, tenant: Tenant, lead_ids: Iterable[int]) -> int:
    """Rewrite the facts of ``lead_ids`` (a lead gone loses its fact); how many written."""
    ids = sorted(set(lead_ids))
    written = 0
    for at in range(0, len(ids), BATCH):
        chunk = ids[at : at + BATCH]
        LeadFact.objects.filter(lead_id__in=chunk).delete()
        if connection.vendor == "postgresql":
            written += _insert_lead_facts(tenant, Lead.objects.filter(pk__in=chunk))
            continue
        rows = [
            LeadFact(
                tenant=tenant,
                lead_id=lead.pk,
                inquiry_id=lead.inquiry_id,
                rep_id=lead.rep_id,
                partner_id=lead.partner_id,
                stage=lead.stage,
                created_at=lead.created_at,
                assigned_at=lead.assigned_at,
                closed_at=lead.closed_at,
                breached_at=lead.breached_at,
                last_update_week=lead.last_update_week,
                touches=lead.touches,  # type: ignore[attr-defined]
                last_touch_at=lead.last_touch_at,  # type: ignore[attr-defined]
            )
            for lead in facts.lead_facts(Lead.objects.filter(pk__in=chunk))
        ]
        LeadFact.objects.bulk_create(rows, batch_size=BATCH)
        written += len(rows)
    return written


@transaction.atomic
def rebuild_rollups() -> Refreshed:
    """Drop and rebuild the current tenant's rollups from the base tables (the command)."""
    tenant = Tenant.objects.get(pk=require_tenant_id())
    tz = times.zone(tenant.timezone)
    FunnelRollup.objects.all().delete()
    StageTimeRollup.objects.all().delete()
    LeadFact.objects.all().delete()
    RollupState.objects.all().delete()
    RollupDirtyDay.objects.all().delete()
    RollupDirtyLead.objects.all().delete()
    # Everything up to these ids is read below: the next refresh starts from here.
    tops = _tops()
    days = _days_of(Inquiry.objects.all(), tz)
    # Month-sized runs keep each GROUP BY and the stage-time pass bounded.
    runs: dict[tuple[int, int], list[date]] = {}
    for day in days:
        runs.setdefault((day.year, day.month), []).append(day)
    for month_days in runs.values():
        first, last = min(month_days), max(month_days)
        roll_up_days(
            tenant=tenant, days=[first + facts.DAY * n for n in range((last - first).days + 1)]
        )
    if connection.vendor == "postgresql":
        leads = _insert_lead_facts(tenant, Lead.objects.all())
    else:
        leads = write_lead_facts(
            tenant=tenant, lead_ids=list(Lead.objects.values_list("id", flat=True))
        )
    _advance(RollupState(tenant=tenant), tops)
    return Refreshed(days=len(days), leads=leads)
