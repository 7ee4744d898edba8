"""`/api/v1/leads/{id}/touches/` and `/updates/`: owners post, others 404/403, retries replay."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Lead, Touch, WeeklyUpdate
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory, TouchFactory


@pytest.fixture
def lead(actors, rep_a):
    inquiry = InquiryFactory(
        tenant=actors.tenant_a, stage="lead", created_at=timezone.now() - timedelta(days=40)
    )
    return LeadFactory(
        tenant=actors.tenant_a,
        inquiry=inquiry,
        rep=rep_a.user,
        stage="accepted",
        assigned_at=timezone.now() - timedelta(days=21),
    )


def key_for(partner, system_a) -> APIClient:
    with tenant_context(partner.tenant_id):
        issued = services.issue_api_key(name="integration", partner=partner, by=system_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    return client


def count(actors, model) -> int:
    with tenant_context(actors.tenant_a):
        return model.objects.count()


def test_the_owner_posts_a_touch_and_gets_201(actors, rep_a, lead):
    response = rep_a.api().post(
        f"/api/v1/leads/{lead.pk}/touches/",
        {"kind": "call", "outcome": "reached", "note": "Wants a demo."},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["lead"], body["kind"], body["user"]) == (lead.pk, "call", rep_a.user.email)


def test_the_touches_of_the_lead_are_listed_newest_first(actors, rep_a, lead):
    old = TouchFactory(tenant=actors.tenant_a, lead=lead, at=timezone.now() - timedelta(days=2))
    new = TouchFactory(tenant=actors.tenant_a, lead=lead, at=timezone.now())
    body = rep_a.api().get(f"/api/v1/leads/{lead.pk}/touches/").json()
    assert [row["id"] for row in body["results"]] == [new.pk, old.pk]


def test_a_retried_touch_with_the_same_idempotency_key_replays_without_a_second_touch(
    actors, rep_a, lead
):
    api = rep_a.api()
    payload = {"kind": "email", "outcome": "replied"}
    first = api.post(
        f"/api/v1/leads/{lead.pk}/touches/", payload, format="json", HTTP_IDEMPOTENCY_KEY="t-1"
    )
    again = api.post(
        f"/api/v1/leads/{lead.pk}/touches/", payload, format="json", HTTP_IDEMPOTENCY_KEY="t-1"
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert count(actors, Touch) == 1


def test_a_touch_with_an_unknown_kind_is_a_400_naming_kind(actors, rep_a, lead):
    response = rep_a.api().post(
        f"/api/v1/leads/{lead.pk}/touches/", {"kind": "fax", "outcome": "reached"}, format="json"
    )
    assert response.status_code == 400 and "kind" in response.json()["errors"]


def test_a_touch_in_the_future_is_a_400_naming_at(actors, rep_a, lead):
    at = (timezone.now() + timedelta(days=1)).isoformat()
    response = rep_a.api().post(
        f"/api/v1/leads/{lead.pk}/touches/",
        {"kind": "call", "outcome": "reached", "at": at},
        format="json",
    )
    assert response.status_code == 400 and "at" in response.json()["errors"]


def test_another_reps_lead_is_a_404_for_touches_and_updates(actors, lead):
    other = make_actor(actors.tenant_a, Role.REP).api()
    touch = other.post(
        f"/api/v1/leads/{lead.pk}/touches/", {"kind": "call", "outcome": "reached"}, format="json"
    )
    update = other.post(
        f"/api/v1/leads/{lead.pk}/updates/", {"status": "progress", "note": "x"}, format="json"
    )
    assert (touch.status_code, update.status_code) == (404, 404)
    assert other.get(f"/api/v1/leads/{lead.pk}/updates/").status_code == 404


def test_another_tenants_lead_is_a_404(actors, lead):
    api = actors.outsider.api()
    assert api.get(f"/api/v1/leads/{lead.pk}/touches/").status_code == 404
    response = api.post(
        f"/api/v1/leads/{lead.pk}/updates/", {"status": "progress", "note": "x"}, format="json"
    )
    assert response.status_code == 404


def test_a_marketer_who_sees_the_lead_may_not_report_on_it(actors, lead):
    response = actors.teammate.api().post(
        f"/api/v1/leads/{lead.pk}/updates/", {"status": "progress", "note": "x"}, format="json"
    )
    assert response.status_code == 403
    assert count(actors, WeeklyUpdate) == 0


def test_the_owner_posts_an_update_with_a_touch_and_gets_the_stage(actors, rep_a, lead):
    response = rep_a.api().post(
        f"/api/v1/leads/{lead.pk}/updates/",
        {"status": "progress", "touch": {"kind": "meeting", "outcome": "meeting_set"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["lead_stage"] == "accepted" and body["touch"]["kind"] == "meeting"
    assert body["late"] is False


def test_a_won_update_returns_the_won_stage(actors, rep_a, lead):
    response = rep_a.api().post(
        f"/api/v1/leads/{lead.pk}/updates/",
        {"status": "won", "value": "4200.50", "note": "Signed"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["lead_stage"] == "won"


def test_a_won_update_without_value_is_a_400_naming_value(actors, rep_a, lead):
    response = rep_a.api().post(
        f"/api/v1/leads/{lead.pk}/updates/", {"status": "won"}, format="json"
    )
    assert response.status_code == 400 and "value" in response.json()["errors"]


def test_an_update_on_a_closed_lead_is_a_409(actors, rep_a, lead):
    with tenant_context(actors.tenant_a):
        Lead.objects.filter(pk=lead.pk).update(stage="lost")
    response = rep_a.api().post(
        f"/api/v1/leads/{lead.pk}/updates/", {"status": "progress", "note": "x"}, format="json"
    )
    assert response.status_code == 409


def test_an_update_for_a_future_week_is_a_400_naming_week(actors, rep_a, lead):
    response = rep_a.api().post(
        f"/api/v1/leads/{lead.pk}/updates/",
        {"status": "progress", "note": "x", "week": "2099-W01"},
        format="json",
    )
    assert response.status_code == 400 and "week" in response.json()["errors"]


def test_a_retried_update_replays_the_same_201_and_writes_once(actors, rep_a, lead):
    api = rep_a.api()
    payload = {
        "status": "progress",
        "note": "Called",
        "touch": {"kind": "call", "outcome": "reached"},
    }
    url = f"/api/v1/leads/{lead.pk}/updates/"
    first = api.post(url, payload, format="json", HTTP_IDEMPOTENCY_KEY="u-1")
    again = api.post(url, payload, format="json", HTTP_IDEMPOTENCY_KEY="u-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert (count(actors, WeeklyUpdate), count(actors, Touch)) == (1, 1)


def test_a_partner_key_posts_on_its_partners_lead(actors, system_a):
    partner = PartnerFactory(tenant=actors.tenant_a)
    lead = LeadFactory(tenant=actors.tenant_a, partner=partner, stage="sql")
    response = key_for(partner, system_a).post(
        f"/api/v1/leads/{lead.pk}/updates/", {"status": "progress", "note": "Met"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert (response.json()["partner"], response.json()["user"]) == (partner.pk, None)


def test_a_partner_key_gets_404_on_a_direct_lead(actors, system_a, lead):
    partner = PartnerFactory(tenant=actors.tenant_a)
    response = key_for(partner, system_a).post(
        f"/api/v1/leads/{lead.pk}/touches/", {"kind": "call", "outcome": "reached"}, format="json"
    )
    assert response.status_code == 404


def test_the_updates_of_the_lead_are_listed(actors, rep_a, lead):
    rep_a.api().post(
        f"/api/v1/leads/{lead.pk}/updates/", {"status": "progress", "note": "x"}, format="json"
    )
    body = rep_a.api().get(f"/api/v1/leads/{lead.pk}/updates/").json()
    assert [row["note"] for row in body["results"]] == ["x"]


def test_the_touch_and_update_endpoints_are_in_the_openapi_schema_with_examples(actors):
    schema = actors.owner.api().get("/api/v1/schema/?format=json").json()
    touches = schema["paths"]["/api/v1/leads/{id}/touches/"]["post"]
    updates = schema["paths"]["/api/v1/leads/{id}/updates/"]["post"]
    assert touches["requestBody"]["content"]["application/json"]["examples"]
    assert "Won" in updates["requestBody"]["content"]["application/json"]["examples"]


def list_queries(api, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert api.get(url).status_code == 200
    return len(captured)


def test_listing_touches_and_updates_takes_as_many_queries_for_20_as_for_2(actors, rep_a, lead):
    api = rep_a.api()
    for _ in range(2):
        api.post(
            f"/api/v1/leads/{lead.pk}/updates/",
            {"status": "progress", "week": "", "touch": {"kind": "call", "outcome": "reached"}},
            format="json",
        )
    few = [list_queries(api, f"/api/v1/leads/{lead.pk}/{kind}/") for kind in ("touches", "updates")]
    for _ in range(18):
        api.post(
            f"/api/v1/leads/{lead.pk}/updates/",
            {"status": "progress", "touch": {"kind": "email", "outcome": "replied"}},
            format="json",
        )
    many = [
        list_queries(api, f"/api/v1/leads/{lead.pk}/{kind}/") for kind in ("touches", "updates")
    ]
    assert few == many
