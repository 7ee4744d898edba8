"""Property: edits that are not stage moves — a known person captured again with a campaign,
two inquiries merged, a lead given to another owner, an outcome recorded in bulk — reach
the rollups through the edits hook, so after any mix of them (refreshes anywhere in
between) the incremental rollups
equal a rebuild from scratch."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inquiries.models import Inquiry
from inquiries.services.capture import capture_inquiry
from inquiries.services.merging import merge_inquiries
from inquiries.services.outcomes import record_outcomes
from leadflow.lib import stages
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from leads.models import Lead
from leads.services.ownership import change_owner
from reporting.dashboards import services
from reporting.dashboards.models import FunnelRollup, LeadFact, StageTimeRollup
from tests.conftest import make_actor
from tests.factories import (
    CampaignFactory,
    InquiryFactory,
    LeadFactory,
    PartnerFactory,
    TenantFactory,
)

pytestmark = pytest.mark.django_db
START = datetime(2026, 1, 1, tzinfo=UTC)
_tenants = count()

operation = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 20), st.integers(0, 23)),
    st.tuples(st.just("book"), st.integers(0, 30), st.integers(0, 1)),
    st.tuples(st.just("recapture"), st.integers(0, 30), st.integers(0, 1)),
    st.tuples(st.just("merge"), st.integers(0, 30), st.integers(0, 30)),
    st.tuples(st.just("owner"), st.integers(0, 30), st.integers(0, 3)),
    st.tuples(st.just("outcome"), st.integers(0, 30), st.sampled_from(["won", "lost", ""])),
    st.tuples(st.just("refresh")),
)


def _pick(rows, index):
    return rows[index % len(rows)] if rows else None


def _snapshot():
    def rows(model, *exclude):
        skip = {"id", *exclude}
        return sorted(
            (tuple(sorted((k, v) for k, v in r.items() if k not in skip)) for r in model),
            key=repr,
        )

    return (
        rows(FunnelRollup.objects.values()),
        rows(StageTimeRollup.objects.values()),
        rows(LeadFact.objects.values()),
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(operation, min_size=1, max_size=20), st.sampled_from(["UTC", "Asia/Tokyo"]))
def test_incremental_rollups_equal_a_rebuild_after_edits(
    db, django_capture_on_commit_callbacks, operations, zone
):
    with transaction.atomic():
        check(operations, zone, django_capture_on_commit_callbacks)


def check(operations, zone, committed):
    """Each operation as if committed on its own: its after-commit hooks run at its end."""
    tenant = TenantFactory(slug=f"edit-{next(_tenants)}", timezone=zone)
    reps = [make_actor(tenant, Role.REP).user for _ in range(2)]
    by = Principal.system(tenant, "tests")
    with tenant_context(tenant):
        campaigns = [CampaignFactory(tenant=tenant, spend=100) for _ in range(2)]
        partners = [PartnerFactory(tenant=tenant) for _ in range(2)]
        people: list[Inquiry] = []
        leads: list[Lead] = []
        services.refresh_rollups()
        for op in operations:
            with committed(execute=True):
                apply(op, tenant, by, reps, campaigns, partners, people, leads)
        services.refresh_rollups()
        incremental = _snapshot()
        services.rebuild_rollups()
        assert incremental == _snapshot()


def apply(op, tenant, by, reps, campaigns, partners, people, leads):
    kind = op[0]
    if kind == "insert":
        created = START + timedelta(days=op[1], hours=op[2])
        people.append(InquiryFactory(tenant=tenant, created_at=created, campaign=None))
    elif kind == "book" and people:
        person = _pick(people, op[1])
        if not Lead.objects.filter(inquiry=person).exists():
            stages.move_many("inquiry", [person.pk], "lead", by=by)
            leads.append(LeadFactory(tenant=tenant, inquiry=person, rep=reps[op[2]]))
    elif kind == "recapture" and people:
        person = _pick(people, op[1])
        capture_inquiry(profile={"email": person.email}, campaign=campaigns[op[2]], by=by)
    elif kind == "merge" and len(people) > 1:
        survivor, other = _pick(people, op[1]), _pick(people, op[2])
        if survivor.pk != other.pk:
            with contextlib.suppress(RuleViolation), transaction.atomic():
                merge_inquiries(survivor=survivor, others=[other], by=by)
                people.remove(other)
    elif kind == "owner" and leads:
        lead = _pick(leads, op[1])
        owner = {"rep": reps[op[2]]} if op[2] < 2 else {"partner": partners[op[2] - 2]}
        with contextlib.suppress(RuleViolation), transaction.atomic():
            change_owner(lead=Lead.objects.get(pk=lead.pk), by=by, **owner)
    elif kind == "outcome" and people:
        person = _pick(people, op[1])
        value = Decimal(500) if op[2] == "won" else None
        with contextlib.suppress(RuleViolation), transaction.atomic():
            record_outcomes(ids=[person.pk], outcome=op[2], value=value, by=by)
    elif kind == "refresh":
        services.refresh_rollups()


def test_an_outcome_recorded_in_bulk_reaches_the_incremental_rollups(
    db, django_capture_on_commit_callbacks
):
    check(
        [("insert", 3, 10), ("refresh",), ("outcome", 0, "won")],
        "UTC",
        django_capture_on_commit_callbacks,
    )
