"""The one service the hand-over to sales calls: where the person is, and how their lead ended.

``leads`` books appointments and closes leads; it never writes an inquiry's
field itself. It calls these functions, which move the inquiry through the
stage mover (``leadflow/lib/stages.py``, one ``StageChange`` row per move) and
keep ``Inquiry.outcome`` as the person's last known outcome.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from inquiries import stages as inquiry_stages
from inquiries.models import Inquiry, Outcome, Stage
from leadflow.lib import stages
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

# What a closed lead may tell about the person; a postponed lead tells nothing yet.
OUTCOMES = frozenset(Outcome.values)


@transaction.atomic
def hand_over(*, inquiry: Inquiry, lead_id: int, by: Principal) -> Inquiry:
    """Hand the person to sales: the inquiry moves to ``lead`` (its appointment was booked).

    Refused (``RuleViolation``, nothing written by this function) when the
    inquiry's stage does not allow it: a lead already (409, ``already_a_lead``)
    or disqualified (400, ``not_bookable``).
    """
    stage_before = inquiry.stage
    now = timezone.now()
    last_activity = max(filter(None, [inquiry.last_activity_at, now]))
    moved = stages.move(
        inquiry,
        Stage.LEAD,
        by=by,
        reason="appointment booked",
        also={"last_activity_at": last_activity},
        machine_name=inquiry_stages.MACHINE,
    )
    if not moved and inquiry.stage == Stage.LEAD:
        raise RuleViolation(
            field="inquiry",
            code="already_a_lead",
            conflict=True,
            message="This person is a lead already (their lead may be closed as won or lost); "
            "they can be booked again once they are back in nurture.",
        )
    if not moved:
        raise RuleViolation(
            field="inquiry",
            code="not_bookable",
            message=f"An inquiry in stage {inquiry.get_stage_display()} cannot be handed to sales.",
        )
    inquiry.updated_at = now
    record_audit(
        action="inquiry.handed_to_sales",
        obj=inquiry,
        before={"stage": stage_before},
        after={"stage": Stage.LEAD.value, "lead": lead_id},
        by=by,
    )
    return inquiry


@transaction.atomic
def record_outcome(
    *, inquiry: Inquiry, outcome: str, lead_id: int, closed_on: date, by: Principal
) -> Inquiry:
    """Keep how the person's lead ended (won or lost), and the day, as their last known outcome.

    The day is what a nurture program's funnel compares with the enrollment ("won after
    enrolling"), so a sales close counts there as an imported outcome with its date does.
    """
    if outcome not in OUTCOMES:
        raise RuleViolation(
            field="outcome", code="invalid", message="The outcome is either won or lost."
        )
    before = inquiry.outcome
    if before == outcome:
        return inquiry
    now = timezone.now()
    Inquiry.objects.filter(pk=inquiry.pk).update(
        outcome=outcome, outcome_on=closed_on, updated_at=now
    )
    inquiry.outcome, inquiry.outcome_on, inquiry.updated_at = outcome, closed_on, now
    record_audit(
        action="inquiry.outcome_recorded",
        obj=inquiry,
        before={"outcome": before},
        after={"outcome": outcome, "lead": lead_id},
        by=by,
    )
    return inquiry


@transaction.atomic
def return_to_nurture(*, inquiry: Inquiry, reason: str, by: Principal) -> bool:
    """A lead postponed or lost "not now": the person goes back to nurture, to be booked again.

    Returns whether the inquiry moved (False when it was no longer a lead).
    """
    # Only from ``lead``: the table also lets a disqualified person be requalified to nurture.
    return stages.move(
        inquiry,
        Stage.NURTURE,
        by=by,
        reason=reason or "lead closed",
        only_from=[Stage.LEAD],
        machine_name=inquiry_stages.MACHINE,
    )


@transaction.atomic
def return_to_qualifier(*, inquiry: Inquiry, reason: str, by: Principal) -> bool:
    """The buyer did not come to the meeting: the person goes back to the qualifier's queue.

    The inquiry moves from ``lead`` to ``mql`` (its ``assigned_to`` qualifier
    keeps it), so a qualifier reaches the person again and may book a new
    appointment. Returns whether it moved (False when it was no longer a lead).
    """
    stage_before = inquiry.stage
    now = timezone.now()
    moved = stages.move(
        inquiry,
        Stage.MQL,
        by=by,
        reason=reason or "returned to the qualifier",
        also={"updated_at": now},
        only_from=[Stage.LEAD],
        machine_name=inquiry_stages.MACHINE,
    )
    if moved:
        record_audit(
            action="inquiry.returned_to_qualifier",
            obj=inquiry,
            before={"stage": stage_before},
            after={"stage": Stage.MQL.value, "reason": reason},
            by=by,
        )
    return moved
