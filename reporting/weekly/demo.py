"""The Monday report's part of ``seed_demo``: snapshots of the tenant's last weeks.

Made by the same service as the Monday beat, from the demo's leads, updates and
touches as they stand, without emails (the demo sends nothing). Then one of last
week's missing updates is written late, through the leads service, so last week's
report shows "1 change since". Rerunning the seed adds nothing: each week's
snapshot is made once, and the late update only after a snapshot made now.
"""

from __future__ import annotations

from datetime import timedelta

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Membership, Tenant
from leadflow.tenancy.principal import Principal
from leads.models import Lead
from leads.services.updates import record_weekly_update
from reporting.weekly.models import LineScope, WeeklyReport, WeeklyReportLine
from reporting.weekly.selectors import last_week
from reporting.weekly.services import generate_weekly_report

LATE_NOTE = "Reached them on Friday; forgot to write it up (demo: a late update)."

DEMO_WEEKS = 4


def seed_demo_weekly_reports(*, tenant: Tenant) -> int:
    """Snapshots of the last ``DEMO_WEEKS`` complete weeks; how many were made now."""
    by = Principal.system(tenant, "demo")
    made = 0
    with tenant_context(tenant):
        if not Lead.objects.exists():
            return 0
        newest = last_week(tenant)
        for back in range(DEMO_WEEKS - 1, -1, -1):
            done = generate_weekly_report(week=newest - timedelta(weeks=back), by=by, send=False)
            made += int(done.created)
        if made and done.created:
            write_one_update_late(done.report, tenant=tenant)
    return made


def write_one_update_late(report: WeeklyReport, *, tenant: Tenant) -> bool:
    """One of ``report``'s missing updates written now, by the lead's rep; whether there was one.

    Written after the snapshot, it shows beside it as a change since.
    """
    everyone = WeeklyReportLine.objects.filter(report=report, scope=LineScope.TENANT).first()
    if everyone is None or not everyone.missing_ids:
        return False
    lead = Lead.objects.get(pk=min(everyone.missing_ids))
    member = (
        Membership.objects.filter(user_id=lead.rep_id, partner__isnull=True, is_active=True)
        .select_related("user")
        .first()
    )
    by = (
        Principal(
            tenant=tenant, role=member.role, via="system", user=member.user, membership=member
        )
        if member is not None and lead.partner_id is None
        else Principal.system(tenant, "demo")
    )
    record_weekly_update(lead=lead, status="progress", note=LATE_NOTE, week=report.week, by=by)
    return True
