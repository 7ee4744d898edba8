"""Logging a touch: one contact attempt (call, email, meeting, other) with the person.

The inquiry is required and the lead optional, so a qualifier's touches
before hand-over and the owner's after it are one history. Who made it comes
from the principal: a member's user, or a partner (its user or its key). On a
lead only its owner (the rep, or the partner) or a manager may log one — the
touch minimum and the 4-touch cliff count the owner's touches, so nobody else
can pad them. Without a lead it is the marketing side's (the qualifier's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from inquiries.models import Inquiry
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS, MARKETING
from leadflow.tenancy.services import record_audit
from leads.models import Lead, Touch, TouchKind, TouchOutcome

MAX_NOTE_LENGTH = 5000
# A client's clock a little ahead of ours is not a touch "in the future".
CLOCK_SKEW = timedelta(minutes=5)
# The choices as sets, built once (``TextChoices.values`` builds its list on every read).
KINDS = frozenset(TouchKind.values)
OUTCOMES = frozenset(TouchOutcome.values)


def works_lead(lead: Lead, by: Principal) -> bool:
    """Whether ``by`` may report on ``lead``: its owner (rep or partner), a manager, the system."""
    if by.partner is not None:
        return lead.partner_id == by.partner.pk
    if by.has_role(*MANAGERS):
        return True
    return by.user is not None and lead.partner_id is None and lead.rep_id == by.user.pk


@dataclass(frozen=True)
class CheckedTouch:
    """A touch that passed ``check_touch``: its cleaned fields, ready to be written."""

    kind: str
    outcome: str
    note: str
    at: datetime
    created_at: datetime


def check_touch(
    *,
    inquiry_id: int,
    inquiry_created_at: datetime,
    lead: Lead | None,
    kind: str,
    outcome: str,
    note: str = "",
    at: datetime | None = None,
    by: Principal,
) -> CheckedTouch:
    """``log_touch``'s rules, in its order, without writing; the bulk sync checks with it too.

    Refused with ``PermissionDenied`` (not the lead's owner nor a manager) or a
    ``RuleViolation`` naming the field.
    """
    if lead is not None:
        if not works_lead(lead, by):
            raise PermissionDenied("Only the lead's owner or a manager logs touches on it.")
        if lead.inquiry_id != inquiry_id:
            raise RuleViolation(
                field="lead", code="other_inquiry", message="This lead is another person's."
            )
    elif by.partner is not None or not by.has_role(*MARKETING):
        raise PermissionDenied("Touches before hand-over are the marketing side's.")
    if kind not in KINDS:
        raise RuleViolation(
            field="kind",
            code="invalid",
            message="A touch is a " + ", ".join(TouchKind.values[:-1]) + " or other.",
        )
    if outcome not in OUTCOMES:
        raise RuleViolation(
            field="outcome",
            code="invalid",
            message="The outcome is one of: " + ", ".join(TouchOutcome.values) + ".",
        )
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise RuleViolation(
            field="note", code="too_long", message=f"At most {MAX_NOTE_LENGTH} characters."
        )
    now = timezone.now()
    at = at or now
    if timezone.is_naive(at):
        raise RuleViolation(field="at", code="invalid", message="The time needs its time zone.")
    if at > now + CLOCK_SKEW:
        raise RuleViolation(
            field="at", code="future", message="A touch is logged when it happened, not before."
        )
    if at < inquiry_created_at:
        raise RuleViolation(
            field="at",
            code="before_inquiry",
            message="This time is before the person's inquiry arrived.",
        )
    return CheckedTouch(kind=kind, outcome=outcome, note=note, at=at, created_at=now)


def touch_audit(touch: Touch) -> dict[str, Any]:
    """The ``after`` of a touch's ``touch.logged`` audit row (one shape for every writer)."""
    return {"kind": touch.kind, "outcome": touch.outcome, "lead": touch.lead_id}


@transaction.atomic
def log_touch(
    *,
    inquiry: Inquiry,
    lead: Lead | None = None,
    kind: str,
    outcome: str,
    note: str = "",
    at: datetime | None = None,
    by: Principal,
) -> Touch:
    """Record one touch; refused (400, nothing written) with the field and the rule.

    ``at`` defaults to now; it may not be in the future (a few minutes of
    clock skew aside) nor before the inquiry existed. The lead, when given,
    must be this inquiry's.
    """
    checked = check_touch(
        inquiry_id=inquiry.pk,
        inquiry_created_at=inquiry.created_at,
        lead=lead,
        kind=kind,
        outcome=outcome,
        note=note,
        at=at,
        by=by,
    )
    return save_touch(checked, inquiry_id=inquiry.pk, lead=lead, by=by)


def save_touch(
    checked: CheckedTouch, *, inquiry_id: int, lead: Lead | None, by: Principal
) -> Touch:
    """Write a checked touch and its audit row (``log_touch``'s writes)."""
    touch = Touch.objects.create(
        tenant=by.tenant,
        inquiry_id=inquiry_id,
        lead=lead,
        user=by.user,
        partner=by.partner,
        kind=checked.kind,
        outcome=checked.outcome,
        note=checked.note,
        at=checked.at,
        created_at=checked.created_at,
    )
    record_audit(action="touch.logged", obj=touch, after=touch_audit(touch), by=by)
    return touch
