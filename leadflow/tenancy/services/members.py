"""Tenants and their members: opening a tenant, adding people, roles, deactivation."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import (
    Membership,
    Partner,
    PartnerStatus,
    Role,
    Tenant,
    User,
    validate_timezone,
)
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services._common import (
    _check_password,
    _check_role,
    _check_role_choice,
    _clean_email,
)
from leadflow.tenancy.services.audit import record_audit

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")


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
