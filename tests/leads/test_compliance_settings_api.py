"""The reporting rule's settings, the hand suspension by managers, and the router's skip."""

import pytest
from django.test import Client

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Partner, Role
from leadflow.tenancy.principal import Principal
from leads.models import AssignmentKind, LeadSettings
from leads.selectors.settings import lead_settings
from leads.services.routing import route_leads
from leads.services.settings import update_lead_settings
from tests.conftest import make_actor
from tests.factories import (
    InquiryFactory,
    LeadFactory,
    PartnerFactory,
    TeamFactory,
    TeamMemberFactory,
)
from tests.leads.test_settings import form

PAGE = "/settings/leads/"
API = "/api/v1/lead-settings/"


@pytest.fixture
def manager(actors):
    return make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Morgan Manager")


@pytest.fixture
def partner(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Northwind")


def stored(tenant) -> LeadSettings:
    with tenant_context(tenant):
        return lead_settings()


def partner_status(tenant, partner) -> str:
    with tenant_context(tenant):
        return Partner.objects.get(pk=partner.pk).status


# --- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize("weeks", [0, 9, "two", None])
def test_suspend_after_weeks_is_1_to_8(actors, weeks):
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        update_lead_settings(by=actors.owner.principal, suspend_after_weeks=weeks)
    assert refused.value.field == "suspend_after_weeks"
    assert not LeadSettings.dangerously_all_tenants.exists()


def test_recall_on_suspension_must_be_true_or_false(actors):
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        update_lead_settings(by=actors.owner.principal, recall_on_suspension="yes")
    assert refused.value.field == "recall_on_suspension"


def test_the_api_changes_both_rules_and_reads_them_back(actors, manager):
    response = manager.api().patch(
        API, {"suspend_after_weeks": 3, "recall_on_suspension": True}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["suspend_after_weeks"], response.json()["recall_on_suspension"]) == (
        3,
        True,
    )
    row = stored(actors.tenant_a)
    assert (row.suspend_after_weeks, row.recall_on_suspension) == (3, True)


def test_the_api_refuses_nine_weeks_on_its_field(actors, manager):
    response = manager.api().patch(API, {"suspend_after_weeks": 9}, format="json")
    assert response.status_code == 400
    assert "suspend_after_weeks" in response.json()["errors"]
    assert stored(actors.tenant_a).suspend_after_weeks == 2


def test_the_page_saves_both_rules(actors, manager):
    client = Client()
    client.force_login(manager.user)
    response = client.post(PAGE, form(suspend_after_weeks="4", recall_on_suspension="on"))
    assert response.status_code == 302
    row = stored(actors.tenant_a)
    assert (row.suspend_after_weeks, row.recall_on_suspension) == (4, True)


def test_the_page_shows_a_refused_week_count_on_its_field(actors, manager):
    client = Client()
    client.force_login(manager.user)
    response = client.post(PAGE, form(suspend_after_weeks="12"))
    assert response.status_code == 400
    assert "Give a whole number from 1 to 8." in response.content.decode()
    assert not LeadSettings.dangerously_all_tenants.exists()


# --- suspending by hand -----------------------------------------------------------------


def test_a_manager_may_suspend_a_partner_through_the_api(actors, manager, partner):
    response = manager.api().post(f"/api/v1/partners/{partner.pk}/suspend/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "suspended"
    with tenant_context(actors.tenant_a):
        after = Partner.objects.get(pk=partner.pk)
        event = AuditEvent.objects.get(action="partner.suspended", object_id=str(partner.pk))
    assert after.suspended_by_rule is False
    assert event.after["by_rule"] is False


def test_a_manager_may_reactivate_a_partner_through_the_api(actors, manager, partner):
    manager.api().post(f"/api/v1/partners/{partner.pk}/suspend/")
    response = manager.api().post(f"/api/v1/partners/{partner.pk}/reactivate/")
    assert response.status_code == 200
    assert partner_status(actors.tenant_a, partner) == "active"


@pytest.mark.parametrize("change", ["suspend", "reactivate"])
def test_a_rep_may_not_suspend_or_reactivate(actors, partner, change):
    rep = make_actor(actors.tenant_a, Role.REP)
    response = rep.api().post(f"/api/v1/partners/{partner.pk}/{change}/")
    assert response.status_code == 403
    assert partner_status(actors.tenant_a, partner) == "active"


def test_another_tenants_partner_answers_404(actors, manager):
    theirs = PartnerFactory(tenant=actors.tenant_b, name="Elsewhere")
    response = manager.api().post(f"/api/v1/partners/{theirs.pk}/suspend/")
    assert response.status_code == 404
    assert partner_status(actors.tenant_b, theirs) == "active"


def test_a_manager_may_suspend_from_the_partner_page(actors, manager, partner):
    client = Client()
    client.force_login(manager.user)
    page = client.get(f"/partners/{partner.pk}/").content.decode()
    assert "Suspend (stops leads and API access)" in page
    response = client.post(f"/partners/{partner.pk}/suspend/")
    assert response.status_code == 302
    assert partner_status(actors.tenant_a, partner) == "suspended"


def test_another_tenants_partner_page_action_answers_404(actors, manager):
    theirs = PartnerFactory(tenant=actors.tenant_b, name="Elsewhere")
    client = Client()
    client.force_login(manager.user)
    assert client.post(f"/partners/{theirs.pk}/suspend/").status_code == 404


# --- the router -------------------------------------------------------------------------


def test_the_router_never_offers_a_lead_to_a_suspended_partner(actors, partner):
    team = TeamFactory(tenant=actors.tenant_a, name="Channel")
    TeamMemberFactory(tenant=actors.tenant_a, team=team, partner=partner)
    other = PartnerFactory(tenant=actors.tenant_a, name="Southwind")
    TeamMemberFactory(tenant=actors.tenant_a, team=team, partner=other)
    with tenant_context(actors.tenant_a):
        LeadSettings.objects.create(tenant=actors.tenant_a, default_team=team)
        partner.status = "suspended"
        partner.suspended_by_rule = True
        partner.save()
    leads = [
        LeadFactory(tenant=actors.tenant_a, inquiry=InquiryFactory(tenant=actors.tenant_a))
        for _ in range(6)
    ]
    with tenant_context(actors.tenant_a):
        records = route_leads(
            leads=leads,
            kind=AssignmentKind.ROUTED,
            by=Principal.system(actors.tenant_a, "tests"),
            invite=False,
        )
    assert len(records) == 6
    owners = {record.partner_id for record in records}
    assert partner.pk not in owners and other.pk in owners
    assert {"owner": "Northwind", "reason": "suspended"} in records[0].skips
