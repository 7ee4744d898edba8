"""The members pages: who is shown how, role changes, deactivation, the last-admin rule,
who may use the pages, other tenants' rows, and the list's query count."""

from __future__ import annotations

import pytest
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Membership, Role
from tests.conftest import make_actor
from tests.factories import InvitationFactory, MembershipFactory, PartnerFactory, TenantFactory


@pytest.fixture
def admin_client(client, actors):
    client.force_login(actors.owner.user)
    return client


def reloaded(membership: Membership) -> Membership:
    with tenant_context(membership.tenant_id):
        return Membership.objects.select_related("partner").get(pk=membership.pk)


def audit_actions(tenant) -> list[str]:
    with tenant_context(tenant):
        return list(AuditEvent.objects.values_list("action", flat=True))


# --- What the list shows ------------------------------------------------------------------


def test_members_are_shown_by_name_with_email_role_status_and_last_login(admin_client, actors):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    nora = MembershipFactory(
        tenant=actors.tenant_a,
        role=Role.REP,
        partner=partner,
        user__full_name="Nora Lindqvist",
        user__email="nora@northwind.example",
        user__last_login=timezone.now(),
    )
    with tenant_context(actors.tenant_a):
        services.deactivate_member(membership=nora, by=actors.owner.principal)
    page = admin_client.get("/members/").content.decode()
    assert "Nora Lindqvist" in page
    assert "nora@northwind.example" in page
    assert "Partner — Northwind" in page
    assert "Deactivated" in page
    assert "Never" in page  # the teammate never logged in
    assert "<time datetime=" in page  # Nora's last login, in the viewer's zone


def test_the_menu_shows_members_to_admins_only(client, actors):
    client.force_login(actors.owner.user)
    assert 'href="/members/"' in client.get("/").content.decode()
    client.force_login(actors.teammate.user)
    assert 'href="/members/"' not in client.get("/").content.decode()


# --- Role changes and the last admin --------------------------------------------------------


def test_an_admin_changes_a_members_role(admin_client, actors):
    response = admin_client.post(
        f"/members/{actors.teammate.membership.pk}/", {"role": Role.QUALIFIER}
    )
    assert response.status_code == 302
    assert reloaded(actors.teammate.membership).role == Role.QUALIFIER
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="membership.role_changed")
    assert event.before["role"] == Role.MARKETER and event.after["role"] == Role.QUALIFIER


def test_an_admin_makes_a_member_a_partners_user(admin_client, actors):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    admin_client.post(
        f"/members/{actors.teammate.membership.pk}/", {"role": f"partner:{partner.pk}"}
    )
    membership = reloaded(actors.teammate.membership)
    assert (membership.role, membership.partner_id) == (Role.REP, partner.pk)
    assert membership.role_label == "Partner — Northwind"
    partner_page = admin_client.get(f"/partners/{partner.pk}/").content.decode()
    assert actors.teammate.user.display_name in partner_page


def test_a_suspended_partner_gets_no_new_users(actors):
    partner = PartnerFactory(tenant=actors.tenant_a, status="suspended")
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation, match="suspended"):
        services.change_member_role(
            membership=actors.teammate.membership,
            role=Role.REP,
            partner=partner,
            by=actors.owner.principal,
        )


def test_the_last_active_admin_cannot_be_demoted(admin_client, actors):
    response = admin_client.post(f"/members/{actors.owner.membership.pk}/", {"role": Role.MANAGER})
    assert response.status_code == 400
    assert "is the last active admin of Tenant A" in response.content.decode()
    assert reloaded(actors.owner.membership).role == Role.ADMIN
    assert "membership.role_changed" not in audit_actions(actors.tenant_a)


def test_the_last_active_admin_cannot_be_deactivated(admin_client, actors):
    response = admin_client.post(f"/members/{actors.owner.membership.pk}/deactivate/", follow=True)
    assert "is the last active admin of Tenant A" in response.content.decode()
    assert reloaded(actors.owner.membership).is_active


def test_an_admin_may_step_down_while_another_admin_is_active(actors):
    make_actor(actors.tenant_a, Role.ADMIN)
    with tenant_context(actors.tenant_a):
        services.change_member_role(
            membership=actors.owner.membership, role=Role.MANAGER, by=actors.owner.principal
        )
    assert reloaded(actors.owner.membership).role == Role.MANAGER


def test_an_admin_who_steps_down_lands_on_home(admin_client, actors):
    make_actor(actors.tenant_a, Role.ADMIN)
    response = admin_client.post(f"/members/{actors.owner.membership.pk}/", {"role": Role.MANAGER})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert admin_client.get(response["Location"]).status_code == 200


def test_an_admin_who_deactivates_themselves_lands_on_home(admin_client, actors):
    make_actor(actors.tenant_a, Role.ADMIN)
    response = admin_client.post(f"/members/{actors.owner.membership.pk}/deactivate/")
    assert response["Location"] == "/"
    assert not reloaded(actors.owner.membership).is_active


def test_a_deactivated_admin_does_not_count_as_another_admin(actors):
    other = make_actor(actors.tenant_a, Role.ADMIN)
    with tenant_context(actors.tenant_a):
        services.deactivate_member(membership=other.membership, by=actors.owner.principal)
        with pytest.raises(RuleViolation, match="last active admin"):
            services.change_member_role(
                membership=actors.owner.membership, role=Role.MANAGER, by=actors.owner.principal
            )


def test_an_admin_of_another_tenant_does_not_count(actors):
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation, match="last active admin"):
        services.deactivate_member(membership=actors.owner.membership, by=actors.owner.principal)


def test_giving_the_same_role_changes_nothing(actors):
    with tenant_context(actors.tenant_a):
        services.change_member_role(
            membership=actors.teammate.membership, role=Role.MARKETER, by=actors.owner.principal
        )
    assert "membership.role_changed" not in audit_actions(actors.tenant_a)


# --- Deactivating and reactivating ---------------------------------------------------------


def test_a_deactivated_member_can_no_longer_act_in_the_tenant(admin_client, client, actors):
    response = admin_client.post(f"/members/{actors.teammate.membership.pk}/deactivate/")
    assert response.status_code == 302
    assert not reloaded(actors.teammate.membership).is_active
    assert "membership.deactivated" in audit_actions(actors.tenant_a)
    # The user stays (they may belong to other tenants); here they cannot act.
    actors.teammate.user.refresh_from_db()
    assert actors.teammate.user.is_active
    client.force_login(actors.teammate.user)
    assert client.get("/").status_code == 403
    assert client.get("/inquiries/").status_code == 404
    assert actors.teammate.api().get("/api/v1/me/").status_code == 401


def test_a_deactivated_member_keeps_their_other_tenants(client, actors):
    other = TenantFactory(slug="other", name="Other Org")
    MembershipFactory(tenant=other, user=actors.teammate.user, role=Role.MANAGER)
    with tenant_context(actors.tenant_a):
        services.deactivate_member(membership=actors.teammate.membership, by=actors.owner.principal)
    client.force_login(actors.teammate.user)
    page = client.get("/").content.decode()
    assert "Other Org" in page
    assert "Tenant A" not in page


def test_a_reactivated_member_acts_again_with_their_role(admin_client, client, actors):
    membership = actors.teammate.membership
    admin_client.post(f"/members/{membership.pk}/deactivate/")
    response = admin_client.post(f"/members/{membership.pk}/reactivate/")
    assert response.status_code == 302
    assert reloaded(membership).is_active
    assert "membership.reactivated" in audit_actions(actors.tenant_a)
    assert actors.teammate.api().get("/api/v1/me/").json()["role"] == Role.MARKETER


def test_a_deactivated_member_cannot_be_assigned_inquiries(actors):
    from inquiries.selectors.inbox import assignable_members

    with tenant_context(actors.tenant_a):
        services.deactivate_member(membership=actors.teammate.membership, by=actors.owner.principal)
        assert actors.teammate.user.pk not in [m.user_id for m in assignable_members()]


def test_deactivating_twice_is_refused(actors):
    with tenant_context(actors.tenant_a):
        services.deactivate_member(membership=actors.teammate.membership, by=actors.owner.principal)
        with pytest.raises(RuleViolation, match="already deactivated"):
            services.deactivate_member(
                membership=actors.teammate.membership, by=actors.owner.principal
            )


# --- Who may use the pages, and other tenants' rows -----------------------------------------


@pytest.fixture
def partner_user(actors):
    partner = PartnerFactory(tenant=actors.tenant_a)
    return make_actor(actors.tenant_a, Role.REP, partner=partner)


@pytest.mark.parametrize("role", [Role.MARKETER, Role.QUALIFIER, Role.REP])
def test_only_admins_and_managers_open_the_members_pages(client, actors, role):
    someone = make_actor(actors.tenant_a, role)
    client.force_login(someone.user)
    target = actors.teammate.membership.pk
    assert client.get("/members/").status_code == 403
    assert client.post("/members/", {"email": "x@example.test", "role": "admin"}).status_code == 403
    assert client.get(f"/members/{target}/").status_code == 403
    assert client.post(f"/members/{target}/", {"role": Role.ADMIN}).status_code == 403
    assert client.post(f"/members/{target}/deactivate/").status_code == 403
    invitation = InvitationFactory(tenant=actors.tenant_a)
    assert client.post(f"/members/invitations/{invitation.pk}/revoke/").status_code == 403
    assert reloaded(actors.teammate.membership).is_active


def test_a_manager_reads_the_members_and_sets_leave_but_changes_no_role_or_access(client, actors):
    manager = make_actor(actors.tenant_a, Role.MANAGER)
    client.force_login(manager.user)
    target = actors.teammate.membership
    listing = client.get("/members/")
    assert listing.status_code == 200
    assert b"Send invitation" not in listing.content
    page = client.get(f"/members/{target.pk}/")
    assert page.status_code == 200
    assert b"Change role" not in page.content
    assert b"Save availability" in page.content
    assert client.post("/members/", {"email": "x@example.test", "role": "rep"}).status_code == 403
    assert client.post(f"/members/{target.pk}/", {"role": Role.ADMIN}).status_code == 403
    assert client.post(f"/members/{target.pk}/deactivate/").status_code == 403
    assert reloaded(target).role == target.role
    assert reloaded(target).is_active


def test_a_partners_user_cannot_open_the_members_pages(client, partner_user):
    client.force_login(partner_user.user)
    assert client.get("/members/").status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/members/{member}/"),
        ("post", "/members/{member}/"),
        ("post", "/members/{member}/deactivate/"),
        ("post", "/members/{member}/reactivate/"),
        ("post", "/members/invitations/{invitation}/resend/"),
        ("post", "/members/invitations/{invitation}/revoke/"),
    ],
)
def test_another_tenants_member_or_invitation_is_404(client, actors, method, path):
    invitation = InvitationFactory(tenant=actors.tenant_b)
    url = path.format(member=actors.outsider.membership.pk, invitation=invitation.pk)
    client.force_login(actors.owner.user)
    response = getattr(client, method)(url, {"role": Role.MANAGER})
    assert response.status_code == 404
    assert reloaded(actors.outsider.membership).role == Role.ADMIN
    assert reloaded(actors.outsider.membership).is_active


def test_the_members_list_shows_only_this_tenants_members(admin_client, actors):
    page = admin_client.get("/members/").content.decode()
    assert actors.teammate.user.email in page
    assert actors.outsider.user.email not in page


def test_an_unknown_change_is_404(admin_client, actors):
    membership = actors.teammate.membership
    assert admin_client.post(f"/members/{membership.pk}/delete/").status_code == 404


# --- Query count ------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 15])
def test_members_page_query_count_does_not_grow_with_rows(
    admin_client, actors, django_assert_num_queries, rows
):
    partner = PartnerFactory(tenant=actors.tenant_a)
    for n in range(rows):
        MembershipFactory(tenant=actors.tenant_a, role=Role.REP, partner=partner)
        InvitationFactory(tenant=actors.tenant_a, partner=partner if n % 2 else None, role=Role.REP)
    admin_client.get("/members/")
    # session, user, memberships; the active partners (the role choices), count, page,
    # open invitations, their emails in the outbox (one query for the list)
    with django_assert_num_queries(8):
        admin_client.get("/members/")
