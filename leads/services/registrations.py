"""Deal registration: a partner registers a buyer it found; first to register wins.

``POST /api/v1/deal-registrations/`` and the page ``/deals/`` both call
:func:`register_deal`. Only a partner (one of its users or its API key) may
register, and only while it is active. A buyer already owned — an inquiry
with the same email (ignoring case) or company domain that has an open lead,
is another partner's referral, or is covered by another partner's live
registration — is refused: the refusal is stored (status ``refused``) and
says only that the buyer is already being worked, never by whom. Otherwise
the buyer enters as an inquiry from that partner, through the inquiries'
capture service (a partner referral), and the registration is linked to it.

Booking that inquiry (``leads.services.booking``) calls
:func:`protect_registered_lead`: the lead stays the partner's until
``protection_days`` (tenant setting) from then, and recall skips it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from inquiries.models import Consent, Inquiry, Source
from inquiries.services import capture
from inquiries.services.validation import clean_country
from leadflow.lib import phone as phone_lib
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Partner, PartnerStatus
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services.audit import record_audit
from leads.models import CLOSED_STAGES, DealRegistration, Lead, RegistrationStatus
from leads.selectors.settings import lead_settings

MAX_COMPANY_LENGTH = 200
MAX_NAME_LENGTH = 100
MAX_NEED_LENGTH = 2000
MAX_DOMAIN_LENGTH = 253
#: What a refused partner reads: that the buyer is taken, never by whom.
ALREADY_OWNED = "This buyer is already being worked; it cannot be registered."
#: Registrations that still hold their buyer (until ``protected_until``).
LIVE_STATUSES = (RegistrationStatus.REGISTERED, RegistrationStatus.LEAD)
DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
# The inquiry's interest holds 200 characters; the whole need stays on the registration.
INTEREST_LENGTH = 200


def _text(field: str, value: Any, limit: int, *, required: bool = False, label: str = "") -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise RuleViolation(field=field, code="invalid", message="Give text.")
    value = value.strip()
    if "\x00" in value:
        raise RuleViolation(field=field, code="invalid", message="Null characters are not allowed.")
    if required and not value:
        raise RuleViolation(field=field, code="required", message=f"Give the {label or field}.")
    if len(value) > limit:
        raise RuleViolation(field=field, code="too_long", message=f"At most {limit} characters.")
    return value


def clean_domain(value: str) -> str:
    """A lower-case host name (``acme.example``), without a scheme, ``www.`` or path."""
    domain = value.strip().lower()
    domain = re.sub(r"^[a-z]+://", "", domain).split("/")[0]
    domain = domain.removeprefix("www.")
    if domain and not DOMAIN.match(domain):
        raise RuleViolation(
            field="company_domain",
            code="invalid",
            message="Give the company's web domain, e.g. acme.com.",
        )
    return domain


def _clean(fields: dict[str, Any]) -> dict[str, str]:
    """Every field checked and trimmed; the first problem is raised, nothing is written."""
    clean = {
        "company": _text("company", fields["company"], MAX_COMPANY_LENGTH, required=True),
        "first_name": _text("first_name", fields["first_name"], MAX_NAME_LENGTH),
        "last_name": _text("last_name", fields["last_name"], MAX_NAME_LENGTH),
        "need": _text("need", fields["need"], MAX_NEED_LENGTH),
    }
    email = _text("email", fields["email"], 254).lower()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise RuleViolation(
                field="email", code="invalid", message="Give a valid email address."
            ) from None
    domain = clean_domain(_text("company_domain", fields["company_domain"], MAX_DOMAIN_LENGTH))
    if not domain and email:
        domain = capture.company_domain(email)
    if not (email or domain):
        raise RuleViolation(
            field="email",
            code="identity_required",
            message="Give the buyer's email or the company's web domain.",
        )
    phone = _text("phone", fields["phone"], 40)
    if phone and not phone_lib.normalize(phone):
        raise RuleViolation(
            field="phone",
            code="invalid",
            message="Give a phone number of 7–15 digits, e.g. +1 555 010 2000.",
        )
    country = _text("country", fields["country"], 20)
    if country:
        try:
            country = clean_country(country)
        except ValueError as exc:
            raise RuleViolation(field="country", code="invalid", message=str(exc)) from None
    return {**clean, "email": email, "company_domain": domain, "phone": phone, "country": country}


def _may_register(partner: Partner, by: Principal) -> Partner:
    if by.partner is None or by.partner.pk != partner.pk:
        raise RuleViolation(
            field="partner",
            code="forbidden",
            message="Only a partner registers deals, for itself.",
        )
    current = Partner.objects.get(pk=partner.pk)
    if current.status != PartnerStatus.ACTIVE:
        reason = current.suspension_reason or "no reason was recorded"
        raise RuleViolation(
            field="partner",
            code="suspended",
            message=f"Your partnership is suspended ({reason}); it cannot register deals.",
        )
    return current


def _lock(tenant_id: int, email: str, domain: str) -> None:
    """Serialise registrations of one buyer, so two at once cannot both win."""
    keys = sorted(
        f"deal-registration:{tenant_id}:{kind}:{value}"
        for kind, value in (("email", email), ("domain", domain))
        if value
    )
    if connection.vendor != "postgresql":
        return  # the embedded SQLite runs one writing transaction at a time (IMMEDIATE)
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def is_owned(*, email: str, domain: str, partner_id: int, at: datetime) -> bool:
    """Whether another owner holds this buyer (by email, ignoring case, or company domain)."""
    people = Q()
    if email:
        people |= capture.with_email(email)
    if domain:
        people |= Q(company_domain=domain)  # stored lower-case, as the index holds it
    inquiries = Inquiry.objects.filter(people)
    open_lead = Lead.objects.filter(inquiry_id__in=inquiries.values("pk")).exclude(
        stage__in=[str(stage) for stage in CLOSED_STAGES]
    )
    if open_lead.exists():
        return True
    if inquiries.filter(partner__isnull=False).exclude(partner_id=partner_id).exists():
        return True
    registered = Q()  # both stored lower-case by this service
    if email:
        registered |= Q(email=email)
    if domain:
        registered |= Q(company_domain=domain)
    return (
        DealRegistration.objects.filter(registered, status__in=[str(s) for s in LIVE_STATUSES])
        .exclude(partner_id=partner_id)
        .filter(Q(protected_until__isnull=True) | Q(protected_until__gt=at))
        .exists()
    )


def registration_snapshot(registration: DealRegistration) -> dict[str, Any]:
    """The registration as plain data (the audit row)."""
    return {
        "partner": registration.partner_id,
        "company": registration.company,
        "company_domain": registration.company_domain,
        "email": registration.email,
        "status": registration.status,
        "inquiry": registration.inquiry_id,
        "protected_until": (
            registration.protected_until.isoformat() if registration.protected_until else None
        ),
    }


def register_deal(
    *,
    partner: Partner,
    company: str,
    company_domain: str = "",
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    country: str = "",
    need: str = "",
    consent: str = Consent.UNKNOWN,
    by: Principal,
) -> DealRegistration:
    """Register a buyer for ``partner``: a new inquiry from it, or a stored refusal.

    A refusal is a registration with status ``refused`` and the reason
    :data:`ALREADY_OWNED`; bad input, a caller that is not the partner, or a
    suspended partner raise :class:`RuleViolation` and write nothing.
    ``consent`` is what the partner states about marketing email.
    """
    partner = _may_register(partner, by)
    clean = _clean(
        {
            "company": company,
            "company_domain": company_domain,
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "phone": phone,
            "country": country,
            "need": need,
        }
    )
    if consent not in Consent.values:
        raise RuleViolation(
            field="consent", code="invalid_choice", message="Unknown consent value."
        )
    with transaction.atomic():
        _lock(by.tenant.pk, clean["email"], clean["company_domain"])
        now = timezone.now()
        owned = is_owned(
            email=clean["email"], domain=clean["company_domain"], partner_id=partner.pk, at=now
        )
        registration = DealRegistration.objects.create(
            tenant=by.tenant,
            partner=partner,
            **clean,
            status=RegistrationStatus.REFUSED if owned else RegistrationStatus.REGISTERED,
            reason=ALREADY_OWNED if owned else "",
            protected_until=None if owned else now + timedelta(days=_protection_days()),
            user=by.user,
            created_at=now,
        )
        if not owned:
            registration.inquiry = _enter_inquiry(registration, consent, by)
            registration.save(update_fields=["inquiry"])
        record_audit(
            action="deal_registration.refused" if owned else "deal_registration.registered",
            obj=registration,
            after=registration_snapshot(registration),
            by=by,
        )
    return registration


def _protection_days() -> int:
    return lead_settings().protection_days


def _enter_inquiry(registration: DealRegistration, consent: str, by: Principal) -> Inquiry:
    """The buyer as an inquiry from the partner: a partner referral, through capture."""
    profile = {
        "first_name": registration.first_name,
        "last_name": registration.last_name,
        "email": registration.email,
        "phone": registration.phone,
        "company": registration.company,
        "country": registration.country,
        "interest": registration.need[:INTEREST_LENGTH],
    }
    captured = capture.capture_inquiry(
        profile=profile,
        source=Source.PARTNER_REFERRAL,
        consent=consent,
        external_source="deal_registration",
        external_id=str(registration.pk),
        activity_details={"deal_registration": registration.pk, "need": registration.need},
        by=by,
    )
    return captured.inquiry


def protect_registered_lead(*, lead: Lead, inquiry: Inquiry, by: Principal) -> bool:
    """At booking: keep the lead its registering partner's for the protection window.

    When the booked inquiry has its partner's open registration (registered,
    not expired) and the tenant's ``protection_days`` is not 0, the lead and
    the registration are protected until now + that many days and the
    registration becomes ``lead``; whether it did.
    """
    now = timezone.now()
    registration = (
        DealRegistration.objects.select_for_update()
        .filter(
            inquiry_id=inquiry.pk,
            partner_id=inquiry.partner_id,
            status=RegistrationStatus.REGISTERED,
        )
        .filter(Q(protected_until__isnull=True) | Q(protected_until__gt=now))
        .order_by("created_at", "pk")
        .first()
    )
    days = _protection_days()
    if registration is None or days == 0:
        return False
    until = now + timedelta(days=days)
    before = registration_snapshot(registration)
    lead.protected_until = until
    lead.save(update_fields=["protected_until"])
    registration.status = RegistrationStatus.LEAD
    registration.protected_until = until
    registration.save(update_fields=["status", "protected_until"])
    record_audit(
        action="deal_registration.protected",
        obj=registration,
        before=before,
        after={**registration_snapshot(registration), "lead": lead.pk},
        by=by,
    )
    return True
