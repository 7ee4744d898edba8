"""Closing a lead: won, lost or postponed — the smallest part of the lead's lifecycle.

The lead moves through the stage mover (one ``StageChange`` row), its
appointment is closed with it, and the person's side is told through the one
service ``inquiries`` offers for it: won or lost becomes the inquiry's last
known outcome; a lead postponed, or lost "not now", returns the person to
nurture, to be booked again when the buyer is ready. The closed lead stays as
the person's history.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from inquiries.models import Inquiry
from inquiries.services import handover
from leadflow.lib import stages
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit
from leads import stages as lead_stages
from leads.models import CLOSED_STAGES, Appointment, Lead, LeadStage

MAX_REASON_LENGTH = 200


@transaction.atomic
def close_lead(
    *, lead: Lead, stage: str, not_now: bool = False, reason: str = "", by: Principal
) -> Lead:
    """Close the lead as won, lost or postponed; a closed lead is a conflict.

    ``not_now`` (only with lost) says the buyer is not ready rather than not
    buying: like a postponed lead, the person goes back to nurture.
    """
    reason = reason.strip()
    if stage not in CLOSED_STAGES:
        raise RuleViolation(
            field="stage", code="invalid", message="A lead is closed as won, lost or postponed."
        )
    if not_now and stage != LeadStage.LOST:
        raise RuleViolation(
            field="not_now", code="invalid", message='Only a lost lead is lost "not now".'
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise RuleViolation(
            field="reason", code="too_long", message=f"At most {MAX_REASON_LENGTH} characters."
        )
    now = timezone.now()
    stage_before = lead.stage
    moved = stages.move(
        lead,
        stage,
        by=by,
        reason=reason,
        also={"closed_at": now},
        machine_name=lead_stages.MACHINE,
    )
    if not moved:
        raise RuleViolation(
            field="stage",
            code="not_open",
            conflict=True,
            message="This lead is closed already.",
        )
    Appointment.objects.filter(pk=lead.appointment_id, closed_at__isnull=True).update(closed_at=now)
    inquiry = Inquiry.objects.select_for_update().get(pk=lead.inquiry_id)
    if stage in (LeadStage.WON, LeadStage.LOST):
        handover.record_outcome(inquiry=inquiry, outcome=stage, lead_id=lead.pk, by=by)
    if stage == LeadStage.POSTPONED or not_now:
        why = "lead postponed" if stage == LeadStage.POSTPONED else 'lead lost "not now"'
        handover.return_to_nurture(inquiry=inquiry, reason=why, by=by)
    record_audit(
        action="lead.closed",
        obj=lead,
        before={"stage": stage_before},
        after={"stage": stage, "not_now": not_now, "reason": reason},
        by=by,
    )
    return lead
