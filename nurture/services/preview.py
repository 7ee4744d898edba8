"""An email step rendered for a sample inquiry, and "send a test to me".

Both render through ``nurture.mail.build_email`` — the function the real send
uses — so merge fields, the footer with the postal address and the
unsubscribe link look exactly as they will. What differs:

- the unsubscribe link is made from :data:`PREVIEW_CONTACT_TOKEN`, which no
  contact can have (contacts' tokens never contain a dot), so it opens the
  "not valid" page and never unsubscribes a real person;
- nothing is recorded against the sample inquiry: no ``NurtureSend``, no
  enrollment change. A test send is an ordinary outbox ``email`` to the
  person asking, its subject starting "[Test]", its cause the step.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction

from inquiries.models import Inquiry, Stage
from leadflow.lib.rules import RuleViolation
from leadflow.outbox.models import OutboxMessage
from leadflow.outbox.services import enqueue
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import Tenant
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit
from nurture import mail
from nurture.models import Enrollment, NurtureStep, StepKind
from nurture.selectors import nurture_settings
from nurture.services.builder import check_step

PREVIEW_CONTACT_TOKEN = "preview.not-a-contact"
TEST_PREFIX = "[Test] "


@dataclass(frozen=True)
class Preview:
    subject: str
    text: str
    html: str
    sample_name: str
    sample_id: int | None


def sample_inquiry(inquiry_id: int | None = None) -> Inquiry:
    """The inquiry to render for: the one named, else the newest in nurture, else a made-up one.

    A named id the tenant does not have is refused (400).
    """
    if inquiry_id is not None:
        found = Inquiry.objects.filter(pk=inquiry_id).first()
        if found is None:
            raise RuleViolation(field="inquiry", code="not_found", message="No such inquiry.")
        return found
    newest = Inquiry.objects.filter(stage=Stage.NURTURE).order_by("-created_at", "-pk").first()
    return newest or Inquiry(first_name="Alex", last_name="Sample", company="Example Co")


def render_step(
    *,
    step: NurtureStep,
    inquiry: Inquiry,
    subject: str | None = None,
    body: str | None = None,
) -> Preview:
    """The step's email (or a draft ``subject``/``body`` for it, validated) for ``inquiry``."""
    if step.kind != StepKind.EMAIL:
        raise RuleViolation(field="step", code="not_email", message="Only emails have a preview.")
    draft = NurtureStep(
        tenant_id=step.tenant_id,
        program_id=step.program_id,
        position=step.position,
        kind=StepKind.EMAIL,
        subject=step.subject if subject is None else subject,
        body=step.body if body is None else body,
    )
    if subject is not None or body is not None:
        check_step(
            {"kind": "email", "subject": draft.subject, "body": draft.body},
            index=step.position,
            count=step.position + 1,
        )
    tenant = Tenant.objects.get(pk=require_tenant_id())
    # build_email fills {{ unsubscribe_url }} from the contact token it is given: here the
    # preview's, so the link opens the "not valid" page (one place for the rule: mail.py).
    message = OutboxMessage(
        tenant_id=tenant.pk,
        kind="email",
        key=f"nurture-preview:{step.pk}",
        recipient="preview@example.invalid",
        payload={},
    )
    email = mail.build_email(
        message,
        enrollment=Enrollment(tenant_id=tenant.pk, inquiry=inquiry, program_id=step.program_id),
        step=draft,
        config=nurture_settings(),
        tenant=tenant,
        contact_token=PREVIEW_CONTACT_TOKEN,
    )
    html = next((content for content, mimetype in email.alternatives if mimetype == "text/html"))
    return Preview(
        subject=str(email.subject),
        text=str(email.body),
        html=str(html),
        sample_name=str(inquiry) if inquiry.pk else "a sample person (no inquiry in nurture yet)",
        sample_id=inquiry.pk,
    )


@transaction.atomic
def send_test(
    *,
    step: NurtureStep,
    inquiry: Inquiry,
    by: Principal,
    subject: str | None = None,
    body: str | None = None,
) -> OutboxMessage:
    """Mail the rendered step to the person asking, marked as a test (400 without an address)."""
    address = by.user.email if by.user is not None else ""
    if not address:
        raise RuleViolation(
            field="to",
            code="no_address",
            message="A test goes to the signed-in person's email: this caller has none.",
        )
    preview = render_step(step=step, inquiry=inquiry, subject=subject, body=body)
    notice = f"This is a test of a nurture email, rendered for {preview.sample_name}.\n\n"
    message = enqueue(
        kind="email",
        key=f"nurture-test:{step.pk}:{uuid.uuid4().hex}",
        recipient=address,
        payload={
            "subject": (TEST_PREFIX + preview.subject)[:255],
            "text": notice + preview.text,
            "html": preview.html,
        },
        cause=("nurture_test", step.pk),
    )
    record_audit(
        action="nurture.test_sent",
        obj=step,
        after={"to": address, "sample": preview.sample_id},
        by=by,
    )
    return message
