"""``POST /api/v1/leads/sync/``: many weekly updates at once, each saved or refused on its own."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent
from leads.models import Lead, Touch, WeeklyUpdate
from leads.services.sync import MAX_ITEMS, SyncItem, sync_updates
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory

URL = "/api/v1/leads/sync/"


@pytest.fixture
def partner(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Northwind")


@pytest.fixture
def client(partner, system_a) -> APIClient:
    with tenant_context(partner.tenant_id):
        issued = services.issue_api_key(name="integration", partner=partner, by=system_a)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    return api


def accepted_lead(tenant, partner, **fields):
    inquiry = InquiryFactory(
        tenant=tenant, stage="lead", created_at=timezone.now() - timedelta(days=60)
    )
    return LeadFactory(
        tenant=tenant,
        inquiry=inquiry,
        partner=partner,
        stage="accepted",
        assigned_at=timezone.now() - timedelta(days=30),
        **fields,
    )


def updates_of(actors, lead) -> int:
    with tenant_context(actors.tenant_a):
        return WeeklyUpdate.objects.filter(lead_id=lead.pk).count()


def sync(client, items, **headers):
    return client.post(URL, {"items": items}, format="json", **headers)


def test_each_item_gets_its_update(actors, partner, client):
    first, second = accepted_lead(actors.tenant_a, partner), accepted_lead(actors.tenant_a, partner)
    response = sync(
        client,
        [
            {"lead": first.pk, "status": "progress", "note": "Demo booked."},
            {
                "lead": second.pk,
                "status": "progress",
                "touch": {"kind": "call", "outcome": "reached"},
            },
        ],
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["saved"], body["failed"]) == (2, 0)
    with tenant_context(actors.tenant_a):
        saved = {u.lead_id: u for u in WeeklyUpdate.objects.all()}
    assert [item["update"] for item in body["items"]] == [saved[first.pk].pk, saved[second.pk].pk]
    assert saved[second.pk].touch_id is not None and saved[second.pk].partner_id == partner.pk


def test_a_bad_item_fails_alone_and_says_why(actors, partner, client):
    good, bad = accepted_lead(actors.tenant_a, partner), accepted_lead(actors.tenant_a, partner)
    body = sync(
        client,
        [
            {"lead": good.pk, "status": "progress", "note": "Called."},
            {"lead": bad.pk, "status": "won"},
            {"lead": good.pk, "status": "progress", "note": "Called again.", "week": "2026-W99"},
        ],
    ).json()
    assert (body["saved"], body["failed"]) == (1, 2)
    assert body["items"][0]["ok"] is True
    assert body["items"][1] == {
        "index": 1,
        "lead": bad.pk,
        "ok": False,
        "errors": body["items"][1]["errors"],
    }
    assert list(body["items"][1]["errors"]) == ["value"]
    assert list(body["items"][2]["errors"]) == ["week"]
    assert (updates_of(actors, good), updates_of(actors, bad)) == (1, 0)
    with tenant_context(actors.tenant_a):
        assert Lead.objects.get(pk=bad.pk).stage == "accepted"


def test_an_item_of_the_wrong_shape_fails_alone(actors, partner, client):
    lead = accepted_lead(actors.tenant_a, partner)
    body = sync(
        client,
        [
            {"lead": lead.pk, "status": "progress", "note": "Fine."},
            {"lead": lead.pk, "status": "maybe"},
            {"lead": lead.pk, "status": "progress", "colour": "red"},
            "not an object",
        ],
    ).json()
    assert [item["ok"] for item in body["items"]] == [True, False, False, False]
    assert list(body["items"][1]["errors"]) == ["status"]
    assert list(body["items"][2]["errors"]) == ["colour"]
    assert body["items"][3] == {
        "index": 3,
        "lead": None,
        "ok": False,
        "errors": {"item": ["Each item is an object."]},
    }
    assert updates_of(actors, lead) == 1


def test_a_refused_touch_leaves_no_update_behind(actors, partner, client):
    lead = accepted_lead(actors.tenant_a, partner)
    future = (timezone.now() + timedelta(days=2)).isoformat()
    body = sync(
        client,
        [
            {
                "lead": lead.pk,
                "status": "progress",
                "touch": {"kind": "call", "outcome": "reached", "at": future},
            }
        ],
    ).json()
    assert list(body["items"][0]["errors"]) == ["touch"]
    with tenant_context(actors.tenant_a):
        assert (Touch.objects.count(), WeeklyUpdate.objects.count()) == (0, 0)


def test_an_item_sets_the_next_step_with_its_update(actors, partner, client):
    lead = accepted_lead(actors.tenant_a, partner)
    on = (timezone.now() + timedelta(days=5)).date().isoformat()
    body = sync(
        client,
        [
            {
                "lead": lead.pk,
                "status": "progress",
                "note": "Met.",
                "next_step": {"on": on, "action": "Send the quote"},
            }
        ],
    ).json()
    assert body["items"][0]["ok"] is True
    with tenant_context(actors.tenant_a):
        stored = Lead.objects.get(pk=lead.pk)
    assert (stored.next_step_on.isoformat(), stored.next_step) == (on, "Send the quote")


def test_a_refused_next_step_undoes_the_items_update(actors, partner, client):
    lead = accepted_lead(actors.tenant_a, partner)
    body = sync(
        client,
        [
            {
                "lead": lead.pk,
                "status": "progress",
                "note": "Met.",
                "next_step": {"action": "Call back"},
            }
        ],
    ).json()
    assert body["items"][0]["errors"] == {"next_step.on": ["When is the next step? Give its date."]}
    assert updates_of(actors, lead) == 0


def test_a_won_item_closes_the_lead_through_the_same_service(actors, partner, client):
    lead = accepted_lead(actors.tenant_a, partner)
    body = sync(
        client, [{"lead": lead.pk, "status": "won", "value": "12500.00", "note": "Signed."}]
    ).json()
    assert body["items"][0]["ok"] is True
    with tenant_context(actors.tenant_a):
        stored = Lead.objects.get(pk=lead.pk)
        audited = AuditEvent.objects.filter(action="lead.weekly_update", object_id=str(lead.pk))
        assert audited.count() == 1
    assert (stored.stage, str(stored.value)) == ("won", "12500.00")


def test_another_partners_lead_fails_as_not_found(actors, partner, client):
    other = accepted_lead(actors.tenant_a, PartnerFactory(tenant=actors.tenant_a))
    direct = LeadFactory(tenant=actors.tenant_a, stage="accepted")
    body = sync(
        client,
        [
            {"lead": other.pk, "status": "progress", "note": "x"},
            {"lead": direct.pk, "status": "progress", "note": "x"},
        ],
    ).json()
    assert [item["errors"] for item in body["items"]] == [{"lead": ["Not found."]}] * 2
    assert (updates_of(actors, other), updates_of(actors, direct)) == (0, 0)


def test_another_tenants_lead_fails_exactly_like_a_missing_one(actors, partner, client):
    with tenant_context(actors.tenant_b):
        foreign = accepted_lead(actors.tenant_b, PartnerFactory(tenant=actors.tenant_b))
    body = sync(
        client,
        [
            {"lead": foreign.pk, "status": "progress", "note": "x"},
            {"lead": 2**62, "status": "progress", "note": "x"},
        ],
    ).json()
    assert body["items"][0]["errors"] == body["items"][1]["errors"] == {"lead": ["Not found."]}
    with tenant_context(actors.tenant_b):
        assert WeeklyUpdate.objects.count() == 0


def test_more_than_a_thousand_items_is_a_400_and_writes_nothing(actors, partner, client):
    lead = accepted_lead(actors.tenant_a, partner)
    items = [{"lead": lead.pk, "status": "progress", "note": "x"}] * (MAX_ITEMS + 1)
    response = sync(client, items)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["items"]
    assert updates_of(actors, lead) == 0


def test_no_items_is_a_400(client):
    response = client.post(URL, {"items": []}, format="json")
    assert (response.status_code, list(response.json()["errors"])) == (400, ["items"])


def test_a_replayed_sync_answers_the_same_and_writes_once(actors, partner, client):
    lead = accepted_lead(actors.tenant_a, partner)
    items = [{"lead": lead.pk, "status": "progress", "note": "Called."}]
    key = f"sync-{uuid.uuid4()}"
    first = sync(client, items, HTTP_IDEMPOTENCY_KEY=key)
    again = sync(client, items, HTTP_IDEMPOTENCY_KEY=key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert updates_of(actors, lead) == 1


def test_the_same_key_with_another_body_is_a_422(actors, partner, client):
    lead = accepted_lead(actors.tenant_a, partner)
    sync(client, [{"lead": lead.pk, "status": "progress", "note": "a"}], HTTP_IDEMPOTENCY_KEY="k1")
    other = sync(
        client, [{"lead": lead.pk, "status": "progress", "note": "b"}], HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert other.status_code == 422
    assert updates_of(actors, lead) == 1


def test_a_marketer_who_sees_but_does_not_own_the_lead_is_refused_per_item(actors, partner):
    lead = accepted_lead(actors.tenant_a, partner)
    body = sync(
        actors.teammate.api(), [{"lead": lead.pk, "status": "progress", "note": "x"}]
    ).json()
    assert list(body["items"][0]["errors"]) == ["lead"] and updates_of(actors, lead) == 0


def test_the_leads_are_read_once_and_each_item_costs_six_queries(
    actors, partner, system_a, django_assert_max_num_queries
):
    leads = [accepted_lead(actors.tenant_a, partner) for _ in range(20)]
    by = system_a.__class__(tenant=actors.tenant_a, role=None, via="api_key", partner=partner)
    items = [
        SyncItem(index=i, lead=lead.pk, update={"status": "progress", "note": "Called."})
        for i, lead in enumerate(leads)
    ]
    # The leads (1), the batch's savepoint (2); per item: savepoint, lock, insert, mark, audit,
    # release.
    with tenant_context(actors.tenant_a), django_assert_max_num_queries(3 + 20 * 6):
        outcomes = sync_updates(items=items, by=by)
    assert all(outcome.ok for outcome in outcomes)
