"""Capture: every door (API, form, partner referral, import) records a response here.

A response from a person already known in the tenant merges into their
inquiry — email compared trimmed and case-insensitively (the primary email or
one of the person's additional emails, kept by a merge), otherwise the same
external id from the same source, otherwise the same normalised phone — and
the merge shows on the timeline. A response from an additional email leaves
the primary email as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, Subquery
from django.utils import timezone

from inquiries.models import (
    Activity,
    ActivityKind,
    Campaign,
    Consent,
    CustomField,
    Inquiry,
    InquiryEmail,
    Source,
    Stage,
)
from inquiries.profile import PROFILE_FIELDS
from inquiries.services import scoring as scoring_services
from inquiries.services.custom_fields import clean_custom_values
from leadflow.lib import edits
from leadflow.lib import phone as phone_lib
from leadflow.lib.company_size import parse_company_size
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

# Company grouping by email domain ignores free-mail providers.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
        "qq.com",
        "163.com",
        "t-online.de",
        "orange.fr",
        "free.fr",
    }
)
RESPONSE_KIND: dict[str, str] = {
    Source.WEB_FORM: ActivityKind.FORM_FILL,
    Source.DOWNLOAD: ActivityKind.DOWNLOAD,
    Source.WEBINAR: ActivityKind.WEBINAR,
    Source.EVENT: ActivityKind.EVENT_CARD,
    Source.PARTNER_REFERRAL: ActivityKind.PARTNER_REFERRAL,
    Source.CHAT: ActivityKind.CHAT,
    Source.EMAIL: ActivityKind.EMAIL_REPLY,
}


@dataclass(frozen=True)
class Captured:
    inquiry: Inquiry
    created: bool


def company_domain(email: str) -> str:
    domain = email.rpartition("@")[2].lower()
    return "" if not domain or domain in FREE_MAIL_DOMAINS else domain


def _normalized(profile: dict[str, Any], region: str = "") -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name in PROFILE_FIELDS:
        value = profile.get(name)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            continue
        clean[name] = value
    if "email" in clean:
        clean["email"] = clean["email"].lower()
    if "country" in clean:
        clean["country"] = clean["country"].upper()
    if isinstance(clean.get("company_size"), str):
        # Every door reads a size as the import does: "51-200" is 51, "lots" is refused.
        try:
            clean["company_size"] = parse_company_size(clean["company_size"])
        except ValueError as exc:
            raise RuleViolation(field="company_size", code="invalid", message=str(exc)) from None
    if "phone" in clean:
        normalized = phone_lib.normalize(clean["phone"], region)
        if not normalized:
            raise RuleViolation(
                field="phone",
                code="invalid",
                message="Give a phone number of 7–15 digits, e.g. +1 555 010 2000.",
            )
        clean["phone_normalized"] = normalized
    return clean


def with_email(email: str) -> Q:
    """Inquiries with this address as their primary or one of their additional emails.

    One statement: the additional email is looked up once (an InitPlan), so
    both sides are index probes.
    """
    additional = InquiryEmail.objects.filter(email=email).order_by().values("inquiry_id")[:1]
    return Q(email=email) | Q(pk=Subquery(additional))


def email_owner(email: str, *, exclude_id: int | None = None) -> bool:
    """Whether another inquiry has this address, as its primary or an additional email."""
    return Inquiry.objects.filter(with_email(email)).exclude(pk=exclude_id).exists()


def _find_existing(clean: dict[str, Any], external_source: str, external_id: str) -> Inquiry | None:
    people = Inquiry.objects.select_for_update()
    if clean.get("email"):
        found = people.filter(with_email(clean["email"])).first()
        if found:
            return found
    if external_id:
        found = people.filter(external_source=external_source, external_id=external_id).first()
        if found:
            return found
    if clean.get("phone_normalized"):
        return people.filter(phone_normalized=clean["phone_normalized"]).order_by("id").first()
    return None


def capture_inquiry(
    *,
    profile: dict[str, Any],
    custom: dict[str, Any] | None = None,
    source: str = Source.API,
    campaign: Campaign | None = None,
    consent: str = Consent.UNKNOWN,
    external_source: str = "",
    external_id: str = "",
    activity_kind: str | None = None,
    activity_details: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    by: Principal,
) -> Captured:
    """Record one response: a new inquiry, or merged into the person already known.

    A partner's caller is recorded as the source (a partner referral). The
    inquiry is rescored at once: over the threshold it joins the MQL queue,
    below it goes to nurture. Retrying the same response merges again and
    never makes a duplicate.
    """
    clean = _normalized(profile, by.tenant.country)
    external_source = external_source.strip()
    external_id = external_id.strip()
    if not (clean.get("email") or clean.get("phone_normalized") or external_id):
        raise RuleViolation(
            field="email",
            code="identity_required",
            message="Give at least one of email, phone or external_id.",
        )
    fields = {f.key: f for f in CustomField.objects.all()}
    custom_values, errors = clean_custom_values(custom, fields)
    if errors:
        path, messages = next(iter(errors.items()))
        raise RuleViolation(field=path, code="invalid", message=messages[0])
    if by.partner is not None:
        source = Source.PARTNER_REFERRAL
    if consent not in Consent.values:
        raise RuleViolation(
            field="consent", code="invalid_choice", message="Unknown consent value."
        )
    kind = activity_kind or RESPONSE_KIND.get(source, ActivityKind.FORM_FILL)
    when = occurred_at or timezone.now()
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _capture(
                    clean,
                    custom_values,
                    source,
                    campaign,
                    consent,
                    external_source,
                    external_id,
                    kind,
                    activity_details or {},
                    when,
                    by,
                )
        except IntegrityError:
            # The same person arrived twice at once; the second merges into the first.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _capture(
    clean: dict[str, Any],
    custom_values: dict[str, Any],
    source: str,
    campaign: Campaign | None,
    consent: str,
    external_source: str,
    external_id: str,
    kind: str,
    details: dict[str, Any],
    when: datetime,
    by: Principal,
) -> Captured:
    existing = _find_existing(clean, external_source, external_id)
    now = timezone.now()
    if existing is None:
        inquiry = Inquiry.objects.create(
            tenant=by.tenant,
            **clean,
            company_domain=company_domain(clean.get("email", "")),
            source=source,
            campaign=campaign,
            partner=by.partner,
            consent=consent,
            external_source=external_source if external_id else "",
            external_id=external_id,
            custom=custom_values,
            created_at=now,
            updated_at=now,
            last_activity_at=when,
        )
        _add_activity(inquiry, kind, when, {**details, "source": source}, by)
        record_audit(action="inquiry.captured", obj=inquiry, after={"source": source}, by=by)
        scoring_services.score_inquiry(inquiry=inquiry, by=by)
        return Captured(inquiry, True)

    inquiry = existing
    changed: dict[str, Any] = {}
    for name, value in clean.items():
        if getattr(inquiry, name) != value:
            changed[name] = value
    if "email" in changed and _is_additional_email(inquiry, changed["email"]):
        del changed["email"]  # one of the person's additional emails: the primary stays
    if "email" in changed:
        changed["company_domain"] = company_domain(changed["email"])
    for key, value in custom_values.items():
        if inquiry.custom.get(key) != value:
            changed.setdefault("custom", dict(inquiry.custom))[key] = value
    if consent != Consent.UNKNOWN and consent != inquiry.consent:
        changed["consent"] = consent  # an explicit new statement replaces the old one
    if external_id and not inquiry.external_id:
        changed.update(external_source=external_source, external_id=external_id)
    if campaign is not None and inquiry.campaign_id is None:
        changed["campaign"] = campaign
    if by.partner is not None and inquiry.partner_id is None:
        changed["partner"] = by.partner
    before = {name: _jsonable(getattr(inquiry, name)) for name in changed}
    for name, value in changed.items():
        setattr(inquiry, name, value)
    inquiry.updated_at = now
    inquiry.last_activity_at = max(filter(None, [inquiry.last_activity_at, when]))
    inquiry.save(update_fields=[*changed, "updated_at", "last_activity_at"])
    edits.edited("inquiry", [inquiry.pk], changed)
    _add_activity(
        inquiry,
        ActivityKind.MERGED,
        when,
        {"source": source, "updated_fields": sorted(changed)},
        by,
    )
    _add_activity(inquiry, kind, when, {**details, "source": source}, by)
    record_audit(
        action="inquiry.merged",
        obj=inquiry,
        before=before,
        after={name: _jsonable(value) for name, value in changed.items()},
        by=by,
    )
    if inquiry.stage != Stage.DISQUALIFIED:
        scoring_services.score_inquiry(inquiry=inquiry, by=by)
    return Captured(inquiry, False)


def _is_additional_email(inquiry: Inquiry, email: str) -> bool:
    """Whether the address is one of the inquiry's additional emails (asked only on a change)."""
    return InquiryEmail.objects.filter(inquiry=inquiry, email=email).exists()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "pk"):
        return value.pk
    return value


def _add_activity(
    inquiry: Inquiry, kind: str, when: datetime, details: dict[str, Any], by: Principal
) -> Activity:
    return Activity.objects.create(
        tenant=by.tenant, inquiry=inquiry, kind=kind, occurred_at=when, details=details
    )


@transaction.atomic
def record_activity(
    *,
    inquiry: Inquiry,
    kind: str,
    occurred_at: datetime | None = None,
    details: dict[str, Any] | None = None,
    by: Principal,
) -> Activity:
    """Add something the person did to their timeline and rescore them."""
    if kind not in ActivityKind.values or kind in (
        ActivityKind.MERGED,
        ActivityKind.APPOINTMENT_BOOKED,
    ):
        raise RuleViolation(
            field="kind", code="invalid_choice", message=f"Unknown activity type {kind!r}."
        )
    when = occurred_at or timezone.now()
    if when > timezone.now() + timedelta(minutes=5):
        raise RuleViolation(
            field="occurred_at", code="future", message="An activity cannot happen in the future."
        )
    inquiry = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
    activity = _add_activity(inquiry, kind, when, details or {}, by)
    if inquiry.last_activity_at is None or when > inquiry.last_activity_at:
        inquiry.last_activity_at = when
        inquiry.save(update_fields=["last_activity_at"])
    if inquiry.stage != Stage.DISQUALIFIED:
        scoring_services.score_inquiry(inquiry=inquiry, by=by)
    return activity


@transaction.atomic
def update_profile(
    *,
    inquiry: Inquiry,
    changes: dict[str, Any],
    custom: dict[str, Any] | None = None,
    by: Principal,
) -> Inquiry:
    """Correct or complete what is known about the person; the score follows at once.

    Unlike a captured response, an edit may clear a value (an empty string),
    but never all of email, phone and external id together.
    """
    inquiry = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise RuleViolation(
            field=sorted(unknown)[0], code="unknown", message="Not a profile field."
        )
    updates: dict[str, Any] = {}
    for name, value in changes.items():
        value = value.strip() if isinstance(value, str) else value
        if name == "email":
            value = (value or "").lower()
            updates["company_domain"] = company_domain(value)
        if name == "country" and value:
            value = value.upper()
        if name == "phone":
            normalized = phone_lib.normalize(value, by.tenant.country) if value else ""
            if value and not normalized:
                raise RuleViolation(
                    field="phone", code="invalid", message="Give a phone number of 7–15 digits."
                )
            updates["phone_normalized"] = normalized
        updates[name] = "" if value is None and name != "company_size" else value
    if custom:
        fields = {f.key: f for f in CustomField.objects.all()}
        values, errors = clean_custom_values(custom, fields)
        if errors:
            path, messages = next(iter(errors.items()))
            raise RuleViolation(field=path, code="invalid", message=messages[0])
        updates["custom"] = {**inquiry.custom, **values}
    merged_identity = {
        "email": updates.get("email", inquiry.email),
        "phone_normalized": updates.get("phone_normalized", inquiry.phone_normalized),
        "external_id": inquiry.external_id,
    }
    if not any(merged_identity.values()):
        raise RuleViolation(
            field="email",
            code="identity_required",
            message="Keep at least one of email, phone or external_id.",
        )
    email = updates.get("email")
    if email and email_owner(email, exclude_id=inquiry.pk):
        raise RuleViolation(
            field="email",
            code="duplicate",
            conflict=True,
            message="Another inquiry has this email; merge the two instead.",
        )
    if email and email != inquiry.email:
        # One of the person's additional emails becomes the primary: the two swap.
        promoted = InquiryEmail.objects.filter(inquiry=inquiry, email=email).delete()[0]
        if promoted and inquiry.email:
            InquiryEmail.objects.create(tenant=by.tenant, inquiry=inquiry, email=inquiry.email)
    before = {name: _jsonable(getattr(inquiry, name)) for name in updates}
    for name, value in updates.items():
        setattr(inquiry, name, value)
    inquiry.updated_at = timezone.now()
    inquiry.save(update_fields=[*updates, "updated_at"])
    record_audit(action="inquiry.edited", obj=inquiry, before=before, after=updates, by=by)
    if inquiry.stage != Stage.DISQUALIFIED:
        scoring_services.score_inquiry(inquiry=inquiry, by=by)
    return inquiry
