"""Channel partners and API keys, and the last-used stamp on keys and tokens."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from leadflow.lib import tokens
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import ApiKey, Partner, PartnerKind, PartnerStatus, PartnerTier, Role
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leadflow.tenancy.services._common import (
    IssuedSecret,
    _clean_email,
    _clean_name,
    _revoke_once,
    _when,
)
from leadflow.tenancy.services.audit import record_audit

# A credential's last-used time is refreshed at most this often, so a busy
# integration does not turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=5)


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
def suspend_partner(
    *, partner: Partner, by: Principal, reason: str = "", by_rule: bool = False
) -> Partner:
    """Stop a partner receiving leads and using the API (e.g. it stopped reporting).

    ``reason`` is kept on the partner and in the audit row; ``by_rule`` marks a
    suspension by the reporting rule (``leads.services.compliance``), the only
    kind the rule lifts by itself — a suspension by hand stays until reactivated.
    """
    return _set_partner_status(
        partner, PartnerStatus.SUSPENDED, by, reason=reason.strip()[:300], by_rule=by_rule
    )


@transaction.atomic
def reactivate_partner(*, partner: Partner, by: Principal, reason: str = "") -> Partner:
    """Let a suspended partner receive leads and use the API again."""
    return _set_partner_status(partner, PartnerStatus.ACTIVE, by, reason=reason.strip()[:300])


def _set_partner_status(
    partner: Partner, status: str, by: Principal, *, reason: str = "", by_rule: bool = False
) -> Partner:
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if partner.status == status:
        raise RuleViolation(
            field="status",
            code="unchanged",
            message=f"The partner is already {status}.",
            conflict=True,
        )
    before = {"status": partner.status}
    if partner.suspension_reason:
        before["reason"] = partner.suspension_reason
    suspended = status == PartnerStatus.SUSPENDED
    partner.status = status
    partner.suspended_at = timezone.now() if suspended else None
    partner.suspension_reason = reason if suspended else ""
    partner.suspended_by_rule = by_rule if suspended else False
    partner.save(update_fields=["status", "suspended_at", "suspension_reason", "suspended_by_rule"])
    after: dict[str, object] = {"status": status}
    if reason:
        after["reason"] = reason
    if suspended:
        after["by_rule"] = by_rule
    record_audit(
        action=f"partner.{'suspended' if suspended else 'reactivated'}",
        obj=partner,
        before=before,
        after=after,
        by=by,
    )
    return partner


# The most open leads a partner may be given at once (None: no cap).
MAX_PARTNER_CAPACITY = 100_000


@transaction.atomic
def set_partner_routing(
    *, partner: Partner, tier: str, capacity: int | None, by: Principal
) -> Partner:
    """Set a partner's tier (its turns in the router, ``TIER_WEIGHTS``) and its capacity.

    Admins and managers only. Capacity is the most open leads it may hold; ``None``: no cap.
    """
    if by.is_partner or not by.has_role(*MANAGERS):
        raise PermissionDenied("Only admins and managers set a partner's tier and capacity.")
    if tier not in PartnerTier.values:
        raise RuleViolation(
            field="tier",
            code="invalid_choice",
            message=f"Unknown tier {tier!r}; choose one of {', '.join(PartnerTier.values)}.",
        )
    if capacity is not None and (
        isinstance(capacity, bool)
        or not isinstance(capacity, int)
        or not 0 <= capacity <= MAX_PARTNER_CAPACITY
    ):
        raise RuleViolation(
            field="capacity",
            code="out_of_range",
            message=f"Give a whole number from 0 to {MAX_PARTNER_CAPACITY:,}, or leave it empty "
            "for no cap.",
        )
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    before = {"tier": partner.tier, "capacity": partner.capacity}
    after = {"tier": tier, "capacity": capacity}
    if before == after:
        return partner
    partner.tier = tier
    partner.capacity = capacity
    partner.save(update_fields=["tier", "capacity"])
    record_audit(action="partner.routing_changed", obj=partner, before=before, after=after, by=by)
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
