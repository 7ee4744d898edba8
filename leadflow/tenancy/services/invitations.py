"""Invitations: inviting a person by email, resending, revoking, sending, accepting."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy import invitation_links
from leadflow.tenancy.models import (
    Invitation,
    InvitationStatus,
    Membership,
    Partner,
    PartnerStatus,
    User,
    normalize_email,
)
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services._common import _check_password, _check_role, _clean_email
from leadflow.tenancy.services.audit import record_audit


@dataclass(frozen=True)
class IssuedInvitation:
    """An invitation and the link it was sent with (the link is never stored)."""

    invitation: Invitation
    link: str


def _new_token(invitation: Invitation) -> str:
    """Give the invitation a fresh nonce and expiry; returns the token its link carries."""
    invitation.token_nonce = invitation_links.new_nonce()
    token = invitation_links.token(invitation)
    invitation.token_hash = invitation_links.digest(token)
    invitation.expires_at = timezone.now() + settings.INVITATION_TTL
    invitation.sent_at = None
    return token


def _send_on_commit(invitation: Invitation, base_url: str) -> None:
    # Imported here: the task module imports this one.
    from leadflow.tenancy.tasks import send_invitation_task

    invitation_id, tenant_id = invitation.pk, invitation.tenant_id
    transaction.on_commit(
        lambda: send_invitation_task.delay(
            invitation_id=invitation_id, tenant_id=tenant_id, base_url=base_url
        )
    )


@transaction.atomic
def invite_member(
    *, email: str, role: str, partner: Partner | None = None, base_url: str, by: Principal
) -> IssuedInvitation:
    """Invite a person by email to a role (or to act for a partner); the link goes by email.

    ``base_url`` is where the inviting request reached LeadFlow; the
    ``SITE_URL`` setting wins over it when set.
    """
    email = _clean_email(email)
    _check_role(role, partner)
    member = Membership.objects.filter(user__email=email).select_related("partner").first()
    if member is not None:
        if member.is_active:
            message = f"{email} is already a member of {by.tenant.name} ({member.role_label})."
        else:
            message = (
                f"{email} is a deactivated member of {by.tenant.name}; reactivate them "
                "instead of inviting them."
            )
        raise RuleViolation(field="email", code="already_member", message=message)
    if Invitation.objects.filter(email=email, status=InvitationStatus.PENDING).exists():
        raise RuleViolation(
            field="email",
            code="already_invited",
            message=f"{email} has an open invitation already; resend or revoke it below.",
        )
    invitation = Invitation(
        tenant=by.tenant, email=email, role=role, partner=partner, invited_by=by.user
    )
    token = _new_token(invitation)
    invitation.save()
    record_audit(
        action="invitation.created",
        obj=invitation,
        after={
            "email": email,
            "role": role,
            "partner": partner.pk if partner else None,
            "expires_at": invitation.expires_at.isoformat(),
        },
        by=by,
    )
    _send_on_commit(invitation, base_url)
    return IssuedInvitation(invitation=invitation, link=invitation_links.link(token, base_url))


def _lock_pending(invitation: Invitation, verb: str) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != InvitationStatus.PENDING:
        raise RuleViolation(
            field="status",
            code=invitation.status,
            message=f"The invitation is {invitation.get_status_display().lower()}; "
            f"it cannot be {verb}.",
            conflict=True,
        )
    return invitation


@transaction.atomic
def resend_invitation(*, invitation: Invitation, base_url: str, by: Principal) -> IssuedInvitation:
    """Send a pending (or expired) invitation again with a new link and a new expiry.

    The previous link stops working.
    """
    invitation = _lock_pending(invitation, "resent")
    before = {"expires_at": invitation.expires_at.isoformat()}
    token = _new_token(invitation)
    invitation.save(update_fields=["token_nonce", "token_hash", "expires_at", "sent_at"])
    record_audit(
        action="invitation.resent",
        obj=invitation,
        before=before,
        after={"expires_at": invitation.expires_at.isoformat()},
        by=by,
    )
    _send_on_commit(invitation, base_url)
    return IssuedInvitation(invitation=invitation, link=invitation_links.link(token, base_url))


@transaction.atomic
def revoke_invitation(*, invitation: Invitation, by: Principal) -> Invitation:
    """Withdraw a pending invitation; its link shows that it was revoked."""
    invitation = _lock_pending(invitation, "revoked")
    invitation.status = InvitationStatus.REVOKED
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["status", "revoked_at"])
    record_audit(
        action="invitation.revoked",
        obj=invitation,
        before={"status": InvitationStatus.PENDING},
        after={"status": InvitationStatus.REVOKED},
        by=by,
    )
    return invitation


def send_invitation(*, invitation: Invitation, base_url: str) -> bool:
    """Email the invitation link, once per link; returns whether an email went out.

    Claims the send on the row first, so a second delivery of the task sends
    nothing; a failed send releases the claim and raises, so the task retries.
    A revoked, accepted or already expired invitation is not sent.
    """
    if invitation.state != InvitationStatus.PENDING:
        return False
    claimed = Invitation.objects.filter(
        pk=invitation.pk,
        token_nonce=invitation.token_nonce,
        status=InvitationStatus.PENDING,
        sent_at__isnull=True,
    ).update(sent_at=timezone.now())
    if not claimed:
        return False
    try:
        invitation_links.email(invitation, base_url).send()
    except Exception:
        Invitation.objects.filter(pk=invitation.pk, token_nonce=invitation.token_nonce).update(
            sent_at=None
        )
        raise
    return True


def _check_open(invitation: Invitation) -> None:
    state = invitation.state
    if state != InvitationStatus.PENDING:
        raise RuleViolation(
            field="token",
            code=state,
            message={
                InvitationStatus.ACCEPTED.value: "This invitation was already used.",
                InvitationStatus.REVOKED.value: "This invitation was revoked.",
                InvitationStatus.EXPIRED.value: "This invitation has expired.",
            }[state],
            conflict=True,
        )


def _join(invitation: Invitation, user: User) -> Membership:
    """Make the invited person a member and close the invitation (inside the transaction)."""
    if Membership.objects.filter(user=user).exists():
        raise RuleViolation(
            field="email",
            code="already_member",
            message=f"{user.email} is already a member of this organisation.",
        )
    partner = invitation.partner
    if partner is not None and partner.status != PartnerStatus.ACTIVE:
        raise RuleViolation(
            field="partner",
            code="suspended",
            message=f"{partner.name} is suspended in LeadFlow; ask the person who invited you.",
        )
    membership = Membership.objects.create(
        tenant_id=invitation.tenant_id, user=user, role=invitation.role, partner=partner
    )
    invitation.status = InvitationStatus.ACCEPTED
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["status", "accepted_at", "accepted_by"])
    by = Principal(
        tenant=membership.tenant,
        role=membership.role,
        via="invitation",
        user=user,
        membership=membership,
        partner=partner,
    )
    record_audit(
        action="invitation.accepted",
        obj=invitation,
        before={"status": InvitationStatus.PENDING},
        after={"status": InvitationStatus.ACCEPTED},
        by=by,
    )
    record_audit(
        action="membership.created",
        obj=membership,
        after={
            "email": user.email,
            "role": membership.role,
            "partner": partner.pk if partner else None,
            "invitation": invitation.pk,
        },
        by=by,
    )
    return membership


@transaction.atomic
def accept_invitation_as_new_user(
    *, invitation: Invitation, full_name: str, password: str
) -> Membership:
    """A person without a login accepts: they set their name and password and join."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    _check_open(invitation)
    if User.objects.filter(email=invitation.email).exists():
        raise RuleViolation(
            field="email",
            code="existing_user",
            message=f"{invitation.email} already has a login: log in to accept.",
        )
    full_name = " ".join(full_name.split())
    if not full_name or len(full_name) > 150:
        raise RuleViolation(
            field="full_name", code="invalid", message="Give your name (1–150 characters)."
        )
    _check_password(password, invitation.email, full_name=full_name)
    user = User.objects.create_user(invitation.email, password, full_name=full_name)
    return _join(invitation, user)


@transaction.atomic
def accept_invitation(*, invitation: Invitation, user: User) -> Membership:
    """A logged-in person whose email the invitation names accepts it and joins."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    _check_open(invitation)
    if normalize_email(user.email) != invitation.email:
        raise RuleViolation(
            field="email",
            code="other_person",
            message=f"This invitation is for {invitation.email}, and you are logged in as "
            f"{user.email}.",
        )
    return _join(invitation, user)
