"""The manager's filters on ``GET /api/v1/leads/`` and ``POST /reassign/`` / ``/reopen/``."""

from datetime import UTC, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from leadflow.lib import weeks
from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, PartnerStatus, Role
from leads.models import Lead
from tests.conftest import make_actor
from tests.factories import LeadFactory, PartnerFactory, TouchFactory, WeeklyUpdateFactory

LONG_AGO = timedelta(days=30)


@pytest.fixture
def manager(actors):
    return make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Morgan Manager")


@pytest.fixture
def rep_b(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Robin Rep")


@pytest.fixture
def partner_a(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Northwind")


def lead_of(actors, owner=None, stage="accepted", age=LONG_AGO, **fields) -> Lead:
    return LeadFactory(
        tenant=actors.tenant_a,
        stage=stage,
        rep=owner.user if owner is not None else None,
        assigned_at=timezone.now() - age,
        **fields,
    )


def this_monday():
    return weeks.week_of_moment(timezone.now(), UTC)


def ids(response) -> set[int]:
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def key_for(partner, actors) -> APIClient:
    from leadflow.tenancy.principal import Principal

    with tenant_context(actors.tenant_a):
        issued = services.issue_api_key(
            name="var", partner=partner, by=Principal.system(actors.tenant_a, "tests")
        )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    return client


# --- filters ---------------------------------------------------------------------------


def test_missing_lists_open_leads_without_this_weeks_update(actors, manager, rep_a):
    missing = lead_of(actors, rep_a)
    reported = lead_of(actors, rep_a)
    WeeklyUpdateFactory(tenant=actors.tenant_a, lead=reported, week=this_monday())
    lead_of(actors, rep_a, stage="won")
    lead_of(actors, rep_a, stage="awaiting_acceptance")
    assert ids(manager.api().get("/api/v1/leads/", {"missing": "true"})) == {missing.pk}


def test_a_rep_asks_missing_for_their_own_leads_only(actors, rep_a, rep_b):
    mine = lead_of(actors, rep_a)
    lead_of(actors, rep_b)
    assert ids(rep_a.api().get("/api/v1/leads/", {"missing": "true"})) == {mine.pk}


def test_a_partners_integration_asks_what_it_must_report_this_week(actors, partner_a, rep_a):
    ours = lead_of(actors, partner=partner_a)
    lead_of(actors, rep_a)
    api = key_for(partner_a, actors)
    assert ids(api.get("/api/v1/leads/", {"missing": "true"})) == {ours.pk}


def test_breached_lists_leads_still_awaiting_after_their_window(actors, manager, rep_a):
    breached = lead_of(actors, rep_a, stage="awaiting_acceptance", breached_at=timezone.now())
    lead_of(actors, rep_a, stage="awaiting_acceptance")
    lead_of(actors, rep_a, stage="accepted", breached_at=timezone.now())
    assert ids(manager.api().get("/api/v1/leads/", {"breached": "true"})) == {breached.pk}


def test_stale_lists_open_leads_untouched_for_14_days(actors, manager, rep_a):
    stale = lead_of(actors, rep_a)
    touched = lead_of(actors, rep_a)
    TouchFactory(tenant=actors.tenant_a, lead=touched, user=rep_a.user, at=timezone.now())
    updated = lead_of(actors, rep_a)
    WeeklyUpdateFactory(tenant=actors.tenant_a, lead=updated, week=this_monday())
    lead_of(actors, rep_a, age=timedelta(days=3))  # new: not stale
    lead_of(actors, rep_a, stage="lost")  # closed: not stale
    old_touch = lead_of(actors, rep_a, stage="sql")
    TouchFactory(
        tenant=actors.tenant_a, lead=old_touch, user=rep_a.user, at=timezone.now() - LONG_AGO
    )
    assert ids(manager.api().get("/api/v1/leads/", {"stale": "true"})) == {stale.pk, old_touch.pk}


def test_owner_filters_by_rep_partner_or_none(actors, manager, rep_a, partner_a):
    by_rep = lead_of(actors, rep_a)
    by_partner = lead_of(actors, partner=partner_a)
    nobody = lead_of(actors)
    api = manager.api()
    assert ids(api.get("/api/v1/leads/", {"owner": f"rep:{rep_a.user.pk}"})) == {by_rep.pk}
    assert ids(api.get("/api/v1/leads/", {"owner": f"partner:{partner_a.pk}"})) == {by_partner.pk}
    assert ids(api.get("/api/v1/leads/", {"owner": "none"})) == {nobody.pk}


def test_stage_open_and_the_new_stages_filter(actors, manager, rep_a):
    awaiting = lead_of(actors, rep_a, stage="awaiting_acceptance")
    sql = lead_of(actors, rep_a, stage="sql")
    no_show = lead_of(actors, rep_a, stage="no_show")
    lead_of(actors, rep_a, stage="won")
    api = manager.api()
    assert ids(api.get("/api/v1/leads/", {"stage": "open"})) == {awaiting.pk, sql.pk}
    assert ids(api.get("/api/v1/leads/", {"stage": "no_show"})) == {no_show.pk}


@pytest.mark.parametrize(
    ("param", "value"),
    [("owner", "rep:x"), ("owner", "12"), ("missing", "yes"), ("stage", "closed")],
)
def test_a_bad_filter_is_a_400_naming_it(actors, manager, param, value):
    response = manager.api().get("/api/v1/leads/", {param: value})
    assert response.status_code == 400
    assert param in str(response.json())


@pytest.mark.parametrize("rows", [3, 30])
def test_the_filtered_list_costs_the_same_queries_whatever_the_rows(
    actors, manager, rep_a, django_assert_num_queries, rows
):
    for _ in range(rows):
        lead_of(actors, rep_a)
    api = manager.api()
    query = {"missing": "true", "stale": "true", "owner": f"rep:{rep_a.user.pk}"}
    assert len(ids(api.get("/api/v1/leads/", query))) == rows
    # token (with its user and tenant), membership, count, page
    with django_assert_num_queries(4):
        api.get("/api/v1/leads/", query)


# --- reassign --------------------------------------------------------------------------


def reassign(api, lead, **body):
    return api.post(f"/api/v1/leads/{lead.pk}/reassign/", body, format="json")


def test_a_manager_reassigns_a_lead_to_a_rep(actors, manager, rep_a, rep_b):
    lead = lead_of(actors, rep_a)
    response = reassign(manager.api(), lead, rep=rep_b.user.pk, reason="Riley is away")
    assert response.status_code == 200, response.json()
    assert response.json()["rep"] == rep_b.user.email
    with tenant_context(actors.tenant_a):
        assert Lead.objects.get(pk=lead.pk).rep_id == rep_b.user.pk
        assert AuditEvent.objects.get(action="lead.reassigned").after["reason"] == "Riley is away"


def test_a_manager_gives_a_lead_to_a_partner(actors, manager, rep_a, partner_a):
    lead = lead_of(actors, rep_a)
    response = reassign(manager.api(), lead, partner=partner_a.pk)
    assert response.json()["partner"] == {"id": partner_a.pk, "name": "Northwind"}
    assert response.json()["rep"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "rep"), ({"rep": 1, "partner": 1}, "rep"), ({"rep": 999999}, "rep")],
)
def test_a_bad_reassign_is_a_400_naming_the_field(actors, manager, rep_a, body, field):
    lead = lead_of(actors, rep_a)
    response = reassign(manager.api(), lead, **body)
    assert response.status_code == 400
    assert field in str(response.json())
    with tenant_context(actors.tenant_a):
        assert Lead.objects.get(pk=lead.pk).rep_id == rep_a.user.pk


def test_reassigning_to_a_marketer_or_a_suspended_partner_is_a_400(actors, manager, rep_a):
    lead = lead_of(actors, rep_a)
    suspended = PartnerFactory(tenant=actors.tenant_a, status=PartnerStatus.SUSPENDED)
    assert reassign(manager.api(), lead, rep=actors.teammate.user.pk).status_code == 400
    assert reassign(manager.api(), lead, partner=suspended.pk).status_code == 400


def test_reassigning_a_closed_lead_is_a_409(actors, manager, rep_a, rep_b):
    lead = lead_of(actors, rep_a, stage="won")
    assert reassign(manager.api(), lead, rep=rep_b.user.pk).status_code == 409


def test_a_rep_who_sees_the_lead_may_not_reassign_it(actors, rep_a, rep_b):
    lead = lead_of(actors, rep_a)
    assert reassign(rep_a.api(), lead, rep=rep_b.user.pk).status_code == 403


def test_a_rep_gets_404_on_another_reps_lead(actors, rep_a, rep_b):
    lead = lead_of(actors, rep_b)
    assert reassign(rep_a.api(), lead, rep=rep_a.user.pk).status_code == 404
    assert rep_a.api().post(f"/api/v1/leads/{lead.pk}/reopen/").status_code == 404


def test_a_marketer_who_sees_every_lead_may_not_reassign(actors, rep_a, rep_b):
    lead = lead_of(actors, rep_a)
    assert reassign(actors.teammate.api(), lead, rep=rep_b.user.pk).status_code == 403


def test_a_partner_may_not_reassign_its_own_lead(actors, partner_a, rep_a):
    lead = lead_of(actors, partner=partner_a)
    assert reassign(key_for(partner_a, actors), lead, rep=rep_a.user.pk).status_code == 403


def test_another_tenants_lead_is_404_on_reassign_and_reopen(actors, rep_a):
    foreign = LeadFactory(tenant=actors.tenant_b, stage="won")
    api = actors.outsider.api()
    assert reassign(api, lead_of(actors, rep_a), rep=actors.outsider.user.pk).status_code == 404
    mine = actors.owner.api()
    assert reassign(mine, foreign, rep=rep_a.user.pk).status_code == 404
    assert mine.post(f"/api/v1/leads/{foreign.pk}/reopen/").status_code == 404


def test_another_tenants_rep_is_no_such_member(actors, manager, rep_a):
    lead = lead_of(actors, rep_a)
    response = reassign(manager.api(), lead, rep=actors.outsider.user.pk)
    assert response.status_code == 400


def test_a_reassign_replayed_with_its_idempotency_key_changes_once(actors, manager, rep_a, rep_b):
    lead = lead_of(actors, rep_a)
    api = manager.api()
    url = f"/api/v1/leads/{lead.pk}/reassign/"
    for _ in range(2):
        response = api.post(
            url, {"rep": rep_b.user.pk}, format="json", HTTP_IDEMPOTENCY_KEY="reassign-1"
        )
        assert response.status_code == 200
    with tenant_context(actors.tenant_a):
        assert AuditEvent.objects.filter(action="lead.reassigned").count() == 1


# --- reopen ----------------------------------------------------------------------------


def reopen(api, lead, **body):
    return api.post(f"/api/v1/leads/{lead.pk}/reopen/", body, format="json")


def test_a_manager_reopens_a_closed_lead(actors, manager, rep_a):
    lead = lead_of(actors, rep_a, stage="lost", lost_reason="no budget")
    response = reopen(manager.api(), lead, reason="They found budget")
    assert response.status_code == 200, response.json()
    assert response.json()["stage"] == "accepted"
    with tenant_context(actors.tenant_a):
        assert Lead.objects.get(pk=lead.pk).lost_reason == ""


def test_reopening_an_open_lead_is_a_409(actors, manager, rep_a):
    assert reopen(manager.api(), lead_of(actors, rep_a)).status_code == 409


def test_a_rep_may_not_reopen_their_own_lead(actors, rep_a):
    lead = lead_of(actors, rep_a, stage="lost")
    assert reopen(rep_a.api(), lead).status_code == 403
    with tenant_context(actors.tenant_a):
        assert Lead.objects.get(pk=lead.pk).stage == "lost"


def test_a_too_long_reopen_reason_is_a_400(actors, manager, rep_a):
    lead = lead_of(actors, rep_a, stage="lost")
    response = reopen(manager.api(), lead, reason="x" * 201)
    assert response.status_code == 400 and "reason" in response.json()["errors"]


def test_reassign_and_reopen_are_in_the_openapi_schema(actors):
    schema = actors.owner.api().get("/api/v1/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert "post" in paths["/api/v1/leads/{id}/reassign/"]
    assert "post" in paths["/api/v1/leads/{id}/reopen/"]
    names = {p["name"] for p in paths["/api/v1/leads/"]["get"]["parameters"]}
    assert {"missing", "breached", "stale", "owner", "stage"} <= names


def test_an_owner_id_past_the_column_is_a_400(actors, manager):
    response = manager.api().get("/api/v1/leads/", {"owner": "rep:9999999999999999999"})
    assert response.status_code == 400
