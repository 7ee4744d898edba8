"""The lead settings' recall window, cost per lead and the tenant's time zone: the service's
rules, the page and the API (round trips), and the default team shown read-only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role, Tenant
from leads.models import DEFAULT_LOST_REASONS, LeadSettings, Team
from leads.selectors.settings import lead_settings
from leads.services.settings import update_lead_settings
from tests.conftest import make_actor
from tests.leads.test_settings import client_of, form

PAGE = "/settings/leads/"
API = "/api/v1/lead-settings/"


@pytest.fixture
def manager(actors):
    return make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Morgan Manager")


def update(actors, **fields) -> LeadSettings:
    with tenant_context(actors.tenant_a):
        return update_lead_settings(by=actors.owner.principal, **fields)


def stored(tenant) -> LeadSettings:
    with tenant_context(tenant):
        return lead_settings()


def zone_of(tenant) -> str:
    return Tenant.objects.get(pk=tenant.pk).timezone


def refused(actors, **fields) -> RuleViolation:
    with pytest.raises(RuleViolation) as error:
        update(actors, **fields)
    assert not LeadSettings.dangerously_all_tenants.exists()
    assert zone_of(actors.tenant_a) == "UTC"
    return error.value


# --- The service ----------------------------------------------------------------------------


def test_the_defaults_are_14_days_and_200_a_lead(actors):
    rules = stored(actors.tenant_a)
    assert (rules.recall_after_days, rules.cost_per_lead) == (14, Decimal("200"))


@pytest.mark.parametrize("value", [0, 90])
def test_recall_after_0_to_90_days_is_accepted(actors, value):
    update(actors, recall_after_days=value)
    assert stored(actors.tenant_a).recall_after_days == value


@pytest.mark.parametrize("value", [-1, 91, True, "7"])
def test_recall_after_outside_0_to_90_days_is_refused(actors, value):
    assert refused(actors, recall_after_days=value).field == "recall_after_days"


@pytest.mark.parametrize("value", [Decimal("0"), Decimal("100000"), Decimal("249.99"), 350])
def test_a_cost_per_lead_of_0_to_100000_to_the_cent_is_accepted(actors, value):
    update(actors, cost_per_lead=value)
    assert stored(actors.tenant_a).cost_per_lead == Decimal(value)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (Decimal("-0.01"), "out_of_range"),
        (Decimal("100000.01"), "out_of_range"),
        (Decimal("10.005"), "too_precise"),
        (Decimal("NaN"), "out_of_range"),
        (12.5, "invalid"),
        ("200", "invalid"),
    ],
)
def test_a_bad_cost_per_lead_is_refused(actors, value, code):
    error = refused(actors, cost_per_lead=value)
    assert (error.field, error.code) == ("cost_per_lead", code)


def test_the_tenants_zone_changes_and_is_audited(actors):
    update(actors, timezone="Europe/Berlin")
    assert zone_of(actors.tenant_a) == "Europe/Berlin"
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="tenant.timezone_changed")
    assert (event.before, event.after) == ({"timezone": "UTC"}, {"timezone": "Europe/Berlin"})
    assert zone_of(actors.tenant_b) == "UTC"


@pytest.mark.parametrize("value", ["Mars/Olympus", "", "   ", None])
def test_an_unknown_or_empty_zone_is_refused(actors, value):
    assert refused(actors, timezone=value).field == "timezone"


def test_a_bad_zone_writes_none_of_the_other_fields(actors):
    refused(actors, recall_after_days=30, timezone="Nowhere/Land")


def test_a_bad_field_leaves_the_zone_unchanged(actors):
    refused(actors, recall_after_days=300, timezone="Europe/Berlin")


def test_only_managers_change_the_tenants_zone(actors):
    rep = make_actor(actors.tenant_a, Role.REP)
    with tenant_context(actors.tenant_a), pytest.raises(PermissionDenied):
        services.set_tenant_timezone(timezone_name="Asia/Tokyo", by=rep.principal)
    assert zone_of(actors.tenant_a) == "UTC"


# --- The page -------------------------------------------------------------------------------


def test_the_page_round_trips_recall_cost_and_zone(actors, manager):
    client = client_of(manager)
    response = client.post(
        PAGE, form(recall_after_days="0", cost_per_lead="180.50", timezone="America/Chicago")
    )
    assert response.status_code == 302
    rules = stored(actors.tenant_a)
    assert (rules.recall_after_days, rules.cost_per_lead) == (0, Decimal("180.50"))
    assert zone_of(actors.tenant_a) == "America/Chicago"
    page = client.get(PAGE).content.decode()
    assert 'value="180.50"' in page
    assert '<option value="America/Chicago" selected>' in page
    assert "0: never recall idle leads" in page


def test_the_cost_is_labelled_with_the_tenants_currency(actors, manager):
    Tenant.objects.filter(pk=actors.tenant_a.pk).update(currency="EUR")
    assert "Cost per lead (EUR)" in client_of(manager).get(PAGE).content.decode()


def test_a_refused_cost_is_shown_on_its_field_and_nothing_is_saved(actors, manager):
    response = client_of(manager).post(PAGE, form(cost_per_lead="100000.50", timezone="Asia/Tokyo"))
    assert response.status_code == 400
    assert "Give an amount from 0 to 100,000" in response.content.decode()
    assert not LeadSettings.dangerously_all_tenants.exists()
    assert zone_of(actors.tenant_a) == "UTC"


def test_the_page_shows_no_default_team_as_round_robin(actors, manager):
    page = client_of(manager).get(PAGE).content.decode()
    assert "round robin to the active reps" in page


def test_the_page_names_the_default_team(actors, manager):
    with tenant_context(actors.tenant_a):
        team = Team.objects.create(tenant=actors.tenant_a, name="Northeast")
        LeadSettings.objects.create(
            tenant=actors.tenant_a, default_team=team, lost_reasons=DEFAULT_LOST_REASONS
        )
    page = client_of(manager).get(PAGE).content.decode()
    assert "<strong>Default team:</strong>\n    Northeast" in page


def test_the_page_shows_only_the_viewers_tenants_zone(actors, manager):
    Tenant.objects.filter(pk=actors.tenant_b.pk).update(timezone="Asia/Tokyo")
    page = client_of(manager).get(PAGE).content.decode()
    assert '<option value="UTC" selected>' in page
    assert '<option value="Asia/Tokyo" selected>' not in page


# --- The API --------------------------------------------------------------------------------


def test_get_shows_recall_cost_currency_zone_and_default_team(actors, manager):
    body = manager.api().get(API).json()
    assert body["recall_after_days"] == 14
    assert body["cost_per_lead"] == "200.00"
    assert (body["currency"], body["timezone"], body["default_team"]) == ("USD", "UTC", None)


def test_patch_round_trips_recall_cost_and_zone(actors, manager):
    api = manager.api()
    response = api.patch(
        API,
        {"recall_after_days": 30, "cost_per_lead": "150.25", "timezone": "Europe/Lisbon"},
        format="json",
    )
    assert response.status_code == 200
    body = api.get(API).json()
    assert (body["recall_after_days"], body["cost_per_lead"], body["timezone"]) == (
        30,
        "150.25",
        "Europe/Lisbon",
    )


def test_patch_with_only_the_zone_changes_only_the_zone(actors, manager):
    response = manager.api().patch(API, {"timezone": "Asia/Tokyo"}, format="json")
    assert response.status_code == 200 and response.json()["timezone"] == "Asia/Tokyo"
    assert not LeadSettings.dangerously_all_tenants.exists()


def test_patch_with_a_float_cost_is_400(actors, manager):
    response = manager.api().patch(API, {"cost_per_lead": 12.5}, format="json")
    assert response.status_code == 400 and "cost_per_lead" in response.json()["errors"]


def test_patch_with_a_bad_zone_is_400_naming_it(actors, manager):
    response = manager.api().patch(
        API, {"timezone": "Nowhere/Land", "recall_after_days": 3}, format="json"
    )
    assert response.status_code == 400 and "timezone" in response.json()["errors"]
    assert stored(actors.tenant_a).recall_after_days == 14


def test_patch_with_a_bad_recall_is_400_naming_it(actors, manager):
    response = manager.api().patch(API, {"recall_after_days": 91}, format="json")
    assert response.status_code == 400 and "recall_after_days" in response.json()["errors"]


def test_the_api_names_the_default_team(actors, manager):
    with tenant_context(actors.tenant_a):
        team = Team.objects.create(tenant=actors.tenant_a, name="Northeast")
        LeadSettings.objects.create(
            tenant=actors.tenant_a, default_team=team, lost_reasons=DEFAULT_LOST_REASONS
        )
    body = manager.api().get(API).json()
    assert body["default_team"] == {"id": team.pk, "name": "Northeast"}


def test_another_tenant_changing_its_zone_leaves_ours(actors):
    outsider = actors.outsider.api()
    assert outsider.patch(API, {"timezone": "Asia/Tokyo"}, format="json").status_code == 200
    assert zone_of(actors.tenant_a) == "UTC"
    assert actors.owner.api().get(API).json()["timezone"] == "UTC"
