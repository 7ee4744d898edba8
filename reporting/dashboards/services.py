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
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DateField,
    F,
    IntegerField,
    Max,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from inquiries.models import Inquiry
from leadflow.lib import times
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import StageChange, Tenant
from leads.models import Assignment, Lead, LeadStage, Touch, WeeklyUpdate
from reporting.dashboards import facts
from reporting.dashboards.models import (
    OPEN_STAGES,
    FunnelRollup,
    LeadFact,
    OwnerKind,
    OwnerRollup,
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
    if not state.owners_built:
        # Facts written before the owner rollup existed (migration 0011): summed once here,
        # then carried forward by the facts' writer like every change.
        build_owner_rollup(tenant=tenant)
        state.owners_built = True
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


# The owner rollup's key: rep_id, partner_id, kind, stage, day, touches.
OwnerKey = tuple[int | None, int | None, str, str, date | None, int]
# A closed lead's touches as its histogram bucket: 0–7 as they are, 8 for 8–12, 13 for more.
CLOSED_STAGES = (LeadStage.WON, LeadStage.LOST, LeadStage.POSTPONED)
TOUCH_CODE = Case(
    When(touches__gte=13, then=Value(13)),
    When(touches__gte=8, then=Value(8)),
    default=F("touches"),
    output_field=IntegerField(),
)


def owner_groups(found: QuerySet[LeadFact], tz: tzinfo) -> Counter[OwnerKey]:
    """What ``found`` facts add to ``OwnerRollup``, key by key: three grouped queries.

    The definition of the owner rollup: open facts per owner, stage and worked (touches
    0 or 1); breached facts per owner and day of the breach; closed facts (won, lost,
    postponed) per owner, month of the close and touch bucket — days in ``tz``.
    """
    found = found.order_by()
    groups: Counter[OwnerKey] = Counter()
    opened = (
        found.filter(stage__in=OPEN_STAGES)
        .annotate(worked=Case(When(touches=0, then=Value(0)), default=Value(1)))
        .values_list("rep_id", "partner_id", "stage", "worked")
        .annotate(n=Count("id"))
    )
    for rep_id, partner_id, stage, worked, n in opened:
        groups[(rep_id, partner_id, OwnerKind.OPEN.value, stage, None, worked)] += n
    breached = (
        found.filter(breached_at__isnull=False)
        .annotate(on=TruncDate("breached_at", tzinfo=tz))
        .values_list("rep_id", "partner_id", "on")
        .annotate(n=Count("id"))
    )
    for rep_id, partner_id, on, n in breached:
        groups[(rep_id, partner_id, OwnerKind.BREACH.value, "", on, 0)] += n
    closed = (
        found.filter(stage__in=CLOSED_STAGES, closed_at__isnull=False)
        .annotate(
            month=TruncMonth("closed_at", tzinfo=tz, output_field=DateField()), code=TOUCH_CODE
        )
        .values_list("rep_id", "partner_id", "month", "code")
        .annotate(n=Count("id"))
    )
    for rep_id, partner_id, month, code, n in closed:
        groups[(rep_id, partner_id, OwnerKind.CLOSED.value, "", month, code)] += n
    return groups


def _owner_row(tenant: Tenant, key: OwnerKey, leads: int) -> OwnerRollup:
    rep_id, partner_id, kind, stage, day, touches = key
    return OwnerRollup(
        tenant=tenant,
        rep_id=rep_id,
        partner_id=partner_id,
        kind=kind,
        stage=stage,
        day=day,
        touches=touches,
        leads=leads,
    )


def _owner_key(row: OwnerRollup) -> OwnerKey:
    return (row.rep_id, row.partner_id, row.kind, row.stage, row.day, row.touches)


def apply_owner_changes(*, tenant: Tenant, changes: Counter[OwnerKey]) -> int:
    """Add ``changes`` (new facts' groups less the old ones') to ``OwnerRollup``: the rows
    of the owners concerned read once, then updated, inserted or deleted (at 0)."""
    changed = {key: n for key, n in changes.items() if n}
    if not changed:
        return 0
    owners = Q(pk__in=[])
    for rep_id, partner_id in {(key[0], key[1]) for key in changed}:
        owners |= Q(
            Q(rep_id=rep_id) if rep_id is not None else Q(rep_id__isnull=True),
            Q(partner_id=partner_id) if partner_id is not None else Q(partner_id__isnull=True),
        )
    # One row a key (only this function and the rebuild write the table, under the
    # refresh's lock on ``RollupState``).
    stored = {_owner_key(row): row for row in OwnerRollup.objects.filter(owners)}
    new: list[OwnerRollup] = []
    updated: list[OwnerRollup] = []
    gone: list[int] = []
    for key, n in changed.items():
        row = stored.get(key)
        total = (row.leads if row else 0) + n
        if total < 0:
            logger.error("owner rollup of tenant %s below zero at %s: rebuild it", tenant.pk, key)
        if row is None:
            if total > 0:
                new.append(_owner_row(tenant, key, total))
        elif total > 0:
            row.leads = total
            updated.append(row)
        else:
            gone.append(row.pk)
    OwnerRollup.objects.filter(pk__in=gone).delete()
    OwnerRollup.objects.bulk_update(updated, ["leads"], batch_size=BATCH)
    OwnerRollup.objects.bulk_create(new, batch_size=BATCH)
    return len(changed)


def build_owner_rollup(*, tenant: Tenant) -> int:
    """Write the tenant's owner rollup anew from all its facts; how many rows."""
    OwnerRollup.objects.all().delete()
    rows = OwnerRollup.objects.bulk_create(
        [
            _owner_row(tenant, key, n)
            for key, n in owner_groups(LeadFact.objects.all(), times.zone(tenant.timezone)).items()
            if n
        ],
        batch_size=BATCH,
    )
    return len(rows)


def write_lead_facts(*, tenant: Tenant, lead_ids: Iterable[int]) -> int:
    """Rewrite the facts of ``lead_ids`` (a lead gone loses its fact) and carry the change
    into the owner rollup (their groups before and after); how many facts written."""
    ids = sorted(set(lead_ids))
    tz = times.zone(tenant.timezone)
    written = 0
    for at in range(0, len(ids), BATCH):
        chunk = ids[at : at + BATCH]
        changes = owner_groups(LeadFact.objects.filter(lead_id__in=chunk), tz)
        changes = Counter({key: -n for key, n in changes.items()})
        written += _write_chunk(tenant, chunk)
        changes.update(owner_groups(LeadFact.objects.filter(lead_id__in=chunk), tz))
        apply_owner_changes(tenant=tenant, changes=changes)
    return written


def _write_chunk(tenant: Tenant, chunk: list[int]) -> int:
    LeadFact.objects.filter(lead_id__in=chunk).delete()
    if connection.vendor == "postgresql":
        return _insert_lead_facts(tenant, Lead.objects.filter(pk__in=chunk))
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
    return len(rows)


@transaction.atomic
def rebuild_rollups() -> Refreshed:
    """Drop and rebuild the current tenant's rollups from the base tables (the command)."""
    tenant = Tenant.objects.get(pk=require_tenant_id())
    tz = times.zone(tenant.timezone)
    FunnelRollup.objects.all().delete()
    StageTimeRollup.objects.all().delete()
    LeadFact.objects.all().delete()
    OwnerRollup.objects.all().delete()
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
        build_owner_rollup(tenant=tenant)
    else:  # the facts' writer carries them into the owner rollup
        leads = write_lead_facts(
            tenant=tenant, lead_ids=list(Lead.objects.values_list("id", flat=True))
        )
    _advance(RollupState(tenant=tenant, owners_built=True), tops)
    return Refreshed(days=len(days), leads=leads)
