"""The bulk sync's set-based path: progress items written together, the same rows as one by one.

The set-based path is PostgreSQL's (off it, every item goes through the single services, with
their own audit rows and queries), so the module is skipped on the SQLite fallback.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from leadflow.lib import times, weeks
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent
from leadflow.tenancy.principal import Principal
from leads.models import Lead, Touch, WeeklyUpdate
from leads.selectors.weekly import current_week
from leads.services.sync import SyncItem, sync_updates
from leads.services.updates import record_weekly_update
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory

pytestmark = pytest.mark.postgres


@pytest.fixture
def partner(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Northwind")


@pytest.fixture
def by(actors, partner) -> Principal:
    return Principal(tenant=actors.tenant_a, role=None, via="api_key", partner=partner)


def accepted_lead(tenant, partner):
    inquiry = InquiryFactory(
        tenant=tenant, stage="lead", created_at=timezone.now() - timedelta(days=60)
    )
    return LeadFactory(
        tenant=tenant,
        inquiry=inquiry,
        partner=partner,
        stage="accepted",
        assigned_at=timezone.now() - timedelta(days=30),
    )


def last_week(tenant) -> str:
    return weeks.week_label(current_week(times.zone(tenant.timezone)) - timedelta(days=7))


def stored(lead):
    """What the writes left behind for ``lead``, without ids and times (audit rows aside: the
    set-based path writes one ``leads.sync`` row for the whole call)."""
    updates = [
        (u.week, u.status, u.note, u.partner_id, u.user_id, u.late, u.touch_id is not None)
        for u in WeeklyUpdate.objects.filter(lead_id=lead.pk).order_by("id")
    ]
    touches = [
        (t.kind, t.outcome, t.note, t.partner_id, t.inquiry_id == lead.inquiry_id)
        for t in Touch.objects.filter(lead_id=lead.pk).order_by("id")
    ]
    fresh = Lead.objects.get(pk=lead.pk)
    return updates, touches, (fresh.last_update_week, fresh.reported_weeks)


def test_the_set_based_path_writes_what_the_single_endpoint_writes(actors, partner, by):
    bulk, single = accepted_lead(actors.tenant_a, partner), accepted_lead(actors.tenant_a, partner)
    late = last_week(actors.tenant_a)
    updates = [
        {"status": "progress", "note": "  Called.  "},
        {"status": "progress", "touch": {"kind": "email", "outcome": "replied", "note": "Re"}},
        {"status": "progress", "note": "Backlog.", "week": late},
    ]
    with tenant_context(actors.tenant_a):
        outcomes = sync_updates(
            items=[SyncItem(index=n, lead=bulk.pk, update=u) for n, u in enumerate(updates)],
            by=by,
        )
        for update in updates:
            record_weekly_update(lead=single, by=by, **update)
        assert all(outcome.ok for outcome in outcomes)
        assert stored(bulk) == stored(single)


def test_the_set_based_path_writes_one_audit_row_naming_its_leads_updates_and_touches(
    actors, partner, by
):
    leads = [accepted_lead(actors.tenant_a, partner) for _ in range(3)]
    touch = {"kind": "email", "outcome": "replied", "note": "Re"}
    items = [
        SyncItem(index=0, lead=leads[2].pk, update={"status": "progress", "note": "a"}),
        SyncItem(index=1, lead=leads[0].pk, update={"status": "progress", "touch": touch}),
        SyncItem(index=2, lead=leads[1].pk, update={"status": "progress", "note": "c"}),
    ]
    with tenant_context(actors.tenant_a):
        outcomes = sync_updates(items=items, by=by)
        audits = list(AuditEvent.objects.exclude(action="user_token.issued"))
        touch_ids = list(Touch.objects.values_list("id", flat=True))
    assert [(a.action, a.object_type, a.object_id) for a in audits] == [
        ("leads.sync", "tenancy.tenant", str(actors.tenant_a.pk))
    ]
    assert audits[0].after == {
        "count": 3,
        "leads": [leads[2].pk, leads[0].pk, leads[1].pk],
        "updates": [outcome.update_id for outcome in outcomes],
        "touches": touch_ids,
    }


def test_the_outcomes_name_the_stored_updates_in_the_items_order(actors, partner, by):
    leads = [accepted_lead(actors.tenant_a, partner) for _ in range(3)]
    items = [
        SyncItem(index=n, lead=lead.pk, update={"status": "progress", "note": f"n{n}"})
        for n, lead in enumerate(reversed(leads))
    ]
    with tenant_context(actors.tenant_a):
        outcomes = sync_updates(items=items, by=by)
        notes = dict(WeeklyUpdate.objects.values_list("id", "note"))
    assert [notes[outcome.update_id] for outcome in outcomes] == ["n0", "n1", "n2"]
    assert [outcome.lead for outcome in outcomes] == [lead.pk for lead in reversed(leads)]


def test_a_refused_progress_item_writes_nothing_and_its_neighbours_are_kept(actors, partner, by):
    lead = accepted_lead(actors.tenant_a, partner)
    items = [
        SyncItem(index=0, lead=lead.pk, update={"status": "progress", "note": "Fine."}),
        SyncItem(index=1, lead=lead.pk, update={"status": "progress", "note": ""}),
        SyncItem(index=2, lead=lead.pk, update={"status": "progress", "note": "x" * 5001}),
        SyncItem(index=3, lead=lead.pk, update={"status": "progress", "note": "Also fine."}),
    ]
    with tenant_context(actors.tenant_a):
        outcomes = sync_updates(items=items, by=by)
        saved = list(WeeklyUpdate.objects.order_by("id").values_list("note", flat=True))
        audits = list(
            AuditEvent.objects.filter(action="leads.sync").values_list("after", flat=True)
        )
    assert [outcome.ok for outcome in outcomes] == [True, False, False, True]
    assert [list(outcome.errors) for outcome in outcomes[1:3]] == [["note"], ["note"]]
    assert (saved, [audit["count"] for audit in audits]) == (["Fine.", "Also fine."], [2])


def test_an_item_after_a_close_of_the_same_lead_is_refused_as_closed(actors, partner, by):
    lead = accepted_lead(actors.tenant_a, partner)
    items = [
        SyncItem(index=0, lead=lead.pk, update={"status": "progress", "note": "Before."}),
        SyncItem(index=1, lead=lead.pk, update={"status": "won", "value": "100.00"}),
        SyncItem(index=2, lead=lead.pk, update={"status": "progress", "note": "After."}),
    ]
    with tenant_context(actors.tenant_a):
        outcomes = sync_updates(items=items, by=by)
        notes = list(WeeklyUpdate.objects.order_by("id").values_list("note", flat=True))
    assert outcomes[0].ok and outcomes[1].ok and list(outcomes[2].errors) == ["stage"]
    assert notes[0] == "Before." and "After." not in notes


@pytest.mark.parametrize("count", [1, 20])
def test_progress_items_cost_the_same_few_queries_whatever_their_number(
    actors, partner, by, count, django_assert_num_queries
):
    leads = [accepted_lead(actors.tenant_a, partner) for _ in range(count)]
    items = [
        SyncItem(index=n, lead=lead.pk, update={"status": "progress", "note": "Called."})
        for n, lead in enumerate(leads)
    ]
    # Savepoint, the leads read and locked, one statement for the updates, the leads' weeks
    # and the sync's audit row, release.
    with tenant_context(actors.tenant_a), django_assert_num_queries(4):
        outcomes = sync_updates(items=items, by=by)
    assert all(outcome.ok for outcome in outcomes)


@pytest.mark.parametrize("count", [1, 20])
def test_touches_add_one_statement_whatever_their_number(
    actors, partner, by, count, django_assert_num_queries
):
    leads = [accepted_lead(actors.tenant_a, partner) for _ in range(count)]
    items = [
        SyncItem(
            index=n,
            lead=lead.pk,
            update={"status": "progress", "touch": {"kind": "call", "outcome": "reached"}},
        )
        for n, lead in enumerate(leads)
    ]
    with tenant_context(actors.tenant_a), django_assert_num_queries(5):
        outcomes = sync_updates(items=items, by=by)
    assert all(outcome.ok for outcome in outcomes)
