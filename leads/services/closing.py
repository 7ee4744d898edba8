"""Closing a lead: won, lost, postponed — and the shared close every other ending uses.

The lead moves through the stage mover (one ``StageChange`` row, only from an
open stage: a closed lead is a conflict), its appointment is closed with it,
and the person's side is told through the one service ``inquiries`` offers for
it: won or lost becomes the inquiry's last known outcome; a lead lost "not
now" returns the person to nurture. A postponed lead stays with sales until
its date (``leads.services.lifecycle`` brings it back then). The closed lead
stays as the person's history.

Refusals name the field and the rule: won needs a value, lost a reason from
the tenant's list ("buyer declined" when the owner made fewer touches than the
tenant's minimum), postponed a future date.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from inquiries.models import Inquiry
from inquiries.services import handover
from leadflow.lib import stages, times
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit
from leads import stages as lead_stages
from leads.models import BUYER_DECLINED, CLOSED_STAGES, Appointment, Lead, LeadStage
from leads.selectors.settings import lead_settings
from leads.selectors.touches import owner_touch_count

MAX_REASON_LENGTH = 200
MAX_VALUE = Decimal("999999999999.99")
OUTCOME_STAGES = (LeadStage.WON, LeadStage.LOST, LeadStage.POSTPONED)


def closed_conflict(lead: Lead) -> RuleViolation:
    """The 409 every change of a closed lead answers with (a manager may reopen it)."""
    return RuleViolation(
        field="stage",
        code="not_open",
        conflict=True,
        message=f"This lead is closed already ({lead.get_stage_display()}); "
        "a manager can reopen it.",
    )


def tenant_today(by: Principal) -> date:
    """Today in the tenant's time zone: the day a close is dated and postponements compare to."""
    return timezone.now().astimezone(times.zone(by.tenant.timezone)).date()


def close_as(
    lead: Lead,
    stage: str,
    *,
    by: Principal,
    reason: str = "",
    also: Mapping[str, Any] | None = None,
    action: str = "lead.closed",
) -> Lead:
    """Move an open lead to the closed ``stage`` and close its appointment; 409 if not open.

    The one close every ending calls (won/lost/postponed here; rejected, no-show
    in their services), inside the caller's transaction. Writes the audit row;
    the caller tells the person's side.
    """
    now = timezone.now()
    stage_before = lead.stage
    moved = stages.move(
        lead,
        stage,
        by=by,
        reason=reason,
        also={"closed_at": now, **(also or {})},
        only_from=lead_stages.OPEN,
        machine_name=lead_stages.MACHINE,
    )
    if not moved and lead.is_open:
        raise RuleViolation(
            field="stage",
            code="not_accepted",
            message=f"A lead {lead.get_stage_display().lower()} cannot be "
            f"{LeadStage(stage).label.lower()}: accept it first.",
        )
    if not moved:
        raise closed_conflict(lead)
    Appointment.objects.filter(pk=lead.appointment_id, closed_at__isnull=True).update(closed_at=now)
    record_audit(
        action=action,
        obj=lead,
        before={"stage": stage_before},
        after={"stage": stage, "reason": reason, **_jsonable(also or {})},
        by=by,
    )
    return lead


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal | date) else v) for k, v in values.items()}


@transaction.atomic
def close_lead(
    *,
    lead: Lead,
    stage: str,
    by: Principal,
    value: Decimal | str | None = None,
    closed_on: date | None = None,
    lost_reason: str = "",
    postponed_until: date | None = None,
    not_now: bool = False,
    reason: str = "",
) -> Lead:
    """Close the lead as won (``value``, ``closed_on``), lost (``lost_reason``) or postponed.

    ``not_now`` (only with lost) says the buyer is not ready rather than not
    buying: the person goes back to nurture. ``reason`` is a free note kept on
    the stage change.
    """
    reason = reason.strip()
    if stage not in OUTCOME_STAGES:
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
    if not lead.is_open:
        raise closed_conflict(lead)
    today = tenant_today(by)
    if stage == LeadStage.WON:
        also: dict[str, Any] = {
            "value": _value(value),
            "closed_on": _closed_on(closed_on, today),
        }
    elif stage == LeadStage.LOST:
        also = {"lost_reason": _lost_reason(lead, lost_reason), "closed_on": today}
    else:
        also = {"postponed_until": _postponed_until(postponed_until, today)}
    close_as(lead, stage, by=by, reason=reason, also=also)
    inquiry = Inquiry.objects.select_for_update().get(pk=lead.inquiry_id)
    if stage in (LeadStage.WON, LeadStage.LOST):
        handover.record_outcome(
            inquiry=inquiry, outcome=stage, lead_id=lead.pk, closed_on=also["closed_on"], by=by
        )
    if not_now:
        handover.return_to_nurture(inquiry=inquiry, reason='lead lost "not now"', by=by)
    return lead


def _value(value: Decimal | str | None) -> Decimal:
    if value is None or value == "":
        raise RuleViolation(
            field="value", code="required", message="A won lead needs the deal's value."
        )
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise RuleViolation(
            field="value", code="invalid", message="The value is a number, e.g. 12500.00."
        ) from None
    if not amount.is_finite() or amount < 0 or amount > MAX_VALUE:
        raise RuleViolation(
            field="value",
            code="invalid",
            message=f"The value is between 0 and {MAX_VALUE:,}.",
        )
    return amount.quantize(Decimal("0.01"))


def _closed_on(closed_on: date | None, today: date) -> date:
    if closed_on is None:
        return today
    if closed_on > today:
        raise RuleViolation(
            field="closed_on", code="future", message="A deal is closed today or before, not later."
        )
    return closed_on


def _lost_reason(lead: Lead, lost_reason: str) -> str:
    lost_reason = lost_reason.strip()
    rules = lead_settings()
    reasons = rules.lost_reasons
    if not lost_reason:
        raise RuleViolation(
            field="lost_reason",
            code="required",
            message="A lost lead needs a reason: " + ", ".join(reasons) + ".",
        )
    chosen = next((r for r in reasons if r.casefold() == lost_reason.casefold()), None)
    if chosen is None:
        raise RuleViolation(
            field="lost_reason",
            code="invalid",
            message=f"{lost_reason!r} is not one of the reasons: " + ", ".join(reasons) + ".",
        )
    minimum = rules.touch_minimum
    if chosen != BUYER_DECLINED and owner_touch_count(lead) < minimum:
        raise RuleViolation(
            field="lost_reason",
            code="below_touch_minimum",
            message=f"Fewer than {minimum} touches on this lead: it can be lost only as "
            f'"{BUYER_DECLINED}" (most buyers need 8 to 12 contacts). Log your touches first.',
        )
    return chosen


def _postponed_until(postponed_until: date | None, today: date) -> date:
    if postponed_until is None:
        raise RuleViolation(
            field="postponed_until",
            code="required",
            message="A postponed lead needs the date it comes back.",
        )
    if postponed_until <= today:
        raise RuleViolation(
            field="postponed_until",
            code="not_future",
            message="The date a postponed lead comes back is after today.",
        )
    return postponed_until


# What a reopen clears: the outcome the lead was closed with (kept in the audit row).
OUTCOME_FIELDS = (
    "closed_at",
    "value",
    "closed_on",
    "lost_reason",
    "postponed_until",
    "reject_kind",
    "reject_reason",
)


def reopen_lead(*, lead: Lead, by: Principal, reason: str = "") -> Lead:
    """A manager reopens a closed lead: it is accepted again, with its owner, outcome cleared.

    Audited with the outcome it had. Refused (409) when the lead is open, or
    when the person has been booked again since (their new lead is the open
    one). The person is handed to sales again if they had gone back to nurture
    or the qualifier's queue. Managers only: the caller checks the role.
    """
    if lead.is_open:
        raise RuleViolation(
            field="lead", code="open", conflict=True, message="This lead is open already."
        )
    before = {name: _jsonable({name: getattr(lead, name)})[name] for name in OUTCOME_FIELDS}
    before["stage"] = lead.stage
    try:
        with transaction.atomic():
            moved = stages.move(
                lead,
                LeadStage.ACCEPTED,
                by=by,
                reason=reason.strip()[:MAX_REASON_LENGTH] or "reopened",
                also={
                    "closed_at": None,
                    "value": None,
                    "closed_on": None,
                    "lost_reason": "",
                    "postponed_until": None,
                    "reject_kind": "",
                    "reject_reason": "",
                    "accepted_at": lead.accepted_at or timezone.now(),
                },
                only_from=[str(stage) for stage in CLOSED_STAGES],
                machine_name=lead_stages.MACHINE,
            )
            if not moved:
                raise RuleViolation(
                    field="lead",
                    code="not_closed",
                    conflict=True,
                    message="This lead was changed meanwhile; reload it.",
                )
            inquiry = Inquiry.objects.select_for_update().get(pk=lead.inquiry_id)
            if inquiry.stage != "lead":
                handover.hand_over(inquiry=inquiry, lead_id=lead.pk, by=by)
            record_audit(
                action="lead.reopened",
                obj=lead,
                before=before,
                after={"stage": LeadStage.ACCEPTED.value, "reason": reason.strip()},
                by=by,
            )
    except IntegrityError:
        raise RuleViolation(
            field="lead",
            code="booked_again",
            conflict=True,
            message="This person has been booked again since; their new lead is the open one.",
        ) from None
    return lead
