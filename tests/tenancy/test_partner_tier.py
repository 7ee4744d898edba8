"""A partner's tier (its turns in the router) and capacity: the service, the API, the page."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy import selectors, services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Partner, PartnerTier, Role
from tests.conftest import make_actor
from tests.factories import PartnerFactory


@pytest.fixture
def manager(actors):
    return make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Morgan Manager")


@pytest.fixture
def partner(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Northwind")


def reloaded(partner: Partner) -> Partner:
    with tenant_context(partner.tenant_id):
        return Partner.objects.get(pk=partner.pk)


def set_routing(partner: Partner, by, *, tier: str = "registered", capacity=None) -> Partner:
    with tenant_context(partner.tenant_id):
        return services.set_partner_routing(partner=partner, tier=tier, capacity=capacity, by=by)


def client_of(actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


def url(partner: Partner) -> str:
    return f"/api/v1/partners/{partner.pk}/"


# --- The service ----------------------------------------------------------------------------


def test_a_manager_sets_the_tier_and_capacity(manager, partner):
    set_routing(partner, manager.principal, tier=PartnerTier.GOLD, capacity=40)
    stored = reloaded(partner)
    assert (stored.tier, stored.capacity) == ("gold", 40)


def test_an_unknown_tier_is_refused(manager, partner):
    with pytest.raises(RuleViolation) as refused:
        set_routing(partner, manager.principal, tier="diamond")
    assert refused.value.field == "tier"
    assert reloaded(partner).tier == "registered"


@pytest.mark.parametrize("capacity", [-1, 100_001, True, "3"])
def test_a_capacity_outside_0_to_100000_is_refused(manager, partner, capacity):
    with pytest.raises(RuleViolation) as refused:
        set_routing(partner, manager.principal, tier="gold", capacity=capacity)
    assert refused.value.field == "capacity"
    assert reloaded(partner).tier == "registered"  # nothing written


def test_a_change_is_audited(manager, partner):
    set_routing(partner, manager.principal, tier=PartnerTier.PLATINUM, capacity=5)
    with tenant_context(partner.tenant_id):
        event = AuditEvent.objects.get(action="partner.routing_changed")
    assert event.before == {"tier": "registered", "capacity": None}
    assert event.after == {"tier": "platinum", "capacity": 5}


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETER, Role.QUALIFIER])
def test_other_roles_may_not_set_it(actors, partner, role):
    someone = make_actor(actors.tenant_a, role)
    with pytest.raises(PermissionDenied):
        set_routing(partner, someone.principal, tier="gold")


def test_a_partners_user_may_not_set_it(actors, partner):
    user = make_actor(actors.tenant_a, Role.REP, partner=partner)
    acting = replace(user.principal, partner=partner)
    with pytest.raises(PermissionDenied):
        set_routing(partner, acting, tier="platinum")


@pytest.mark.parametrize(
    ("tier", "label"),
    [
        ("platinum", "Platinum — 4 turns for a rep's 1"),
        ("gold", "Gold — 3 turns for a rep's 1"),
        ("silver", "Silver — 2 turns for a rep's 1"),
        ("registered", "Registered — 1 turn for a rep's 1"),
    ],
)
def test_the_tier_is_shown_with_its_weight(tier, label):
    assert selectors.tier_weight_label(tier) == label


# --- The API --------------------------------------------------------------------------------


def test_the_api_shows_tier_weight_and_capacity(manager, partner):
    set_routing(partner, manager.principal, tier="silver", capacity=12)
    row = manager.api().get(url(partner)).json()
    assert (row["tier"], row["weight"], row["capacity"]) == ("silver", 2, 12)


def test_a_manager_patches_tier_and_capacity(manager, partner):
    response = manager.api().patch(url(partner), {"tier": "gold", "capacity": 30}, "json")
    assert response.status_code == 200
    assert (response.json()["tier"], response.json()["weight"]) == ("gold", 3)
    assert reloaded(partner).capacity == 30


def test_patch_changes_only_the_fields_sent(manager, partner):
    set_routing(partner, manager.principal, tier="gold", capacity=30)
    manager.api().patch(url(partner), {"capacity": None}, "json")
    stored = reloaded(partner)
    assert (stored.tier, stored.capacity) == ("gold", None)


def test_patch_with_a_bad_capacity_is_400_naming_it(manager, partner):
    response = manager.api().patch(url(partner), {"capacity": -3}, "json")
    assert response.status_code == 400
    assert "capacity" in response.json()["errors"]


def test_patch_with_an_unknown_tier_is_400(manager, partner):
    response = manager.api().patch(url(partner), {"tier": "diamond"}, "json")
    assert response.status_code == 400 and "tier" in response.json()["errors"]


def test_an_admin_patches_too(actors, partner):
    response = actors.owner.api().patch(url(partner), {"tier": "platinum"}, "json")
    assert response.status_code == 200 and reloaded(partner).tier == "platinum"


def test_a_rep_patching_gets_403(actors, partner):
    rep = make_actor(actors.tenant_a, Role.REP)
    assert rep.api().patch(url(partner), {"tier": "gold"}, "json").status_code == 403
    assert reloaded(partner).tier == "registered"


def test_a_partners_user_patching_gets_403(actors, partner):
    user = make_actor(actors.tenant_a, Role.REP, partner=partner)
    assert user.api().patch(url(partner), {"tier": "platinum"}, "json").status_code == 403


def test_a_partners_user_cannot_suspend_its_partner(actors, partner):
    # Managers may suspend since issue 17 (tests/leads/test_compliance_settings_api.py).
    user = make_actor(actors.tenant_a, Role.REP, partner=partner)
    assert user.api().post(f"{url(partner)}suspend/").status_code == 403


def test_another_tenants_partner_is_404_on_patch(actors):
    theirs = PartnerFactory(tenant=actors.tenant_b, name="Elsewhere")
    response = actors.owner.api().patch(url(theirs), {"tier": "gold"}, "json")
    assert response.status_code == 404
    assert reloaded(theirs).tier == "registered"


# --- The page -------------------------------------------------------------------------------


def test_the_partner_page_shows_the_tier_with_its_weight(manager, partner):
    set_routing(partner, manager.principal, tier="gold", capacity=8)
    page = client_of(manager).get(f"/partners/{partner.pk}/").content.decode()
    assert "Gold — 3 turns for a rep&#x27;s 1" in page
    assert "8 open leads" in page


def test_a_manager_saves_the_routing_form(manager, partner):
    response = client_of(manager).post(
        f"/partners/{partner.pk}/", {"tier": "silver", "capacity": "25"}
    )
    assert response.status_code == 302
    stored = reloaded(partner)
    assert (stored.tier, stored.capacity) == ("silver", 25)


def test_a_refused_capacity_is_shown_on_its_field(manager, partner):
    response = client_of(manager).post(
        f"/partners/{partner.pk}/", {"tier": "silver", "capacity": "-2"}
    )
    assert response.status_code == 400
    assert "Give a whole number from 0 to 100,000" in response.content.decode()
    assert reloaded(partner).tier == "registered"


def test_another_tenants_partner_page_is_404(actors):
    theirs = PartnerFactory(tenant=actors.tenant_b, name="Elsewhere")
    client = client_of(actors.owner)
    assert client.get(f"/partners/{theirs.pk}/").status_code == 404
    response = client.post(f"/partners/{theirs.pk}/", {"tier": "gold", "capacity": ""})
    assert response.status_code == 404
    assert reloaded(theirs).tier == "registered"


def test_a_rep_cannot_open_the_partner_page(actors, partner):
    rep = make_actor(actors.tenant_a, Role.REP)
    assert client_of(rep).post(f"/partners/{partner.pk}/", {"tier": "gold"}).status_code == 403
