"""Consent to nurture email: recording it with its history, unsubscribing, suppressing."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from inquiries.models import Consent, Inquiry, Source
from leadflow.lib.rules import RuleViolation
from leadflow.outbox import services as outbox
from nurture.models import (
    ConsentEvent,
    ConsentSource,
    ConsentStatus,
    ContactConsent,
    ExitReason,
)
from nurture.selectors import consent_of, nurture_settings
from nurture.services.enrollment import enroll_matching, exit_enrollments


def contact_consent(inquiry: Inquiry) -> ContactConsent:
    """The contact's consent row, made (with its link token) from the capture's value if new."""
    row = ContactConsent.objects.filter(inquiry=inquiry).first()
    if row is not None:
        return row
    ContactConsent.objects.bulk_create(
        [
            ContactConsent(
                tenant_id=inquiry.tenant_id,
                inquiry=inquiry,
                status=consent_of(inquiry).status,
                token=secrets.token_urlsafe(24),
            )
        ],
        ignore_conflicts=True,
    )
    return ContactConsent.objects.get(inquiry=inquiry)


@transaction.atomic
def record_consent(
    *, inquiry: Inquiry, status: str, source: str, text_shown: str = "", by_label: str
) -> ContactConsent:
    """Record a contact's consent (with where it came from and the text they saw).

    An opt-out ends the enrollment at once; an opt-in of a nurture person who
    had left enrolls them again.
    """
    if status not in ConsentStatus.values:
        raise RuleViolation(field="status", code="invalid", message="Unknown consent status.")
    if source not in ConsentSource.values:
        raise RuleViolation(field="source", code="invalid", message="Unknown consent source.")
    row = ContactConsent.objects.select_for_update().get(pk=contact_consent(inquiry).pk)
    row.status = status
    row.updated_at = timezone.now()
    row.save(update_fields=["status", "updated_at"])
    ConsentEvent.objects.create(
        inquiry=inquiry,
        status=status,
        source=source,
        text_shown=text_shown,
        recorded_by=by_label[:200],
    )
    if status == ConsentStatus.OPTED_OUT:
        exit_enrollments(inquiry_ids=[inquiry.pk], reason=ExitReason.UNSUBSCRIBED)
    elif row.suppressed_at is None:
        enroll_matching(inquiry_ids=[inquiry.pk], reasons={}, by_label=by_label)
    return row


@transaction.atomic
def unsubscribe(*, consent: ContactConsent) -> ContactConsent:
    """The contact's one-click or confirmed unsubscribe: effective before any next send."""
    if consent.status == ConsentStatus.OPTED_OUT:
        return consent
    return record_consent(
        inquiry=consent.inquiry,
        status=ConsentStatus.OPTED_OUT,
        source=ConsentSource.UNSUBSCRIBE,
        text_shown="Unsubscribe link in a nurture email",
        by_label="the contact",
    )


@transaction.atomic
def suppress(*, inquiry: Inquiry, source: str, detail: str = "") -> ContactConsent:
    """A hard bounce or a complaint: never mailed again; the enrollment ends with that reason."""
    row = ContactConsent.objects.select_for_update().get(pk=contact_consent(inquiry).pk)
    if row.suppressed_at is None:
        row.suppressed_at = timezone.now()
        row.suppressed_reason = source
        if source == ConsentSource.COMPLAINT:
            row.status = ConsentStatus.OPTED_OUT
        row.updated_at = timezone.now()
        row.save(update_fields=["suppressed_at", "suppressed_reason", "status", "updated_at"])
        ConsentEvent.objects.create(
            inquiry=inquiry,
            status=row.status,
            source=source,
            text_shown=detail[:1000],
            recorded_by="mail provider",
        )
    exit_enrollments(
        inquiry_ids=[inquiry.pk],
        reason=ExitReason.COMPLAINED if source == ConsentSource.COMPLAINT else ExitReason.BOUNCED,
    )
    return row


# What the confirmation page shows next to its button (kept in the consent history).
CONFIRM_TEXT = "Yes, send me occasional useful emails."
CONFIRM_KIND = "nurture_confirm"


def request_confirmations(*, inquiry_ids: Iterable[int]) -> int:
    """Double opt-in: public-form opt-ins nurture has not seen yet become pending, with one email.

    Only when the tenant turned ``double_opt_in`` on. The people are those
    captured by the public form (source ``web_form``) with its box ticked
    (``opted_in``) and no consent row of nurture's yet; each gets a pending row,
    a history row and ONE confirmation email (outbox key per contact, so a
    repeat is the same message). Pending is never mailed by nurture.
    """
    ids = sorted(set(inquiry_ids))
    if not ids or not nurture_settings().double_opt_in:
        return 0
    people = list(
        Inquiry.objects.filter(pk__in=ids, source=Source.WEB_FORM, consent=Consent.OPTED_IN)
        .exclude(email="")
        .exclude(pk__in=ContactConsent.objects.values("inquiry_id"))
    )
    for inquiry in people:
        ContactConsent.objects.bulk_create(
            [
                ContactConsent(
                    tenant_id=inquiry.tenant_id,
                    inquiry=inquiry,
                    status=ConsentStatus.PENDING,
                    token=secrets.token_urlsafe(24),
                )
            ],
            ignore_conflicts=True,
        )
        row = ContactConsent.objects.get(inquiry=inquiry)
        if row.status != ConsentStatus.PENDING:
            continue
        ConsentEvent.objects.create(
            inquiry=inquiry,
            status=ConsentStatus.PENDING,
            source=ConsentSource.FORM,
            text_shown="Public form; waiting for the confirmation email's link",
            recorded_by="public form",
        )
        outbox.enqueue(
            kind=CONFIRM_KIND,
            key=f"nurture:confirm:{row.pk}",
            recipient=inquiry.email,
            payload={"consent": row.pk},
            cause=("nurture.contactconsent", row.pk),
        )
    return len(people)


@transaction.atomic
def confirm(*, consent: ContactConsent) -> ContactConsent:
    """The contact clicked the confirmation link and pressed the button: opted in, with history."""
    if consent.status != ConsentStatus.PENDING:
        return consent
    return record_consent(
        inquiry=consent.inquiry,
        status=ConsentStatus.OPTED_IN,
        source=ConsentSource.DOUBLE_OPT_IN,
        text_shown=CONFIRM_TEXT,
        by_label="the contact",
    )
