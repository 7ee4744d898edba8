"""Tracked links of nurture emails: a click becomes an activity (and a rescore); an open is noted.

A click's token (``nurture.links.click_token``) names the tenant by its
public slug, the send by its enrollment and step, and the address the link
leads to; it is signed, so only an address that LeadFlow put in an email can
be the target (never an open redirect). The click is recorded through the
inquiries' own ``record_activity``: the inquiry is rescored there, may move
to MQL, and the stage mover's hook then ends the enrollment (``became_mql``).

Mail scanners (Outlook Safe Links, Mimecast, …) fetch every link of an
email, sometimes several times within seconds: a click on the same link of
the same send within :data:`DUPLICATE_WINDOW` of a recorded one is not
recorded again, so it cannot score twice; the redirect still happens.
An open is never scored (image proxies fetch every image): it only sets the
send's ``opened_at``, and only while the tenant has open tracking on.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from inquiries.models import Activity, ActivityKind, Inquiry
from inquiries.services.capture import record_activity
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant
from leadflow.tenancy.principal import Principal
from nurture.links import Tracked
from nurture.models import NurtureSend, StepKind
from nurture.selectors import nurture_settings

# The same link of the same email clicked again within this time: one click.
DUPLICATE_WINDOW = timedelta(minutes=10)
CLICK_LABEL = "email click"


def _send_of(tracked: Tracked) -> NurtureSend | None:
    """The email send the token names, read in its tenant (``None``: none, or not that tenant's)."""
    return (
        NurtureSend.objects.select_related("enrollment__program", "step")
        .filter(
            enrollment_id=tracked.enrollment_id,
            step_id=tracked.step_id,
            kind=StepKind.EMAIL,
        )
        .first()
    )


def record_click(tracked: Tracked) -> bool | None:
    """Record a click: ``True`` recorded and rescored, ``False`` a duplicate, ``None`` unknown.

    Unknown means no such tenant, or no email send of that enrollment and step
    in it (a token of another tenant's send reads as nothing under its RLS).
    """
    tenant = Tenant.objects.filter(slug=tracked.tenant_slug).first()
    if tenant is None:
        return None
    with tenant_context(tenant), transaction.atomic():
        send = _send_of(tracked)
        if send is None:
            return None
        now = timezone.now()
        # The inquiry's row lock serialises two scanners' fetches of the same link.
        inquiry = Inquiry.objects.select_for_update().filter(pk=send.inquiry_id).first()
        if inquiry is None:
            return None
        NurtureSend.objects.filter(pk=send.pk, clicked_at__isnull=True).update(clicked_at=now)
        duplicate = Activity.objects.filter(
            inquiry_id=inquiry.pk,
            kind=ActivityKind.EMAIL_CLICK,
            occurred_at__gte=now - DUPLICATE_WINDOW,
            details__send=send.pk,
            details__url=tracked.url,
        ).exists()
        if duplicate:
            return False
        program = send.enrollment.program
        record_activity(
            inquiry=inquiry,
            kind=ActivityKind.EMAIL_CLICK,
            occurred_at=now,
            details={
                "send": send.pk,
                "program": program.pk,
                "program_name": program.name,
                "step": send.step.position,
                "url": tracked.url,
            },
            by=Principal.system(tenant, CLICK_LABEL),
        )
        return True


def record_open(tracked: Tracked) -> bool | None:
    """Note the first open of a send (not scored); ``None`` when the token names nothing.

    With open tracking off (the default) nothing is written, even for an
    email sent while it was on.
    """
    tenant = Tenant.objects.filter(slug=tracked.tenant_slug).first()
    if tenant is None:
        return None
    with tenant_context(tenant):
        send = _send_of(tracked)
        if send is None:
            return None
        if not nurture_settings().track_opens:
            return False
        return bool(
            NurtureSend.objects.filter(pk=send.pk, opened_at__isnull=True).update(
                opened_at=timezone.now()
            )
        )
