"""Partner compliance: which partners stopped reporting, for how long, and what they owe.

The articles' rule: a partner with missing weekly updates in K consecutive
ISO weeks (``LeadSettings.suspend_after_weeks``) stops receiving leads; a
warning goes out the week before. A **closed week** (one before the current
week, tenant time) is **missed** by a partner when at least one of its open
leads (accepted or SQL) owed an update for it and has none. "Owed" is the
rule My week and the Monday digest use for a backlog (``owed_in_past_week``):
assigned to the partner before that week's Thursday (the last two business
days are exempt) and not accepted only after the week ended. A late update
fills the week. The **missed weeks** are the consecutive closed weeks
immediately before the current one that are missed, newest first — a
reported (or owed-nothing) week ends the run.

Set-based: the tenant, its settings, the partners and their open leads (each
with one integer saying which of the last ``LATE_WEEKS`` weeks it reported,
``weekly.reported_in_window``, from the lead row) are four queries whatever the number of partners
or leads. No writes: ``leads.services.compliance`` acts on the result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from django.utils import timezone

from leadflow.lib import times, weeks
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import Partner, PartnerStatus, Tenant
from leads.models import REPORTED_STAGES, Lead
from leads.selectors.settings import lead_settings
from leads.selectors.weekly import (
    PastWeek,
    current_week,
    past_weeks,
    reported_in_window,
)

COMPLIANT = "compliant"
WARNED = "warned"
SUSPENDED = "suspended"

# The warning's deadline: Friday (weekday 4) at 17:00 of the current week, tenant time.
REPORT_BY_WEEKDAY = 4
REPORT_BY_TIME = time(17, 0)


@dataclass(frozen=True)
class Compliance:
    """One partner's standing under the reporting rule.

    ``missing_weeks``: the Mondays of the consecutive closed weeks with a
    missing update, newest first; ``missing_leads``: the leads (ids, ascending)
    that have no update for one of them; ``report_by``: when warned, the end of
    the current week (Friday 17:00 tenant time); ``reason``: why it is warned
    or suspended (empty when compliant).
    """

    partner_id: int
    state: str
    missing_weeks: list[date] = field(default_factory=list)
    missing_leads: list[int] = field(default_factory=list)
    report_by: datetime | None = None
    reason: str = ""


def report_by(week: date, tz: tzinfo) -> datetime:
    """Friday 17:00 of ``week`` (its Monday) in ``tz``: when a warned partner should report by."""
    return datetime.combine(week + timedelta(days=REPORT_BY_WEEKDAY), REPORT_BY_TIME, tzinfo=tz)


def missed_reason(missing_weeks: list[date], missing_leads: list[int]) -> str:
    """``No updates for 2 weeks: 2026-W48, 2026-W49 (3 leads)`` (weeks oldest first)."""
    count = len(missing_weeks)
    labels = ", ".join(weeks.week_label(monday) for monday in sorted(missing_weeks))
    leads = len(missing_leads)
    return (
        f"No updates for {count} week{'s' if count != 1 else ''}: {labels} "
        f"({leads} lead{'s' if leads != 1 else ''})"
    )


def owed_in_past_week(assigned_at: datetime, accepted_at: datetime | None, past: PastWeek) -> bool:
    """Whether a lead (now accepted or SQL) owed its owner's update for the past week.

    Assigned before that week's Thursday (tenant time), and not accepted only after it
    ended — My week's rule for its backlog.
    """
    if assigned_at >= past.cutoff:
        return False
    return accepted_at is None or accepted_at < past.ends


def missed_weeks(
    leads: list[tuple[datetime, datetime | None, int, int]], window: list[PastWeek]
) -> tuple[list[date], list[int]]:
    """The consecutive missed weeks (newest first) and the leads missing in them.

    ``leads`` are (assigned_at, accepted_at, reported mask, lead id); ``window``
    the closed weeks, oldest first; bit ``k`` of a mask is the week ``k`` weeks before
    the current one (``weekly.reported_in_window``), so ``window[i]`` is bit
    ``len(window) - i``.
    """
    missing_weeks: list[date] = []
    missing_leads: set[int] = set()
    for i in range(len(window) - 1, -1, -1):
        past = window[i]
        gaps = {
            lead_id
            for assigned_at, accepted_at, reported, lead_id in leads
            if not reported >> (len(window) - i) & 1
            and owed_in_past_week(assigned_at, accepted_at, past)
        }
        if not gaps:
            break
        missing_weeks.append(past.monday)
        missing_leads |= gaps
    return missing_weeks, sorted(missing_leads)


def partner_compliance(
    partner_ids: Collection[int] | None = None, *, now: datetime | None = None
) -> dict[int, Compliance]:
    """Each partner's compliance (all the tenant's partners when ``partner_ids`` is None).

    Four queries whatever the number of partners: the tenant, the lead
    settings, the partners, and their open leads with their reported weeks.
    A partner named but not found (another tenant's) is left out.
    """
    now = now or timezone.now()
    tenant = Tenant.objects.only("timezone").get(pk=require_tenant_id())
    tz = times.zone(tenant.timezone)
    after = lead_settings().suspend_after_weeks
    week = current_week(tz, now)
    window = past_weeks(week, tz)

    partners = Partner.objects.all()
    if partner_ids is not None:
        partners = partners.filter(pk__in=list(partner_ids))
    found = list(
        partners.order_by("pk").values_list(
            "pk", "status", "suspension_reason", "suspended_by_rule"
        )
    )
    if not found:
        return {}
    rows = (
        Lead.objects.filter(
            partner_id__in=[row[0] for row in found],
            stage__in=[str(stage) for stage in REPORTED_STAGES],
            assigned_at__lt=window[-1].cutoff,
        )
        .annotate(reported=reported_in_window(week))
        .order_by()
        .values_list("partner_id", "assigned_at", "accepted_at", "reported", "pk")
    )
    by_partner: dict[int, list[tuple[datetime, datetime | None, int, int]]] = defaultdict(list)
    for partner_id, assigned_at, accepted_at, reported, lead_id in rows:
        by_partner[partner_id].append((assigned_at, accepted_at, reported, lead_id))

    result: dict[int, Compliance] = {}
    for partner_id, status, suspension_reason, by_rule in found:
        missing_weeks, missing_leads = missed_weeks(by_partner.get(partner_id, []), window)
        missed = len(missing_weeks)
        reason = missed_reason(missing_weeks, missing_leads) if missed else ""
        if status != PartnerStatus.ACTIVE:
            state = SUSPENDED
            reason = suspension_reason or (reason if by_rule else "Suspended by hand")
            deadline = None
        elif missed and missed >= after - 1:
            state = WARNED
            deadline = report_by(week, tz)
        else:
            state = COMPLIANT
            reason, deadline = "", None
        result[partner_id] = Compliance(
            partner_id=partner_id,
            state=state,
            missing_weeks=missing_weeks,
            missing_leads=missing_leads,
            report_by=deadline,
            reason=reason,
        )
    return result
