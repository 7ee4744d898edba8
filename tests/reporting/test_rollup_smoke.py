"""The rollup refresh writes what the raw aggregate computes."""

from datetime import UTC, datetime

from leadflow.lib import stages
from leadflow.tenancy.context import tenant_context
from reporting.dashboards import facts, services
from reporting.dashboards.models import FunnelRollup
from tests.factories import InquiryFactory, LeadFactory


def test_refresh_writes_the_raw_aggregate(actors, system_a, django_capture_on_commit_callbacks):
    tenant = actors.tenant_a
    with tenant_context(tenant):
        one = InquiryFactory(tenant=tenant, created_at=datetime(2026, 3, 2, 10, tzinfo=UTC))
        InquiryFactory(tenant=tenant, created_at=datetime(2026, 3, 3, 10, tzinfo=UTC))
        with django_capture_on_commit_callbacks(execute=True):
            stages.move_many("inquiry", [one.pk], "mql", by=system_a)
        LeadFactory(tenant=tenant, inquiry=one, stage="won")
        services.refresh_rollups()
        from inquiries.models import Inquiry

        raw = list(
            facts.funnel_groups(
                Inquiry.objects.all(), facts.DAY and __import__("zoneinfo").ZoneInfo("UTC")
            )
        )
        rolled = list(FunnelRollup.objects.values("day", "inquiries", "mqls", "won"))
    assert sum(r["inquiries"] for r in raw) == 2
    assert sorted((r["day"], r["inquiries"], r["mqls"], r["won"]) for r in rolled) == sorted(
        (r["day"], r["inquiries"], r["mqls"], r["won"]) for r in raw
    )
