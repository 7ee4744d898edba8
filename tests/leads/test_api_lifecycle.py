"""``POST /api/v1/leads/{id}/accept|reject|qualify|next-step/``: rules, refusals, who may."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role, StageChange
from leads.models import Lead
from leads.services.booking import book_appointment
from tests.conftest import make_actor
from tests.factories import InquiryFactory, PartnerFactory

BANT = {"budget": "50k", "authority": "VP", "need": "tracking", "timeline": "Q3"}


def book(actors, rep=None, partner=None):
    inquiry = InquiryFactory(tenant=actors.tenant_a, stage="mql", partner=partner)
    with tenant_context(actors.tenant_a):
        return book_appointment(
            inquiry=inquiry,
            starts_at=timezone.now() + timedelta(days=3),
            rep=rep.user if rep else None,
            by=actors.teammate.principal,
        )


@pytest.fixture
def lead(actors, rep_a):
    return book(actors, rep=rep_a)


def post(actor_or_client, lead, what, body=None, **headers):
    client = actor_or_client.api() if hasattr(actor_or_client, "api") else actor_or_client
    return client.post(f"/api/v1/leads/{lead.pk}/{what}/", body or {}, format="json", **headers)


def stage_of(actors, lead) -> str:
    with tenant_context(actors.tenant_a):
        return Lead.objects.get(pk=lead.pk).stage


def test_the_rep_accepts_and_gets_the_lead_with_its_lifecycle_fields(actors, lead, rep_a):
    response = post(rep_a, lead, "accept")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["stage"] == "accepted" and body["accepted_at"] is not None
    assert body["owner"] == {"type": "rep", "id": rep_a.user.pk, "name": "Riley Rep"}
    assert body["breached"] is False and body["acceptance_due_at"] is not None
    for name in ("budget", "value", "closed_on", "lost_reason", "postponed_until", "next_step_on"):
        assert name in body


def test_accept_honours_the_idempotency_key(actors, lead, rep_a):
    first = post(rep_a, lead, "accept", HTTP_IDEMPOTENCY_KEY="accept-1")
    again = post(rep_a, lead, "accept", HTTP_IDEMPOTENCY_KEY="accept-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"
    with tenant_context(actors.tenant_a):
        assert StageChange.objects.filter(machine="lead", object_id=lead.pk).count() == 1


def test_accepting_twice_without_a_key_is_a_409(actors, lead, rep_a):
    post(rep_a, lead, "accept")
    response = post(rep_a, lead, "accept")
    assert (response.status_code, response.json()["code"]) == (409, "already_accepted")


def test_another_reps_lead_is_a_404_on_every_action(actors, lead):
    other = make_actor(actors.tenant_a, Role.REP)
    for what, body in (
        ("accept", {}),
        ("reject", {"kind": "cannot_serve"}),
        ("qualify", BANT),
        ("next-step", {}),
    ):
        assert post(other, lead, what, body).status_code == 404
    assert stage_of(actors, lead) == "awaiting_acceptance"


def test_another_tenants_lead_is_a_404_on_every_action(actors, lead):
    for what, body in (
        ("accept", {}),
        ("reject", {"kind": "cannot_serve"}),
        ("qualify", BANT),
        ("next-step", {}),
    ):
        assert post(actors.outsider, lead, what, body).status_code == 404


def test_a_marketer_who_sees_the_lead_may_not_accept_it(actors, lead):
    assert post(actors.teammate, lead, "accept").status_code == 403
    assert stage_of(actors, lead) == "awaiting_acceptance"


def test_a_partner_key_accepts_and_rejects_its_partners_leads(actors, system_a):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    with tenant_context(actors.tenant_a):
        issued = services.issue_api_key(name="crm", partner=partner, by=system_a)
    key = APIClient()
    key.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    first, second = book(actors, partner=partner), book(actors, partner=partner)
    accepted = post(key, first, "accept")
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["owner"] == {"type": "partner", "id": partner.pk, "name": "Northwind"}
    rejected = post(key, second, "reject", {"kind": "not_a_lead", "reason": "a competitor"})
    assert rejected.status_code == 200 and rejected.json()["stage"] == "rejected"


def test_a_partner_key_gets_404_on_a_lead_of_the_tenants_rep(actors, lead, system_a):
    partner = PartnerFactory(tenant=actors.tenant_a)
    with tenant_context(actors.tenant_a):
        issued = services.issue_api_key(name="crm", partner=partner, by=system_a)
    key = APIClient()
    key.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    assert post(key, lead, "accept").status_code == 404


def test_an_unknown_reject_kind_is_a_400_naming_kind(actors, lead, rep_a):
    response = post(rep_a, lead, "reject", {"kind": "spam", "reason": "x"})
    assert response.status_code == 400 and "kind" in response.json()["errors"]


def test_not_a_lead_without_a_reason_is_a_400_naming_reason(actors, lead, rep_a):
    response = post(rep_a, lead, "reject", {"kind": "not_a_lead"})
    assert response.status_code == 400 and "reason" in response.json()["errors"]
    assert stage_of(actors, lead) == "awaiting_acceptance"


def test_cannot_serve_answers_the_lead_with_no_owner(actors, lead, rep_a):
    response = post(rep_a, lead, "reject", {"kind": "cannot_serve", "reason": "not my region"})
    body = response.json()
    assert response.status_code == 200, body
    assert (body["owner"], body["stage"], body["reject_kind"]) == (
        None,
        "awaiting_acceptance",
        "cannot_serve",
    )


def test_qualify_names_every_missing_field(actors, lead, rep_a):
    post(rep_a, lead, "accept")
    response = post(rep_a, lead, "qualify", {"budget": "50k"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"authority", "need", "timeline"}


def test_qualify_makes_an_accepted_lead_sql(actors, lead, rep_a):
    post(rep_a, lead, "accept")
    response = post(rep_a, lead, "qualify", BANT)
    assert response.status_code == 200 and response.json()["stage"] == "sql"
    assert response.json()["need"] == "tracking"


def test_qualifying_a_lead_awaiting_acceptance_is_a_400(actors, lead, rep_a):
    response = post(rep_a, lead, "qualify", BANT)
    assert (response.status_code, response.json()["code"]) == (400, "not_accepted")


def test_next_step_sets_the_date_and_action(actors, lead, rep_a):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = post(rep_a, lead, "next-step", {"on": tomorrow, "action": "Send pricing"})
    assert response.status_code == 200
    assert (response.json()["next_step_on"], response.json()["next_step"]) == (
        tomorrow,
        "Send pricing",
    )


def test_a_next_step_in_the_past_is_a_400_naming_on(actors, lead, rep_a):
    response = post(rep_a, lead, "next-step", {"on": "2000-01-01", "action": "Call"})
    assert response.status_code == 400 and "on" in response.json()["errors"]


def test_an_unknown_field_is_refused(actors, lead, rep_a):
    response = post(rep_a, lead, "next-step", {"when": "tomorrow"})
    assert response.status_code == 400 and "when" in response.json()["errors"]


def test_the_actions_are_in_the_openapi_schema_with_examples(actors):
    schema = actors.owner.api().get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for what in ("accept", "reject", "qualify", "next-step"):
        operation = paths[f"/api/v1/leads/{{id}}/{what}/"]["post"]
        assert "200" in operation["responses"] and "409" in operation["responses"]
    reject = paths["/api/v1/leads/{id}/reject/"]["post"]
    assert "examples" in reject["requestBody"]["content"]["application/json"]
