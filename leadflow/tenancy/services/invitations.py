"""Invitations: inviting a person by email, resending, revoking, sending, accepting.

The email goes through the outbox (kind ``invitation``, registered in
``TenancyConfig.ready()``): inviting and resending write one message in their
own transaction, keyed by the invitation and its nonce, whose payload holds
only ids and the base URL. The token is derived from the nonce when the
message is sent, so it never sits in a row or travels through the broker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from leadflow import outbox
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

if TYPE_CHECKING:
    from leadflow.outbox.models import OutboxMessage

SENDER_KIND = "invitation"
PAYLOAD_FIELDS = frozenset({"invitation_id", "nonce", "base_url"})


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


def _enqueue_email(invitation: Invitation, base_url: str) -> OutboxMessage:
    """Write the email of the current link to the outbox, in the caller's transaction."""
    return outbox.enqueue(
        kind=SENDER_KIND,
        key=invitation_links.outbox_key(invitation),
        recipient=invitation.email,
        payload={
            "invitation_id": invitation.pk,
            "nonce": invitation.token_nonce,
            "base_url": base_url,
        },
        cause=("invitation", invitation.pk),
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
    _enqueue_email(invitation, base_url)
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
    _enqueue_email(invitation, base_url)
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


@transaction.atomic
def queue_invitation_email(*, invitation: Invitation, base_url: str) -> bool:
    """Write a pending invitation's email to the outbox unless it went out already.

    For ``send_invitation_task`` messages queued before invitations went through
    the outbox: the invitation's current link is queued once (the key makes a
    second delivery add nothing); one sent directly before (``sent_at``) or no
    longer pending is left alone. Returns whether the email is in the outbox.
    """
    locked = Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
    if locked is None or locked.state != InvitationStatus.PENDING:
        return False
    if locked.sent_at is not None:
        return False
    _enqueue_email(locked, base_url)
    return True


def check_invitation_payload(recipient: str, payload: Mapping[str, Any]) -> None:
    """Refuse an invitation message that carries anything but ids and the base URL.

    The token and the link are derived when the message is sent; a payload
    that could hold them (another field, a base URL with a path) is refused.
    """
    if set(payload) != PAYLOAD_FIELDS:
        raise ValueError(f"an invitation payload is exactly {sorted(PAYLOAD_FIELDS)}")
    invitation_id = payload["invitation_id"]
    if not isinstance(invitation_id, int) or isinstance(invitation_id, bool) or invitation_id < 1:
        raise ValueError("an invitation payload's invitation_id is a positive integer")
    nonce = payload["nonce"]
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64 or not nonce.isalnum():
        raise ValueError("an invitation payload's nonce is the invitation's token nonce")
    base_url = payload["base_url"]
    parts = urlsplit(base_url) if isinstance(base_url, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or len(base_url) > 300
    ):
        raise ValueError("an invitation payload's base_url is a site's root URL, nothing more")
    try:
        validate_email(recipient)
    except ValidationError:
        raise ValueError(f"{recipient!r} is not an email address") from None


def send_invitation(message: OutboxMessage) -> None:
    """The outbox sender of ``invitation`` messages: email the link of a still-open invitation.

    Runs inside the message's tenant (the dispatcher is a tenant task), so the
    invitation is read under row-level security. An invitation that is gone,
    revoked, accepted, expired or resent since (another nonce) is not sent and
    the sender returns quietly: the message counts as done (``sent`` in the
    outbox, with the invitation's ``sent_at`` left empty), since trying again
    could never make it worth sending. SMTP errors map to retry or failure
    like every email (``outbox.email.deliver``); ``sent_at`` is set once sent.
    """
    from leadflow.outbox import email as outbox_email

    payload = message.payload
    invitation = (
        Invitation.objects.select_related("tenant", "partner", "invited_by")
        .filter(pk=payload["invitation_id"], token_nonce=payload["nonce"])
        .first()
    )
    if invitation is None or invitation.state != InvitationStatus.PENDING:
        return
    outbox_email.deliver(
        invitation_links.email(
            invitation, payload["base_url"], message_id=outbox_email.message_id(message)
        )
    )
    Invitation.objects.filter(pk=invitation.pk, token_nonce=invitation.token_nonce).update(
        sent_at=timezone.now()
    )


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
