"""The Monday report's part of ``seed_demo``: snapshots of the tenant's last weeks.

Made by the same service as the Monday beat, from the demo's leads, updates and
touches as they stand, without emails (the demo sends nothing). Rerunning the
seed adds nothing: each week's snapshot is made once.
"""

from __future__ import annotations

from datetime import timedelta

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant
from leadflow.tenancy.principal import Principal
from leads.models import Lead
from reporting.weekly.selectors import last_week
from reporting.weekly.services import generate_weekly_report

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
    return made
