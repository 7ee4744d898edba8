"""The manager's view of the team's leads: every lead of the tenant, filtered the same way
on the page and in ``GET /api/v1/leads/``.

The filters are set-based (``EXISTS`` and correlated ``MAX`` subqueries), so a
page costs the same few queries whatever the number of leads: "missing" is
:func:`leads.selectors.weekly.missing_update`, "stale" compares the lead's last
activity (its newest touch or weekly update, else its assignment) with a
cut-off 14 days ago. A rep or a partner gets the same filters over their own
leads (``lead_list``): a partner's integration asks ``missing=true`` for what it
must report this week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
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
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from leadflow.lib import times
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leads.models import REPORTED_STAGES, Lead, LeadStage, Touch, WeeklyUpdate
from leads.selectors import weekly
from leads.selectors.leads import OPEN_STAGES, lead_list

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
    if kind in ("rep", "partner") and number.isdigit() and int(number) > 0:
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


def with_activity(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """Annotate ``last_touch_at``, ``last_update_week`` and ``last_activity_at`` (set-based)."""
    last_week = WeeklyUpdate.objects.filter(lead_id=OuterRef("pk")).order_by().values("lead_id")
    return leads.annotate(
        last_touch_at=_latest(Touch, "at"),
        last_update_at=_latest(WeeklyUpdate, "created_at"),
        last_update_week=Subquery(last_week.annotate(latest=Max("week")).values("latest")),
    ).annotate(
        last_activity_at=Greatest(
            "assigned_at",
            Coalesce("last_touch_at", "assigned_at"),
            Coalesce("last_update_at", "assigned_at"),
        )
    )


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
    ``last_touch_at``, ``last_update_week``, ``last_activity_at`` and
    ``touch_count`` — computed only for the rows of the page shown.
    """
    if not is_manager(principal):
        raise PermissionDenied
    leads = filter_leads(
        lead_list(principal=principal), filters or LeadFilters(), principal=principal
    )
    touches = Touch.objects.filter(lead_id=OuterRef("pk")).order_by().values("lead_id")
    return with_activity(leads).annotate(
        touch_count=Coalesce(
            Subquery(touches.annotate(n=Count("id")).values("n")),
            0,
        )
    )


@dataclass(frozen=True)
class TeamCounts:
    """How many of the (owner-filtered) leads each checkbox would show."""

    missing: int
    breached: int
    stale: int
    no_show: int


def team_counts(principal: Principal, owner: Owner | None = None) -> TeamCounts:
    """The four counts of the filter bar, in one aggregate query."""
    if not is_manager(principal):
        raise PermissionDenied
    leads = filter_leads(
        lead_list(principal=principal).order_by(), LeadFilters(owner=owner), principal=principal
    )
    tz = times.zone(principal.tenant.timezone)
    week = weekly.current_week(tz)
    owes = Q(stage__in=REPORTED_STAGES, assigned_at__lt=weekly.owed_cutoff(week, tz))
    counted = leads.aggregate(
        missing=Count("pk", filter=owes & ~Q(weekly.has_update_for(week))),
        breached=Count("pk", filter=_breached()),
        stale=Count("pk", filter=_stale()),
        no_show=Count("pk", filter=Q(stage=LeadStage.NO_SHOW)),
    )
    return TeamCounts(**counted)
