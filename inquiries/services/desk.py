"""The qualifier's desk: working one inquiry — notes, assigning, disqualifying, requalifying.

Each action is one function that checks, writes and audits in one
transaction; the stage moves (disqualify, requalify) go through the stage
mover, which writes the person's stage history. Touches and booking live in
``leads`` (which may import this app, never the reverse).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from inquiries import stages as inquiry_stages
from inquiries.models import DisqualifyReason, Inquiry, InquiryNote, Stage
from inquiries.services import scoring as scoring_services
from inquiries.services.triage import check_assignee
from leadflow.lib import stages
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import User
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

MAX_NOTE_LENGTH = 5000


@transaction.atomic
def add_note(*, inquiry: Inquiry, text: str, by: Principal) -> InquiryNote:
    """Write an internal note on the person (never sent to a buyer)."""
    text = text.strip()
    if not text:
        raise RuleViolation(field="text", code="blank", message="Write the note first.")
    if len(text) > MAX_NOTE_LENGTH:
        raise RuleViolation(
            field="text", code="too_long", message=f"At most {MAX_NOTE_LENGTH} characters."
        )
    note = InquiryNote.objects.create(
        tenant=by.tenant, inquiry=inquiry, author=by.user, text=text, created_at=timezone.now()
    )
    record_audit(action="inquiry.note_added", obj=inquiry, after={"note": note.pk}, by=by)
    return note


@transaction.atomic
def assign_inquiry(*, inquiry: Inquiry, assignee: User | None, by: Principal) -> Inquiry:
    """Give the person to a qualifier (or to nobody: back to the unassigned queue)."""
    check_assignee(assignee)
    before = inquiry.assigned_to_id
    after = assignee.pk if assignee is not None else None
    if before == after:
        return inquiry
    inquiry.assigned_to = assignee
    inquiry.updated_at = timezone.now()
    inquiry.save(update_fields=["assigned_to", "updated_at"])
    record_audit(
        action="inquiry.assigned",
        obj=inquiry,
        before={"assigned_to": before},
        after={"assigned_to": after},
        by=by,
    )
    return inquiry


@transaction.atomic
def disqualify_inquiry(*, inquiry: Inquiry, reason: DisqualifyReason, by: Principal) -> Inquiry:
    """Disqualify the person with one of the tenant's reasons; a lead belongs to sales."""
    if not reason.active:
        raise RuleViolation(
            field="reason", code="inactive", message=f"The reason {reason.label!r} is retired."
        )
    if inquiry.stage == Stage.LEAD:
        raise RuleViolation(
            field="reason",
            code="is_lead",
            message="This person is a lead with sales; sales closes it, not the qualifier.",
        )
    if inquiry.stage == Stage.DISQUALIFIED:
        raise RuleViolation(
            field="reason", code="already", message="This person is disqualified already."
        )
    stages.move(
        inquiry,
        Stage.DISQUALIFIED,
        by=by,
        reason=reason.label,
        also={"disqualified_reason": reason.label},
        machine_name=inquiry_stages.MACHINE,
    )
    return inquiry


@transaction.atomic
def requalify_inquiry(*, inquiry: Inquiry, by: Principal) -> Inquiry:
    """Take a disqualified person back: rescored at once, to the MQL queue or to nurture.

    Two moves in the stage history, each with its reason: back to the
    inquiries ("requalified"), then where the score sends the person (none
    without an active definition).
    """
    if inquiry.stage != Stage.DISQUALIFIED:
        raise RuleViolation(
            field="stage",
            code="not_disqualified",
            message="Only a disqualified person is requalified.",
        )
    stages.move(
        inquiry,
        Stage.INQUIRY,
        by=by,
        reason="requalified",
        also={"disqualified_reason": ""},
        only_from=[Stage.DISQUALIFIED],
        machine_name=inquiry_stages.MACHINE,
    )
    return scoring_services.score_inquiry(inquiry=inquiry, by=by)
