"""Tenants and their members: opening a tenant, adding people, roles, deactivation."""

from __future__ import annotations

import re
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from leadflow.lib import times
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
from leadflow.tenancy.roles import MANAGERS
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


# How far from today (the tenant's) a leave may start or end, and the largest capacity.
LEAVE_YEARS_BACK = 1
LEAVE_YEARS_AHEAD = 2
MAX_CAPACITY = 1000


def tenant_today(tenant: Tenant) -> date:
    """Today's date in the tenant's time zone (what ``Membership.on_leave`` compares)."""
    return timezone.now().astimezone(times.zone(tenant.timezone)).date()


def _years_from(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def _check_leave_day(field: str, day: date | None, today: date) -> None:
    if day is None:
        return
    if not isinstance(day, date):
        raise RuleViolation(field=field, code="invalid", message="Give a date (YYYY-MM-DD).")
    earliest = _years_from(today, -LEAVE_YEARS_BACK)
    latest = _years_from(today, LEAVE_YEARS_AHEAD)
    if not earliest <= day <= latest:
        raise RuleViolation(
            field=field,
            code="out_of_range",
            message=f"Give a day from {times.shown_day(earliest)} to {times.shown_day(latest)} "
            f"(a year back to two years ahead).",
        )


def _check_capacity(capacity: int | None) -> None:
    if capacity is None:
        return
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise RuleViolation(field="capacity", code="invalid", message="Give a whole number.")
    if not 0 <= capacity <= MAX_CAPACITY:
        raise RuleViolation(
            field="capacity",
            code="out_of_range",
            message=f"Give a whole number from 0 to {MAX_CAPACITY}, or leave it empty for no cap.",
        )


def _may_set_availability(membership: Membership, by: Principal, *, capacity_changes: bool) -> None:
    """Admins and managers set anyone's; a member their own leave and zone, never capacity."""
    if by.is_partner:
        raise PermissionDenied("A partner's user cannot change members' availability.")
    if by.has_role(*MANAGERS):
        return
    if by.user is None or by.user.pk != membership.user_id:
        raise PermissionDenied("Only admins and managers change another member's availability.")
    if capacity_changes:
        raise PermissionDenied("Only admins and managers set a member's capacity.")


def _availability(membership: Membership) -> dict[str, object]:
    return {
        "leave_from": membership.leave_from.isoformat() if membership.leave_from else None,
        "leave_until": membership.leave_until.isoformat() if membership.leave_until else None,
        "capacity": membership.capacity,
        "timezone": membership.user.timezone,
    }


@transaction.atomic
def set_member_availability(
    *,
    membership: Membership,
    leave_from: date | None,
    leave_until: date | None,
    capacity: int | None,
    timezone: str,
    by: Principal,
) -> Membership:
    """Set a member's leave (both days included; open-ended without ``leave_until``), the most
    open leads they may hold (``None``: no cap) and their personal time zone (blank: tenant's).

    Admins and managers set any member's; a member may set their own leave and time
    zone but not their capacity. Every value is checked before anything is written.
    The time zone is the person's own (``User.timezone``), so it applies in every
    tenant they belong to.
    """
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    _may_set_availability(membership, by, capacity_changes=capacity != membership.capacity)
    if not membership.is_active:
        raise RuleViolation(
            field="is_active",
            code="deactivated",
            message=f"{membership.user.display_name} is deactivated; reactivate them before "
            "changing their availability.",
        )
    today = tenant_today(by.tenant)
    _check_leave_day("leave_from", leave_from, today)
    _check_leave_day("leave_until", leave_until, today)
    if leave_until is not None and leave_from is None:
        raise RuleViolation(
            field="leave_from",
            code="required",
            message="Give the first day of the leave too (leave “until” empty for open-ended).",
        )
    if leave_from is not None and leave_until is not None and leave_until < leave_from:
        raise RuleViolation(
            field="leave_until",
            code="before_start",
            message="The last day of the leave cannot be before its first day.",
        )
    _check_capacity(capacity)
    zone_name = (timezone or "").strip()
    if zone_name:
        try:
            validate_timezone(zone_name)
        except ValidationError as exc:
            raise RuleViolation(field="timezone", code="invalid", message=exc.messages[0]) from None
    before = _availability(membership)
    membership.leave_from = leave_from
    membership.leave_until = leave_until
    membership.capacity = capacity
    membership.user.timezone = zone_name
    after = _availability(membership)
    if before == after:
        return membership
    membership.save(update_fields=["leave_from", "leave_until", "capacity"])
    if before["timezone"] != zone_name:
        membership.user.save(update_fields=["timezone"])
    record_audit(
        action="membership.availability_changed",
        obj=membership,
        before=before,
        after=after,
        by=by,
    )
    return membership


@transaction.atomic
def set_tenant_timezone(*, timezone_name: str, by: Principal) -> Tenant:
    """Change the acting tenant's time zone (days, weeks and reminders follow it); audited.

    Admins and managers only, never a partner's user.
    """
    if by.is_partner or not by.has_role(*MANAGERS):
        raise PermissionDenied("Only admins and managers change the organisation's time zone.")
    zone_name = (timezone_name or "").strip()
    try:
        validate_timezone(zone_name)
    except ValidationError as exc:
        raise RuleViolation(field="timezone", code="invalid", message=exc.messages[0]) from None
    tenant = Tenant.objects.select_for_update().get(pk=by.tenant.pk)
    if tenant.timezone == zone_name:
        return tenant
    before = tenant.timezone
    tenant.timezone = zone_name
    tenant.save(update_fields=["timezone"])
    by.tenant.timezone = zone_name
    record_audit(
        action="tenant.timezone_changed",
        obj=tenant,
        before={"timezone": before},
        after={"timezone": zone_name},
        by=by,
    )
    return tenant
