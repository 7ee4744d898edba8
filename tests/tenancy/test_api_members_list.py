"""``GET /api/v1/members/`` for managers and ``/me/``'s user id: how an integration names owners."""

import pytest

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.factories import PartnerFactory


@pytest.fixture
def manager(actors):
    return make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Morgan Manager")


def names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


def test_a_manager_lists_the_members_with_user_id_name_email_role_and_partner(actors, manager):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Acme VAR")
    seller = make_actor(actors.tenant_a, Role.REP, partner=partner, user__full_name="Val Seller")
    response = manager.api().get("/api/v1/members/")
    assert response.status_code == 200
    row = next(r for r in response.json()["results"] if r["user_id"] == seller.user.pk)
    assert (row["name"], row["email"], row["role"]) == ("Val Seller", seller.user.email, "rep")
    assert row["partner"] == {"id": partner.pk, "name": "Acme VAR"}
    assert row["id"] == seller.membership.pk


def test_a_manager_sees_only_active_members(actors, manager):
    gone = make_actor(actors.tenant_a, Role.REP, user__full_name="Gone Rep")
    with tenant_context(actors.tenant_a):
        gone.membership.is_active = False
        gone.membership.save(update_fields=["is_active"])
    assert "Gone Rep" not in names(manager.api().get("/api/v1/members/"))
    assert "Gone Rep" in names(actors.owner.api().get("/api/v1/members/"))


def test_the_active_filter_narrows_an_admins_list(actors):
    gone = make_actor(actors.tenant_a, Role.REP, user__full_name="Gone Rep")
    with tenant_context(actors.tenant_a):
        gone.membership.is_active = False
        gone.membership.save(update_fields=["is_active"])
    api = actors.owner.api()
    assert names(api.get("/api/v1/members/", {"active": "false"})) == ["Gone Rep"]
    assert "Gone Rep" not in names(api.get("/api/v1/members/", {"active": "true"}))
    assert api.get("/api/v1/members/", {"active": "yes"}).status_code == 400


def test_the_members_list_is_paginated(actors, manager):
    body = manager.api().get("/api/v1/members/").json()
    assert {"count", "results"} <= set(body)


def test_a_manager_cannot_change_members(actors, manager):
    api = manager.api()
    member = actors.teammate.membership.pk
    assert api.post(f"/api/v1/members/{member}/deactivate/").status_code in (403, 404, 405)
    assert api.get("/api/v1/invitations/").status_code == 403


def test_another_tenants_member_is_404_for_a_manager(actors, manager):
    outsider = actors.outsider.membership.pk
    assert manager.api().get(f"/api/v1/members/{outsider}/").status_code == 404
    assert actors.outsider.user.email not in str(manager.api().get("/api/v1/members/").json())


@pytest.mark.parametrize("role", [Role.REP, Role.MARKETER, Role.QUALIFIER])
def test_other_roles_may_not_list_members(actors, role):
    assert make_actor(actors.tenant_a, role).api().get("/api/v1/members/").status_code == 403


def test_a_partner_key_may_not_list_members(actors):
    from leadflow.tenancy import services
    from leadflow.tenancy.principal import Principal

    partner = PartnerFactory(tenant=actors.tenant_a)
    with tenant_context(actors.tenant_a):
        issued = services.issue_api_key(
            name="var", partner=partner, by=Principal.system(actors.tenant_a, "tests")
        )
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    assert api.get("/api/v1/members/").status_code == 403
    assert api.get("/api/v1/me/").json()["id"] is None


def test_me_gives_the_callers_user_id(actors, manager):
    assert manager.api().get("/api/v1/me/").json()["id"] == manager.user.pk
