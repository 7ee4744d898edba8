"""``/api/v1/leads/``: who sees which leads, filters, tenancy and query counts."""

import pytest
from rest_framework.test import APIClient

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory


@pytest.fixture
def rep_a(actors):
    return make_actor(actors.tenant_a, Role.REP)


@pytest.fixture
def partner_a(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Northwind")


def key_for(partner, system_a) -> APIClient:
    with tenant_context(partner.tenant_id):
        issued = services.issue_api_key(name="integration", partner=partner, by=system_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    return client


def ids(response) -> set[int]:
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_lead_list_has_a_count(actors):
    LeadFactory(tenant=actors.tenant_a)
    LeadFactory(tenant=actors.tenant_a)
    body = actors.owner.api().get("/api/v1/leads/").json()
    assert body["count"] == 2


def test_lead_detail_shows_rep_partner_profile_and_appointment(actors, rep_a, partner_a):
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    lead = LeadFactory(
        tenant=actors.tenant_a,
        inquiry=inquiry,
        rep=rep_a.user,
        partner=partner_a,
        profile={"company": "Buyer Inc", "custom": {"budget": 5}},
        score=70,
        score_breakdown=[{"rule": "title", "points": 70}],
        definition_version=3,
        appointment__location="Room 4",
        appointment__duration_minutes=45,
    )
    body = actors.owner.api().get(f"/api/v1/leads/{lead.pk}/").json()
    assert body["stage"] == "awaiting_acceptance"
    assert (body["inquiry"], body["rep"]) == (inquiry.pk, rep_a.user.email)
    assert body["partner"] == {"id": partner_a.pk, "name": "Northwind"}
    assert (body["score"], body["definition_version"]) == (70, 3)
    assert body["score_breakdown"] == [{"rule": "title", "points": 70}]
    assert body["profile"]["custom"] == {"budget": 5}
    assert body["appointment"]["location"] == "Room 4"
    assert body["appointment"]["duration_minutes"] == 45
    assert set(body) >= {"created_at", "appointment"}


def test_lead_of_another_tenant_is_404(actors):
    lead = LeadFactory(tenant=actors.tenant_a)
    response = actors.outsider.api().get(f"/api/v1/leads/{lead.pk}/")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "code": "not_found", "detail": "Not found."}
    assert actors.outsider.api().get("/api/v1/leads/").json()["count"] == 0


def test_rep_sees_only_own_leads(actors, rep_a):
    own = LeadFactory(tenant=actors.tenant_a, rep=rep_a.user)
    other_rep = make_actor(actors.tenant_a, Role.REP)
    others = LeadFactory(tenant=actors.tenant_a, rep=other_rep.user)
    LeadFactory(tenant=actors.tenant_a)  # not assigned yet
    api = rep_a.api()
    assert ids(api.get("/api/v1/leads/")) == {own.pk}
    assert api.get(f"/api/v1/leads/{others.pk}/").status_code == 404


def test_partner_key_sees_only_its_partners_leads(actors, partner_a, system_a):
    ours = LeadFactory(tenant=actors.tenant_a, partner=partner_a)
    theirs = LeadFactory(tenant=actors.tenant_a, partner=PartnerFactory(tenant=actors.tenant_a))
    LeadFactory(tenant=actors.tenant_a)  # a direct lead
    api = key_for(partner_a, system_a)
    assert ids(api.get("/api/v1/leads/")) == {ours.pk}
    assert api.get(f"/api/v1/leads/{theirs.pk}/").status_code == 404


def test_partner_user_sees_only_its_partners_leads(actors, partner_a):
    partner_user = make_actor(actors.tenant_a, Role.REP, partner=partner_a)
    ours = LeadFactory(tenant=actors.tenant_a, partner=partner_a)
    LeadFactory(tenant=actors.tenant_a, rep=partner_user.user)  # assigned, but a direct lead
    assert ids(partner_user.api().get("/api/v1/leads/")) == {ours.pk}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.QUALIFIER, Role.MARKETER])
def test_marketing_roles_and_managers_see_every_lead(actors, partner_a, rep_a, role):
    leads = {
        LeadFactory(tenant=actors.tenant_a).pk,
        LeadFactory(tenant=actors.tenant_a, rep=rep_a.user).pk,
        LeadFactory(tenant=actors.tenant_a, partner=partner_a).pk,
    }
    assert ids(make_actor(actors.tenant_a, role).api().get("/api/v1/leads/")) == leads


def test_a_tenant_key_with_the_rep_role_sees_no_leads(actors, system_a):
    LeadFactory(tenant=actors.tenant_a)
    with tenant_context(actors.tenant_a):
        issued = services.issue_api_key(name="crm", role=Role.REP, by=system_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    assert ids(client.get("/api/v1/leads/")) == set()


def test_filters_by_stage_and_rep(actors, rep_a):
    mine = LeadFactory(tenant=actors.tenant_a, rep=rep_a.user)
    accepted = LeadFactory(tenant=actors.tenant_a, stage="accepted")
    api = actors.owner.api()
    assert ids(api.get("/api/v1/leads/", {"stage": "accepted"})) == {accepted.pk}
    assert ids(api.get("/api/v1/leads/", {"rep": rep_a.user.pk})) == {mine.pk}


@pytest.mark.parametrize("query", [{"stage": "someday"}, {"rep": "riley"}, {"rep": "1.5"}])
def test_a_bad_filter_is_a_400(actors, query):
    response = actors.owner.api().get("/api/v1/leads/", query)
    assert response.status_code == 400
    assert set(query) <= set(response.json()["errors"])


def test_no_lead_is_made_through_the_leads_api(actors):
    response = actors.owner.api().post("/api/v1/leads/", {}, format="json")
    assert response.status_code == 405


@pytest.mark.parametrize("rows", [1, 12])
def test_lead_list_query_count_does_not_grow_with_rows(
    actors, partner_a, rep_a, django_assert_num_queries, rows
):
    for _ in range(rows):
        LeadFactory(tenant=actors.tenant_a, rep=rep_a.user, partner=partner_a)
    api = actors.owner.api()
    # credential (with its tenant), membership, last-used stamp, count, page
    with django_assert_num_queries(5):
        assert api.get("/api/v1/leads/").json()["count"] == rows
