"""Invitations: the email and its link, accepting as a new or an existing person, the
link's states (expired, revoked, used), resending and revoking, and the stored token."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.outbox.services import dispatch_due
from leadflow.tenancy import invitation_links, services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Invitation, InvitationStatus, Membership, Role
from tests.factories import InvitationFactory, MembershipFactory, PartnerFactory, UserFactory

PASSWORD = "a long walk by the river"
LINK = re.compile(r"https?://\S+/invitations/\S+/")


def deliver(actors) -> None:
    """Run the outbox's dispatcher in tenant A, as the worker does after the commit."""
    with tenant_context(actors.tenant_a):
        dispatch_due()


@pytest.fixture
def admin_client(client, actors):
    client.force_login(actors.owner.user)
    return client


def invite(actors, email="new.person@example.test", role=Role.MARKETER, **kwargs):
    with tenant_context(actors.tenant_a):
        return services.invite_member(
            email=email,
            role=role,
            base_url="http://testserver/",
            by=actors.owner.principal,
            **kwargs,
        )


def link_in(message) -> str:
    return LINK.search(message.body).group(0)


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def fresh(invitation: Invitation) -> Invitation:
    with tenant_context(invitation.tenant_id):
        return Invitation.objects.get(pk=invitation.pk)


# --- Inviting and the email ---------------------------------------------------------------


def test_inviting_from_the_members_page_emails_an_absolute_link_after_commit(
    admin_client, actors, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as after_commit:
        response = admin_client.post(
            "/members/", {"email": "Jo.New@Example.test ", "role": Role.QUALIFIER}
        )
    assert response.status_code == 302
    assert len(after_commit) == 1  # the outbox's kick for the worker
    assert mailoutbox == []  # queued for the worker, not sent in the request
    deliver(actors)
    [message] = mailoutbox
    assert message.to == ["jo.new@example.test"]
    assert "Tenant A" in message.subject
    assert "as Qualifier" in message.body
    assert link_in(message).startswith("http://testserver/invitations/lfi_")


def test_the_link_starts_with_site_url_when_it_is_set(actors, mailoutbox, settings):
    settings.SITE_URL = "https://leads.example.com"
    issued = invite(actors)
    assert issued.link.startswith("https://leads.example.com/invitations/lfi_")


def test_the_invitation_is_sent_only_once_however_often_the_dispatcher_runs(actors, mailoutbox):
    invite(actors)
    deliver(actors)
    deliver(actors)
    assert len(mailoutbox) == 1


def test_the_token_is_stored_only_as_a_digest(actors):
    issued = invite(actors)
    token = path_of(issued.link).split("/")[2]
    row = fresh(issued.invitation)
    stored = [str(getattr(row, field.attname)) for field in Invitation._meta.concrete_fields]
    assert not any(token in value or token.split("_", 2)[2] in value for value in stored)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()


def test_inviting_writes_an_audit_row(actors):
    issued = invite(actors, role=Role.MANAGER)
    with tenant_context(actors.tenant_a):
        event = AuditEvent.objects.get(action="invitation.created")
    assert event.object_id == str(issued.invitation.pk)
    assert event.after["role"] == Role.MANAGER
    assert event.actor == actors.owner.user


def test_inviting_a_member_is_refused_with_a_clear_message(admin_client, actors):
    response = admin_client.post(
        "/members/", {"email": actors.teammate.user.email, "role": Role.QUALIFIER}
    )
    assert response.status_code == 400
    assert "is already a member of Tenant A (Marketer)" in response.content.decode()
    with tenant_context(actors.tenant_a):
        assert not Invitation.objects.exists()


def test_inviting_a_deactivated_member_says_to_reactivate_them(actors):
    with tenant_context(actors.tenant_a):
        services.deactivate_member(membership=actors.teammate.membership, by=actors.owner.principal)
    with pytest.raises(RuleViolation, match="reactivate them"):
        invite(actors, email=actors.teammate.user.email)


def test_inviting_someone_with_an_open_invitation_is_refused(actors):
    invite(actors)
    with pytest.raises(RuleViolation, match="open invitation already"):
        invite(actors, role=Role.REP)


def test_a_member_of_another_tenant_can_be_invited(actors):
    issued = invite(actors, email=actors.outsider.user.email)
    assert issued.invitation.status == InvitationStatus.PENDING


# --- Accepting --------------------------------------------------------------------------


def test_a_person_without_a_login_sets_name_and_password_and_becomes_a_member(client, actors):
    issued = invite(actors, role=Role.QUALIFIER)
    page = client.get(path_of(issued.link))
    assert page.status_code == 200
    assert "Choose your name and a password" in page.content.decode()
    response = client.post(
        path_of(issued.link),
        {"full_name": "  Jo   New ", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(email="new.person@example.test")
    assert user.full_name == "Jo New"
    assert user.check_password(PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)
    with tenant_context(actors.tenant_a):
        membership = Membership.objects.get(user=user)
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert membership.role == Role.QUALIFIER
    assert fresh(issued.invitation).status == InvitationStatus.ACCEPTED
    assert {"invitation.accepted", "membership.created"} <= actions
    assert "Jo New" in client.get("/").content.decode()


def test_a_new_person_must_give_a_name(client, actors):
    issued = invite(actors)
    response = client.post(
        path_of(issued.link), {"full_name": " ", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 400
    assert not get_user_model().objects.filter(email="new.person@example.test").exists()


def test_a_weak_password_is_refused_with_djangos_validators(client, actors):
    issued = invite(actors)
    response = client.post(
        path_of(issued.link),
        {"full_name": "Jo New", "password1": "12345678", "password2": "12345678"},
    )
    assert response.status_code == 400
    assert "too common" in response.content.decode()
    assert fresh(issued.invitation).status == InvitationStatus.PENDING


def test_two_different_passwords_are_refused(client, actors):
    issued = invite(actors)
    response = client.post(
        path_of(issued.link),
        {"full_name": "Jo New", "password1": PASSWORD, "password2": PASSWORD + "!"},
    )
    assert response.status_code == 400
    assert "The two passwords differ." in response.content.decode()


def test_a_logged_in_person_with_that_email_accepts_and_gets_the_membership(client, actors):
    issued = invite(actors, email=actors.outsider.user.email, role=Role.MANAGER)
    client.force_login(actors.outsider.user)
    assert "Join Tenant A" in client.get(path_of(issued.link)).content.decode()
    response = client.post(path_of(issued.link))
    assert response.status_code == 302
    with tenant_context(actors.tenant_a):
        membership = Membership.objects.get(user=actors.outsider.user)
    assert membership.role == Role.MANAGER
    # They land in the tenant they joined; their other tenant is still theirs.
    assert "Tenant A" in client.get("/").content.decode()
    with tenant_context(actors.tenant_b):
        assert Membership.objects.filter(user=actors.outsider.user).exists()


def test_an_existing_person_who_is_not_logged_in_is_asked_to_log_in(client, actors):
    issued = invite(actors, email=actors.outsider.user.email)
    page = client.get(path_of(issued.link)).content.decode()
    assert "already has a LeadFlow login" in page
    assert f"/login/?next={path_of(issued.link)}" in page
    response = client.post(
        path_of(issued.link), {"full_name": "X", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 400
    assert not actors.outsider.user.check_password(PASSWORD)


def test_someone_logged_in_with_another_email_cannot_accept(client, actors):
    issued = invite(actors)
    client.force_login(actors.outsider.user)
    assert "log out, then open the link again" in client.get(path_of(issued.link)).content.decode()
    response = client.post(path_of(issued.link))
    assert response.status_code == 400
    assert "This invitation is for new.person@example.test" in response.content.decode()
    with tenant_context(actors.tenant_a):
        assert not Membership.objects.filter(user=actors.outsider.user).exists()


def test_a_partner_user_is_invited_to_act_for_the_partner(client, actors, mailoutbox):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    issued = invite(actors, role=Role.REP, partner=partner)
    with tenant_context(actors.tenant_a):
        assert issued.invitation.role_label == "Partner — Northwind"
    client.post(
        path_of(issued.link), {"full_name": "Nora N", "password1": PASSWORD, "password2": PASSWORD}
    )
    with tenant_context(actors.tenant_a):
        membership = Membership.objects.get(user__email="new.person@example.test")
    assert membership.partner_id == partner.pk
    assert membership.role == Role.REP


# --- The link's states ----------------------------------------------------------------------


def test_an_expired_link_shows_a_clear_page(client, actors):
    issued = invite(actors)
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        response = client.get(path_of(issued.link))
        refused = client.post(
            path_of(issued.link),
            {"full_name": "Jo", "password1": PASSWORD, "password2": PASSWORD},
        )
    assert response.status_code == 410
    assert "This invitation has expired" in response.content.decode()
    assert "Ask" in response.content.decode() and "to resend" in response.content.decode()
    assert refused.status_code == 410
    assert not get_user_model().objects.filter(email="new.person@example.test").exists()


def test_a_revoked_link_shows_a_clear_page(client, actors):
    issued = invite(actors)
    with tenant_context(actors.tenant_a):
        services.revoke_invitation(invitation=issued.invitation, by=actors.owner.principal)
    response = client.get(path_of(issued.link))
    assert response.status_code == 410
    assert "This invitation was revoked" in response.content.decode()


def test_a_used_link_shows_a_clear_page(client, actors):
    issued = invite(actors)
    client.post(
        path_of(issued.link), {"full_name": "Jo", "password1": PASSWORD, "password2": PASSWORD}
    )
    client.logout()
    response = client.get(path_of(issued.link))
    assert response.status_code == 410
    assert "This invitation was already used" in response.content.decode()


def test_an_unknown_link_is_a_404_that_explains(db, client):
    response = client.get("/invitations/lfi_1_" + "x" * 43 + "/")
    assert response.status_code == 404
    assert "not valid" in response.content.decode()
    assert client.get("/invitations/nonsense/").status_code == 404


def test_a_link_pointed_at_another_tenant_is_a_404(client, actors):
    issued = invite(actors)
    token = path_of(issued.link).split("/")[2]
    _kind, _tenant, random_part = token.split("_", 2)
    response = client.get(f"/invitations/lfi_{actors.tenant_b.pk}_{random_part}/")
    assert response.status_code == 404


# --- Resending and revoking ------------------------------------------------------------------


def test_resending_sends_a_new_link_with_a_new_expiry_and_voids_the_old(
    admin_client, client, actors, mailoutbox
):
    first = invite(actors)
    deliver(actors)
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        response = admin_client.post(f"/members/invitations/{first.invitation.pk}/resend/")
        deliver(actors)
    assert response.status_code == 302
    assert len(mailoutbox) == 2
    old, new = link_in(mailoutbox[0]), link_in(mailoutbox[1])
    assert old == first.link and new != old
    row = fresh(first.invitation)
    assert row.expires_at > first.invitation.expires_at + timedelta(days=2)
    admin_client.logout()
    assert client.get(path_of(old)).status_code == 404
    assert client.get(path_of(new)).status_code == 200


def test_an_expired_invitation_can_be_resent(actors):
    issued = invite(actors)
    later = timezone.now() + timedelta(days=8)
    with time_machine.travel(later), tenant_context(actors.tenant_a):
        again = services.resend_invitation(
            invitation=issued.invitation,
            base_url="http://testserver/",
            by=actors.owner.principal,
        )
        assert again.invitation.state == InvitationStatus.PENDING


def test_revoking_from_the_members_page_closes_the_invitation(admin_client, actors):
    issued = invite(actors)
    response = admin_client.post(f"/members/invitations/{issued.invitation.pk}/revoke/")
    assert response.status_code == 302
    row = fresh(issued.invitation)
    assert row.status == InvitationStatus.REVOKED
    with tenant_context(actors.tenant_a):
        assert AuditEvent.objects.filter(action="invitation.revoked").exists()
    # After revoking, the same address may be invited again.
    invite(actors)


def test_a_revoked_invitation_is_not_sent(actors, mailoutbox):
    issued = invite(actors)
    with tenant_context(actors.tenant_a):
        services.revoke_invitation(invitation=issued.invitation, by=actors.owner.principal)
    deliver(actors)
    assert mailoutbox == []


def test_an_accepted_invitation_cannot_be_resent_or_revoked(actors):
    issued = invite(actors, email=actors.outsider.user.email)
    with tenant_context(actors.tenant_a):
        services.accept_invitation(invitation=issued.invitation, user=actors.outsider.user)
        with pytest.raises(RuleViolation, match="accepted"):
            services.revoke_invitation(invitation=issued.invitation, by=actors.owner.principal)
        with pytest.raises(RuleViolation, match="accepted"):
            services.resend_invitation(
                invitation=issued.invitation, base_url="http://x/", by=actors.owner.principal
            )


def test_the_members_page_lists_open_invitations_with_their_role(admin_client, actors):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    InvitationFactory(
        tenant=actors.tenant_a, email="pat@example.test", role=Role.REP, partner=partner
    )
    page = admin_client.get("/members/").content.decode()
    assert "pat@example.test" in page
    assert "Partner — Northwind" in page


def test_the_factory_link_opens_its_invitation(client, actors):
    invitation = InvitationFactory(tenant=actors.tenant_a)
    token = invitation_links.token(invitation)
    assert client.get(f"/invitations/{token}/").status_code == 200


def test_accepting_when_already_a_member_is_refused(actors):
    issued = invite(actors, email="later@example.test")
    user = UserFactory(email="later@example.test")
    MembershipFactory(tenant=actors.tenant_a, user=user)
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation, match="already a member"):
        services.accept_invitation(invitation=issued.invitation, user=user)
