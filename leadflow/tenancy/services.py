"""Every write about tenants, members, partners, credentials and idempotency."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Model, Q
from django.utils import timezone

from leadflow.lib import tokens
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy import invitation_links
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import (
    ApiKey,
    AuditEvent,
    IdempotencyRecord,
    IdempotencyState,
    Invitation,
    InvitationStatus,
    Membership,
    Partner,
    PartnerKind,
    PartnerStatus,
    Role,
    Tenant,
    User,
    UserToken,
    normalize_email,
    validate_timezone,
)
from leadflow.tenancy.principal import Principal

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")
# A credential's last-used time is refreshed at most this often, so a busy
# integration does not turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=5)


def record_audit(
    *,
    action: str,
    obj: Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    by: Principal,
) -> AuditEvent:
    """Write the audit row for a change; call it inside the change's transaction."""
    return AuditEvent.objects.create(
        tenant=by.tenant,
        actor=by.user,
        actor_label=by.label[:200],
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        before=before,
        after=after,
    )


# --- Tenants and people ----------------------------------------------------------


@transaction.atomic
def create_tenant(
    *, slug: str, name: str, timezone_name: str = "UTC", currency: str = "USD"
) -> Tenant:
    """Open a new tenant (customer organisation)."""
    slug = slug.strip().lower()
    name = name.strip()
    if not SLUG_RE.match(slug):
        raise RuleViolation(
            field="slug",
            code="invalid",
            message="Use 1–50 lower-case letters, digits and hyphens, not starting or ending "
            "with a hyphen.",
        )
    if not name or len(name) > 200:
        raise RuleViolation(
            field="name", code="invalid", message="Give a name of 1–200 characters."
        )
    try:
        validate_timezone(timezone_name)
    except ValidationError as exc:
        raise RuleViolation(field="timezone", code="invalid", message=exc.messages[0]) from None
    currency = currency.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise RuleViolation(
            field="currency", code="invalid", message="Use a three-letter ISO 4217 code, e.g. EUR."
        )
    if Tenant.objects.filter(slug=slug).exists():
        raise RuleViolation(
            field="slug", code="duplicate", message=f"A tenant with slug {slug!r} already exists."
        )
    tenant = Tenant.objects.create(slug=slug, name=name, timezone=timezone_name, currency=currency)
    with tenant_context(tenant):
        record_audit(
            action="tenant.created",
            obj=tenant,
            after={"slug": slug, "name": name},
            by=Principal.system(tenant, "command line"),
        )
    return tenant


def _clean_email(email: str) -> str:
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError:
        raise RuleViolation(
            field="email", code="invalid", message=f"{email!r} is not a valid email address."
        ) from None
    return email


@transaction.atomic
def add_member(
    *,
    email: str,
    role: str,
    password: str | None = None,
    full_name: str = "",
    partner: Partner | None = None,
    by: Principal,
) -> Membership:
    """Give a person (new or already known by email) a role in the acting tenant."""
    email = _clean_email(email)
    _check_role_choice(role, partner)
    user = User.objects.filter(email=email).first()
    if user is not None and Membership.objects.filter(user=user).exists():
        raise RuleViolation(
            field="email",
            code="duplicate",
            message=f"{email} is already a member of {by.tenant.slug}.",
        )
    if partner is not None and partner.status != PartnerStatus.ACTIVE:
        raise RuleViolation(field="partner", code="suspended", message="The partner is suspended.")
    if user is not None and password is not None:
        raise RuleViolation(
            field="password",
            code="existing_user",
            message=f"{email} already has a login; their password was left unchanged. "
            "Leave out the password to add them to this tenant.",
        )
    if user is None:
        if password is not None:
            _check_password(password, email)
        user = User.objects.create_user(email, password, full_name=full_name)
    membership = Membership.objects.create(tenant=by.tenant, user=user, role=role, partner=partner)
    record_audit(
        action="membership.created",
        obj=membership,
        after={"email": email, "role": role, "partner": partner.pk if partner else None},
        by=by,
    )
    return membership


# --- Members: invitations, roles, deactivation ---------------------------------------


@dataclass(frozen=True)
class IssuedInvitation:
    """An invitation and the link it was sent with (the link is never stored)."""

    invitation: Invitation
    link: str


def _check_role_choice(role: str, partner: Partner | None) -> None:
    """A known role, and a partner's user only as the partner's rep."""
    if role not in Role.values:
        raise RuleViolation(
            field="role",
            code="invalid_choice",
            message=f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.",
        )
    if partner is not None and role != Role.REP:
        raise RuleViolation(
            field="role", code="invalid", message="A partner user acts as a rep for the partner."
        )


def _check_role(role: str, partner: Partner | None) -> None:
    _check_role_choice(role, partner)
    if partner is not None and partner.status != PartnerStatus.ACTIVE:
        raise RuleViolation(
            field="partner",
            code="suspended",
            message=f"{partner.name} is suspended; reactivate the partner first.",
        )


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


def _lock_admins(by: Principal) -> list[Membership]:
    # Locking every active admin row makes two concurrent demotions take turns,
    # so they cannot both see "another admin is left".
    return list(
        Membership.objects.select_for_update()
        .filter(role=Role.ADMIN, is_active=True, partner__isnull=True)
        .order_by("id")
    )


def _check_not_last_admin(membership: Membership, by: Principal, doing: str) -> None:
    admins = _lock_admins(by)
    if [m.pk for m in admins] == [membership.pk]:
        raise RuleViolation(
            field="role",
            code="last_admin",
            message=f"{membership.user.display_name} is the last active admin of "
            f"{by.tenant.name} and cannot be {doing}; make another member admin first.",
        )


@transaction.atomic
def change_member_role(
    *, membership: Membership, role: str, partner: Partner | None = None, by: Principal
) -> Membership:
    """Give a member another role, or make them a partner's user (role rep for the partner).

    The last active admin keeps their role. Giving the role they have changes nothing.
    """
    _check_role(role, partner)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if membership.role == role and membership.partner_id == (partner.pk if partner else None):
        return membership
    if membership.role == Role.ADMIN and membership.is_active and role != Role.ADMIN:
        _check_not_last_admin(membership, by, "demoted")
    before = {"role": membership.role, "partner": membership.partner_id}
    membership.role = role
    membership.partner = partner
    membership.save(update_fields=["role", "partner"])
    record_audit(
        action="membership.role_changed",
        obj=membership,
        before=before,
        after={"role": role, "partner": partner.pk if partner else None},
        by=by,
    )
    return membership


@transaction.atomic
def deactivate_member(*, membership: Membership, by: Principal) -> Membership:
    """Stop a member acting in this tenant; their login and other tenants are untouched."""
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if not membership.is_active:
        raise RuleViolation(
            field="is_active",
            code="unchanged",
            message=f"{membership.user.display_name} is already deactivated.",
            conflict=True,
        )
    if membership.role == Role.ADMIN:
        _check_not_last_admin(membership, by, "deactivated")
    membership.is_active = False
    membership.deactivated_at = timezone.now()
    membership.save(update_fields=["is_active", "deactivated_at"])
    record_audit(
        action="membership.deactivated",
        obj=membership,
        before={"is_active": True},
        after={"is_active": False},
        by=by,
    )
    return membership


@transaction.atomic
def reactivate_member(*, membership: Membership, by: Principal) -> Membership:
    """Let a deactivated member act in this tenant again, with the role they had."""
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if membership.is_active:
        raise RuleViolation(
            field="is_active",
            code="unchanged",
            message=f"{membership.user.display_name} is already active.",
            conflict=True,
        )
    membership.is_active = True
    membership.deactivated_at = None
    membership.save(update_fields=["is_active", "deactivated_at"])
    record_audit(
        action="membership.reactivated",
        obj=membership,
        before={"is_active": False},
        after={"is_active": True},
        by=by,
    )
    return membership


def _check_password(password: str, email: str, *, full_name: str = "") -> None:
    from django.contrib.auth.password_validation import validate_password

    try:
        validate_password(password, User(email=email, full_name=full_name))
    except ValidationError as exc:
        raise RuleViolation(field="password", code="weak", message=" ".join(exc.messages)) from None


@dataclass(frozen=True)
class IssuedSecret:
    """A credential row and its secret, which is shown exactly once."""

    credential: ApiKey | UserToken
    secret: str


@transaction.atomic
def issue_user_token(
    *, membership: Membership, name: str = "default", by: Principal
) -> IssuedSecret:
    """Give a member an API token for this tenant."""
    name = _clean_name(name)
    secret = tokens.generate(tokens.USER_TOKEN_KIND, by.tenant.pk)
    token = UserToken.objects.create(
        tenant=by.tenant,
        user=membership.user,
        name=name,
        prefix=tokens.display_prefix(secret),
        token_hash=tokens.digest(secret),
    )
    record_audit(
        action="user_token.issued",
        obj=token,
        after={"user": membership.user.email, "name": name},
        by=by,
    )
    return IssuedSecret(credential=token, secret=secret)


def create_my_token(*, name: str, by: Principal) -> IssuedSecret:
    """Give the acting person a new API token of their own, in the acting tenant.

    The token is always the principal's own: nobody creates a token that acts
    as someone else (an admin gives an integration an API key instead).
    """
    if by.user is None or by.membership is None:
        raise RuleViolation(
            field="user", code="no_person", message="Only a person has API tokens of their own."
        )
    return issue_user_token(membership=by.membership, name=name, by=by)


@transaction.atomic
def revoke_user_token(*, token: UserToken, by: Principal) -> UserToken:
    """Revoke a person's API token at once; requests with it get 401 from then on.

    A person revokes their own tokens; an admin revokes any member's (the
    callers look the token up among those the principal may reach, so another
    person's token is a 404 before this runs). The token a request
    authenticated with cannot revoke itself: the caller would lock itself out
    mid-request, and an API run (the CI's fuzzing among them) would lose its
    credential to a guessed id. Revoke it from the tokens page or with another
    token.
    """
    if by.user_token is not None and by.user_token.pk == token.pk:
        raise RuleViolation(
            field="token",
            code="current_token",
            message="This request is authenticated with this token, so it cannot revoke it; "
            "revoke it on the API tokens page (/settings/tokens/) or with another token.",
            conflict=True,
        )
    own = by.user is not None and by.user.pk == token.user_id
    if not own and not _is_admin(by):
        raise RuleViolation(
            field="token", code="not_yours", message="Only its owner or an admin may revoke it."
        )
    _revoke_once(token, noun="token")
    record_audit(
        action="user_token.revoked",
        obj=token,
        after={
            "user": token.user.email,
            "name": token.name,
            "revoked_at": _when(token.revoked_at),
        },
        by=by,
    )
    return token


def _is_admin(by: Principal) -> bool:
    return by.has_role(Role.ADMIN) and not by.is_partner


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise RuleViolation(
            field="name", code="invalid", message="Give a name of 1–100 characters."
        )
    return name


@transaction.atomic
def update_my_settings(*, full_name: str, timezone_name: str, by: Principal) -> User:
    """Change the acting person's own name and the time zone they read times in.

    A blank zone means the tenant's. Only the person themselves changes these,
    so the user is the principal's, never one named by the caller.
    """
    user = by.user
    if user is None:
        raise RuleViolation(
            field="user", code="no_person", message="Only a person has their own settings."
        )
    full_name = " ".join(full_name.split())
    if len(full_name) > 150:
        raise RuleViolation(
            field="full_name", code="too_long", message="Give a name of at most 150 characters."
        )
    timezone_name = timezone_name.strip()
    if timezone_name:
        try:
            validate_timezone(timezone_name)
        except ValidationError as exc:
            raise RuleViolation(field="timezone", code="invalid", message=exc.messages[0]) from None
    before = {"full_name": user.full_name, "timezone": user.timezone}
    after = {"full_name": full_name, "timezone": timezone_name}
    if before == after:
        return user
    user.full_name = full_name
    user.timezone = timezone_name
    user.save(update_fields=["full_name", "timezone"])
    record_audit(action="user.settings_changed", obj=user, before=before, after=after, by=by)
    return user


# --- Partners and API keys ---------------------------------------------------------


@transaction.atomic
def create_partner(*, name: str, kind: str, contact_email: str = "", by: Principal) -> Partner:
    """Register a channel partner (dealer, VAR or agent)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise RuleViolation(
            field="name", code="invalid", message="Give a name of 1–200 characters."
        )
    if kind not in PartnerKind.values:
        raise RuleViolation(
            field="kind",
            code="invalid_choice",
            message=f"Unknown kind {kind!r}; choose one of {', '.join(PartnerKind.values)}.",
        )
    if contact_email:
        contact_email = _clean_email(contact_email)
    if Partner.objects.filter(name__iexact=name).exists():
        raise RuleViolation(
            field="name", code="duplicate", message=f"A partner named {name!r} already exists."
        )
    partner = Partner.objects.create(
        tenant=by.tenant, name=name, kind=kind, contact_email=contact_email
    )
    record_audit(action="partner.created", obj=partner, after={"name": name, "kind": kind}, by=by)
    return partner


@transaction.atomic
def suspend_partner(*, partner: Partner, by: Principal) -> Partner:
    """Stop a partner receiving leads and using the API (e.g. it stopped reporting)."""
    return _set_partner_status(partner, PartnerStatus.SUSPENDED, by)


@transaction.atomic
def reactivate_partner(*, partner: Partner, by: Principal) -> Partner:
    """Let a suspended partner receive leads and use the API again."""
    return _set_partner_status(partner, PartnerStatus.ACTIVE, by)


def _set_partner_status(partner: Partner, status: str, by: Principal) -> Partner:
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if partner.status == status:
        raise RuleViolation(
            field="status",
            code="unchanged",
            message=f"The partner is already {status}.",
            conflict=True,
        )
    before = partner.status
    partner.status = status
    partner.suspended_at = timezone.now() if status == PartnerStatus.SUSPENDED else None
    partner.save(update_fields=["status", "suspended_at"])
    record_audit(
        action=f"partner.{'suspended' if status == PartnerStatus.SUSPENDED else 'reactivated'}",
        obj=partner,
        before={"status": before},
        after={"status": status},
        by=by,
    )
    return partner


@transaction.atomic
def issue_api_key(
    *, name: str, partner: Partner | None = None, role: str = "", by: Principal
) -> IssuedSecret:
    """Create an API key for a partner, or for a tenant integration with a role."""
    name = _clean_name(name)
    if partner is None and role not in Role.values:
        raise RuleViolation(
            field="role",
            code="required",
            message=f"A tenant key needs a role: one of {', '.join(Role.values)}.",
        )
    if partner is not None and role:
        raise RuleViolation(
            field="role",
            code="invalid",
            message="A partner key acts for its partner; give no role.",
        )
    if partner is not None and partner.status != PartnerStatus.ACTIVE:
        raise RuleViolation(field="partner", code="suspended", message="The partner is suspended.")
    secret = tokens.generate(tokens.API_KEY_KIND, by.tenant.pk)
    key = ApiKey.objects.create(
        tenant=by.tenant,
        name=name,
        partner=partner,
        role=role,
        prefix=tokens.display_prefix(secret),
        key_hash=tokens.digest(secret),
        created_by=by.user,
    )
    record_audit(
        action="api_key.issued",
        obj=key,
        after={"name": name, "partner": partner.pk if partner else None, "role": role},
        by=by,
    )
    return IssuedSecret(credential=key, secret=secret)


@transaction.atomic
def revoke_api_key(*, api_key: ApiKey, by: Principal) -> ApiKey:
    """Revoke a key at once; requests with it get 401 from then on."""
    _revoke_once(api_key, noun="key")
    record_audit(
        action="api_key.revoked",
        obj=api_key,
        after={"revoked_at": _when(api_key.revoked_at)},
        by=by,
    )
    return api_key


def mark_credential_used(*, principal: Principal) -> None:
    """Refresh a key's or token's last-used time, at most once per ``LAST_USED_RESOLUTION``.

    The row was just read to authenticate the request, so a recent stamp costs
    no query at all. An older one is refreshed with a conditional ``UPDATE``
    whose ``WHERE`` repeats the age test: of concurrent requests only the
    first writes, the others match no row. A busy integration writes about
    once per interval, not once per request.
    """
    credential = principal.api_key or principal.user_token
    if credential is None:
        return
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    if credential.last_used_at and credential.last_used_at > stale:
        return
    type(credential).objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=credential.pk
    ).update(last_used_at=now)


# --- Idempotency ---------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What a request with an Idempotency-Key may do: run, replay, or stop."""

    outcome: str  # "run", "replay", "in_progress" or "mismatch"
    record: IdempotencyRecord | None = None


def fingerprint(*, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def claim_idempotency_key(*, key: str, request_fingerprint: str, by: Principal) -> Claim:
    """Claim a key before running a request; commits on its own so others see it at once."""
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    tenant=by.tenant,
                    caller=by.caller,
                    key=key,
                    fingerprint=request_fingerprint,
                    state=IdempotencyState.IN_PROGRESS,
                    created_at=now,
                    locked_at=now,
                )
            return Claim("run", record)
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.get(caller=by.caller, key=key)
        if now - record.created_at > settings.IDEMPOTENCY_KEY_TTL:
            return _take_over(record, request_fingerprint, now, fresh=True)
        if record.fingerprint != request_fingerprint:
            return Claim("mismatch", record)
        if record.state == IdempotencyState.COMPLETED:
            return Claim("replay", record)
        if now - record.locked_at > settings.IDEMPOTENCY_LOCK_TIMEOUT:
            return _take_over(record, request_fingerprint, now, fresh=False)
        return Claim("in_progress", record)


def _take_over(
    record: IdempotencyRecord, request_fingerprint: str, now: datetime, *, fresh: bool
) -> Claim:
    """Reuse an expired key, or resume one whose first request died mid-way."""
    updated = IdempotencyRecord.objects.filter(
        pk=record.pk, locked_at=record.locked_at, state=record.state
    ).update(
        fingerprint=request_fingerprint,
        state=IdempotencyState.IN_PROGRESS,
        status_code=None,
        response_body=None,
        content_type="",
        locked_at=now,
        **({"created_at": now} if fresh else {}),
    )
    if not updated:
        return Claim("in_progress", record)
    record.refresh_from_db()
    return Claim("run", record)


def complete_idempotency_key(
    *, record: IdempotencyRecord, status_code: int, content_type: str, body: bytes
) -> None:
    """Store the first response; call it in the same transaction as the request's work."""
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyState.COMPLETED,
        status_code=status_code,
        content_type=content_type[:100],
        response_body=body,
    )


def release_idempotency_key(*, record: IdempotencyRecord) -> None:
    """Forget a claim whose request failed, so a retry can run."""
    IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyState.IN_PROGRESS).delete()


def purge_expired_idempotency_keys(*, older_than: timedelta | None = None) -> int:
    """Delete the current tenant's idempotency records past their time to live."""
    cutoff = timezone.now() - (older_than or settings.IDEMPOTENCY_KEY_TTL)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _revoke_once(credential: ApiKey | UserToken, *, noun: str) -> None:
    """Stamp ``revoked_at`` with a conditional UPDATE, so two revocations cannot both win."""
    updated = (
        type(credential)
        .objects.filter(pk=credential.pk, revoked_at__isnull=True)
        .update(revoked_at=timezone.now())
    )
    if not updated:
        raise RuleViolation(
            field="revoked_at",
            code="already_revoked",
            message=f"The {noun} is already revoked.",
            conflict=True,
        )
    credential.refresh_from_db(fields=["revoked_at"])
