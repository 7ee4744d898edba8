"""The refresh is incremental: it rewrites what changed since its watermark, and nothing else."""

from __future__ import annotations

import pytest

from leadflow.lib import stages
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.principal import Principal
from reporting.dashboards import services
from reporting.dashboards.models import (
    FunnelRollup,
    OwnerRollup,
    RollupDirtyDay,
    RollupDirtyLead,
    RollupState,
)
from tests.factories import InquiryFactory, LeadFactory
from tests.reporting.dashboard_data import at

pytestmark = pytest.mark.django_db


def test_a_second_refresh_with_nothing_new_rewrites_nothing(actors):
    tenant = actors.tenant_a
    with tenant_context(tenant):
        inquiry = InquiryFactory(tenant=tenant, created_at=at(2))
        LeadFactory(tenant=tenant, inquiry=inquiry, created_at=at(3))
        first = services.refresh_rollups()
        again = services.refresh_rollups()
    assert (first.days, first.leads) == (1, 1)
    assert (again.days, again.leads) == (0, 0)


def test_a_move_marks_its_cohort_day_and_the_refresh_takes_the_mark(
    actors, django_capture_on_commit_callbacks
):
    tenant = actors.tenant_a
    by = Principal.system(tenant, "tests")
    with tenant_context(tenant):
        inquiry = InquiryFactory(tenant=tenant, created_at=at(2))
        lead = LeadFactory(tenant=tenant, inquiry=inquiry, created_at=at(3))
        services.refresh_rollups()
        with django_capture_on_commit_callbacks(execute=True):
            stages.move_many("inquiry", [inquiry.pk], "mql", by=by)
            stages.move_many("lead", [lead.pk], "accepted", by=by)
        assert list(RollupDirtyDay.objects.values_list("day", flat=True)) == [at(2).date()]
        assert list(RollupDirtyLead.objects.values_list("lead_id", flat=True)) == [lead.pk]
        services.refresh_rollups()
        assert not RollupDirtyDay.objects.exists()
        assert not RollupDirtyLead.objects.exists()
        assert FunnelRollup.objects.get().sals == 1


def test_rebuild_equals_refresh(actors):
    tenant = actors.tenant_a
    with tenant_context(tenant):
        for day in (2, 3, 9):
            InquiryFactory(tenant=tenant, created_at=at(day))
        services.refresh_rollups()
        refreshed = sorted(FunnelRollup.objects.values_list("day", "inquiries"))
        services.rebuild_rollups()
        rebuilt = sorted(FunnelRollup.objects.values_list("day", "inquiries"))
    assert refreshed == rebuilt == [(at(d).date(), 1) for d in (2, 3, 9)]


def test_the_first_refresh_after_the_owner_rollup_arrived_sums_the_facts_already_there(actors):
    """Facts written before migration 0011 reach the owner rollup without a rebuild."""
    tenant = actors.tenant_a
    with tenant_context(tenant):
        for day in (2, 3):
            LeadFactory(tenant=tenant, rep=actors.owner.user, stage="accepted", created_at=at(day))
        services.refresh_rollups()
        # As deployed: facts there, the owner rollup empty and not yet built.
        OwnerRollup.objects.all().delete()
        RollupState.objects.update(owners_built=False)
        services.refresh_rollups()
        rows = list(OwnerRollup.objects.values_list("rep_id", "kind", "stage", "leads"))
        assert rows == [(actors.owner.user.pk, "open", "accepted", 2)]
        assert RollupState.objects.get().owners_built
