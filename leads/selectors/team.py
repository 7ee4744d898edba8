"""The manager's view of the team's leads: every lead of the tenant, filtered the same way
on the page and in ``GET /api/v1/leads/``.

The filters are set-based, so a page costs the same few queries whatever the
number of leads: "missing" is :func:`leads.selectors.weekly.missing_update`;
"stale" is an open lead assigned before a cut-off 14 days ago with no touch and
no weekly update since — two ``NOT EXISTS``, which the planner turns into
anti-joins, rather than comparing a ``MAX`` per lead, which it must compute for
every lead before it can filter. The rows shown carry their last touch, last
update week and touch count as correlated ``MAX``/``COUNT`` subqueries. A rep
or a partner gets the same filters over their own leads (``lead_list``): a
partner's integration asks ``missing=true`` for what it must report this week.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet, PermissionDenied
from django.db import connection
from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from leadflow.lib import times
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leads.models import Lead, LeadStage, Touch, WeeklyUpdate
from leads.selectors import weekly
from leads.selectors.leads import OPEN_STAGES, lead_list

ID = re.compile(r"[0-9]{1,19}")
ID_MAX = 2**63 - 1
# An open lead without a touch or an update for this long is stale.
STALE_AFTER = timedelta(days=14)
# ``stage=open``: every stage still open for sales.
OPEN = "open"
# ``owner=none`` (API) or ``owner=unassigned`` (page): leads with no owner.
NO_OWNER = ("none", "unassigned")


@dataclass(frozen=True)
class Owner:
    """An owner named in a filter or a reassign: ``rep:<user id>``, ``partner:<id>``, or none."""

    kind: str  # "rep", "partner" or "none"
    id: int | None = None

    @property
    def value(self) -> str:
        return "none" if self.kind == "none" else f"{self.kind}:{self.id}"


def parse_owner(text: str, *, field: str = "owner") -> Owner:
    """``rep:12`` / ``partner:3`` / ``none`` (or ``unassigned``); anything else is refused."""
    text = (text or "").strip().lower()
    if text in NO_OWNER:
        return Owner("none")
    kind, _, number = text.partition(":")
    # ASCII digits within a bigint: ``str.isdigit`` also takes "²", and the id column ends.
    if kind in ("rep", "partner") and ID.fullmatch(number) and 0 < int(number) <= ID_MAX:
        return Owner(kind, int(number))
    raise RuleViolation(
        field=field,
        code="invalid",
        message="Name the owner as rep:<user id>, partner:<partner id> or none.",
    )


@dataclass(frozen=True)
class LeadFilters:
    """What the manager's list (and the API's list) may be narrowed to; all optional."""

    owner: Owner | None = None
    stage: str = ""  # a LeadStage value, or "open"
    missing: bool = False
    breached: bool = False
    stale: bool = False
    no_show: bool = False


STAGE_CHOICES = [(OPEN, "Open (awaiting, accepted, SQL)"), *LeadStage.choices]


def _latest(model: type[Touch] | type[WeeklyUpdate], field: str) -> Subquery:
    rows = model.objects.filter(lead_id=OuterRef("pk")).order_by().values("lead_id")
    return Subquery(rows.annotate(latest=Max(field)).values("latest"), output_field=DateTimeField())


def stale_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - STALE_AFTER


def _stale(now: datetime | None = None) -> Q:
    """Open, assigned before the cut-off, and no touch or update since it (EXISTS, not MAX)."""
    cutoff = stale_cutoff(now)
    touched = Exists(Touch.objects.filter(lead_id=OuterRef("pk"), at__gte=cutoff))
    updated = Exists(WeeklyUpdate.objects.filter(lead_id=OuterRef("pk"), created_at__gte=cutoff))
    return Q(stage__in=OPEN_STAGES, assigned_at__lt=cutoff) & ~Q(touched) & ~Q(updated)


def _breached() -> Q:
    return Q(stage=LeadStage.AWAITING_ACCEPTANCE, breached_at__isnull=False)


def _owner(owner: Owner) -> Q:
    if owner.kind == "none":
        return Q(rep__isnull=True, partner__isnull=True)
    if owner.kind == "rep":
        return Q(rep_id=owner.id)
    return Q(partner_id=owner.id)


def filter_leads(
    leads: QuerySet[Lead], filters: LeadFilters, *, principal: Principal
) -> QuerySet[Lead]:
    """Narrow ``leads`` by ``filters``: every filter is a condition on the row or an EXISTS."""
    if filters.owner is not None:
        leads = leads.filter(_owner(filters.owner))
    if filters.stage == OPEN:
        leads = leads.filter(stage__in=OPEN_STAGES)
    elif filters.stage:
        leads = leads.filter(stage=filters.stage)
    if filters.missing:
        tz = times.zone(principal.tenant.timezone)
        leads = weekly.missing_update(leads, week=weekly.current_week(tz), tz=tz)
    if filters.breached:
        leads = leads.filter(_breached())
    if filters.stale:
        leads = leads.filter(_stale())
    if filters.no_show:
        leads = leads.filter(stage=LeadStage.NO_SHOW)
    return leads


def is_manager(principal: Principal) -> bool:
    return not principal.is_partner and principal.has_role(*MANAGERS)


def team_leads(principal: Principal, filters: LeadFilters | None = None) -> QuerySet[Lead]:
    """Every lead of the tenant, newest first, owners joined, with its last activity.

    Managers and admins only (anyone else: ``PermissionDenied``). The rows carry
    ``last_touch_at`` and ``touch_count`` — correlated subqueries, computed only
    for the rows of the page shown (read newest first from the
    ``leads_lead_newest_idx`` index, nothing sorted) — besides the lead's own
    ``last_update_week``.
    """
    if not is_manager(principal):
        raise PermissionDenied
    leads = filter_leads(
        lead_list(principal=principal), filters or LeadFilters(), principal=principal
    )
    touches = Touch.objects.filter(lead_id=OuterRef("pk")).order_by().values("lead_id")
    return leads.annotate(
        last_touch_at=_latest(Touch, "at"),
        touch_count=Coalesce(
            Subquery(touches.annotate(n=Count("id")).values("n")),
            0,
        ),
    )


# Counting stops here ("1,000+"): a count never reads the whole tenant, and past a
# thousand a manager needs the filter, not the number (the inbox, a list to work
# through, stops at 10,000).
COUNT_CAP = 1_000


@dataclass(frozen=True)
class CappedCount:
    value: int
    capped: bool

    def __str__(self) -> str:
        return f"{self.value:,}+" if self.capped else f"{self.value:,}"


def capped_counts(named: dict[str, QuerySet[Lead]]) -> dict[str, CappedCount]:
    """Each queryset's rows up to :data:`COUNT_CAP`, in one query of ``LIMIT``-ed subqueries.

    A subquery's ``WHERE`` is planned like the list's own (an ``EXISTS`` becomes
    a semi- or anti-join) and stops at the cap, where one ``COUNT(*) FILTER``
    aggregate would probe every row of the tenant once per condition.
    """
    parts: list[str] = []
    params: list[Any] = []
    for queryset in named.values():
        limited = queryset.order_by().values("pk")[: COUNT_CAP + 1]
        try:
            sql, part_params = limited.query.get_compiler(using=limited.db).as_sql()
        except EmptyResultSet:
            sql, part_params = "SELECT 1 WHERE false", ()
        parts.append(f"(SELECT count(*) FROM ({sql}) AS capped)")
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        values = cursor.fetchone()
    return {
        name: CappedCount(min(value, COUNT_CAP), value > COUNT_CAP)
        for name, value in zip(named, values, strict=True)
    }


def team_counts(principal: Principal, filters: LeadFilters | None = None) -> dict[str, CappedCount]:
    """The list's total (``total``) and the four counts of the filter bar, in one query.

    ``total`` counts what ``filters`` show; ``missing``, ``breached``, ``stale``
    and ``no_show`` what each checkbox would show with the owner filter only.
    """
    if not is_manager(principal):
        raise PermissionDenied
    filters = filters or LeadFilters()
    everyone = lead_list(principal=principal)
    owner = filters.owner

    def narrowed(flags: LeadFilters) -> QuerySet[Lead]:
        return filter_leads(everyone, flags, principal=principal)

    return capped_counts(
        {
            "total": filter_leads(everyone, filters, principal=principal),
            "missing": narrowed(LeadFilters(owner=owner, missing=True)),
            "breached": narrowed(LeadFilters(owner=owner, breached=True)),
            "stale": narrowed(LeadFilters(owner=owner, stale=True)),
            "no_show": narrowed(LeadFilters(owner=owner, no_show=True)),
        }
    )
