"""The members and invitations API: admins list members, invite, resend and revoke."""

from __future__ import annotations

import pytest

from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Invitation, InvitationStatus, Role
from tests.conftest import make_actor
from tests.factories import InvitationFactory, MembershipFactory, PartnerFactory


def test_an_admin_lists_members_with_role_label_and_status(actors):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    MembershipFactory(
        tenant=actors.tenant_a, role=Role.REP, partner=partner, user__full_name="Nora N"
    )
    response = actors.owner.api().get("/api/v1/members/")
    assert response.status_code == 200
    rows = {row["display_name"]: row for row in response.json()["results"]}
    assert rows["Nora N"]["role_label"] == "Partner — Northwind"
    assert rows["Nora N"]["partner"] == {"id": partner.pk, "name": "Northwind"}
    assert rows["Nora N"]["is_active"] is True
    assert actors.outsider.user.email not in {row["email"] for row in rows.values()}


def test_an_admin_invites_through_the_api_and_the_link_is_not_in_the_answer(
    actors, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        response = actors.owner.api().post(
            "/api/v1/invitations/",
            {"email": "pat@example.test", "role": "qualifier"},
            format="json",
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == InvitationStatus.PENDING
    assert body["role_label"] == "Qualifier"
    assert "lfi_" not in response.content.decode()
    with tenant_context(actors.tenant_a):
        [message] = OutboxMessage.objects.filter(kind="invitation")
    assert message.recipient == "pat@example.test"
    assert message.cause_id == str(body["id"])


def test_inviting_a_member_through_the_api_is_a_400_on_email(actors):
    response = actors.owner.api().post(
        "/api/v1/invitations/",
        {"email": actors.teammate.user.email, "role": "qualifier"},
        format="json",
    )
    assert response.status_code == 400
    assert "email" in response.json()["errors"]


def test_resend_and_revoke_through_the_api(actors):
    invitation = InvitationFactory(tenant=actors.tenant_a)
    api = actors.owner.api()
    assert api.post(f"/api/v1/invitations/{invitation.pk}/resend/").status_code == 200
    response = api.post(f"/api/v1/invitations/{invitation.pk}/revoke/")
    assert response.json()["status"] == InvitationStatus.REVOKED
    assert api.post(f"/api/v1/invitations/{invitation.pk}/revoke/").status_code == 409


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/members/{member}/"),
        ("get", "/api/v1/invitations/{invitation}/"),
        ("post", "/api/v1/invitations/{invitation}/resend/"),
        ("post", "/api/v1/invitations/{invitation}/revoke/"),
    ],
)
def test_another_tenants_member_or_invitation_is_404_in_the_api(actors, method, path):
    invitation = InvitationFactory(tenant=actors.tenant_b)
    url = path.format(member=actors.outsider.membership.pk, invitation=invitation.pk)
    assert getattr(actors.owner.api(), method)(url).status_code == 404
    with tenant_context(actors.tenant_b):
        assert Invitation.objects.get(pk=invitation.pk).status == InvitationStatus.PENDING


@pytest.mark.parametrize("role", [Role.MARKETER, Role.MANAGER, Role.QUALIFIER, Role.REP])
def test_only_admins_use_the_members_api(actors, role):
    someone = make_actor(actors.tenant_a, role)
    api = someone.api()
    # Managers read the active members (tests/tenancy/test_api_members_list.py), nothing more.
    assert api.get("/api/v1/members/").status_code == (200 if role == Role.MANAGER else 403)
    assert api.get("/api/v1/invitations/").status_code == 403
    response = api.post(
        "/api/v1/invitations/", {"email": "x@example.test", "role": "admin"}, format="json"
    )
    assert response.status_code == 403


@pytest.mark.parametrize("rows", [1, 15])
def test_member_list_query_count_does_not_grow_with_rows(actors, django_assert_num_queries, rows):
    partner = PartnerFactory(tenant=actors.tenant_a)
    for _ in range(rows):
        MembershipFactory(tenant=actors.tenant_a, role=Role.REP, partner=partner)
    api = actors.owner.api()
    api.get("/api/v1/members/")
    # token (with its user and tenant), membership (with its partner), count, page
    with django_assert_num_queries(4):
        api.get("/api/v1/members/")
