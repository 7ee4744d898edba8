"""The appointment after hand-over: held, no-show, reschedule, cancel, and its reminder.

The owner says what became of the meeting once it has started: **held**, or a
**no-show**, which closes the lead as ``no_show`` and sends the person back to
the qualifier's queue (``inquiries.services.handover.return_to_qualifier``).
Before it, the meeting may be **rescheduled** (same ``UID``, ``SEQUENCE`` + 1,
``METHOD:REQUEST``) or **cancelled** (``METHOD:CANCEL``): the buyer and the
team are told through the outbox in the same transaction.

A cancelled meeting is not a lost lead: the lead stays open with its owner,
who keeps working it (touches, weekly updates) and closes it as lost or
postponed when the buyer is gone. A cancelled meeting is final (it is not
rescheduled; the invitation is withdrawn from every calendar).

The buyer's reminder is an outbox row due ``reminder_hours_before`` hours
before the start. A reschedule, a cancel and a held or no-show mark delete
the pending reminder in their transaction, so a stale reminder is never sent
(a reschedule queues a new one under its new sequence).

Every function locks the lead and then the appointment row (the order an owner
change takes them in), so two changes of one meeting happen one after the
other and each bumps the sequence once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from inquiries.models import Inquiry
from inquiries.services import handover
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit
from leads.models import Appointment, Lead, LeadStage
from leads.services import closing
from leads.services.booking import check_text, check_time
from leads.services.confirmations import (
    enqueue_cancellation,
    enqueue_reminder,
    enqueue_update,
    withdraw_reminders,
)

__all__ = [
    "appointment_state",
    "cancel",
    "enqueue_reminder",
    "mark_held",
    "mark_no_show",
    "reschedule",
]

MAX_CANCEL_REASON_LENGTH = 200


def appointment_state(appointment: Appointment) -> str:
    """``cancelled``, ``no_show``, ``held``, ``closed`` (its lead closed), ``due`` or ``upcoming``.

    ``due``: the meeting has started and nobody said yet whether it was held.
    """
    if appointment.cancelled_at is not None:
        return "cancelled"
    if appointment.no_show_at is not None:
        return "no_show"
    if appointment.held_at is not None:
        return "held"
    if appointment.closed_at is not None:
        return "closed"
    if appointment.starts_at <= timezone.now():
        return "due"
    return "upcoming"


STATE_LABELS = {
    "cancelled": "Cancelled",
    "no_show": "No-show",
    "held": "Held",
    "closed": "Lead closed",
    "due": "Started: held or no-show?",
    "upcoming": "Upcoming",
}


def _locked(appointment: Appointment) -> tuple[Appointment, Lead]:
    """The appointment and its lead, locked lead first (as an owner change takes them)."""
    lead = Lead.objects.select_for_update().get(appointment_id=appointment.pk)
    locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
    return locked, lead


def _refuse_unless_open(appointment: Appointment, lead: Lead, doing: str) -> None:
    """409 for a meeting cancelled, marked already, or whose lead is closed."""
    state = appointment_state(appointment)
    if state == "cancelled":
        raise RuleViolation(
            field="appointment",
            code="cancelled",
            conflict=True,
            message=f"This meeting was cancelled; it cannot be {doing}.",
        )
    if state in ("held", "no_show"):
        raise RuleViolation(
            field="appointment",
            code="already_marked",
            conflict=True,
            message=f"This meeting is marked {STATE_LABELS[state].lower()} already; "
            f"it cannot be {doing}.",
        )
    if state == "closed" or not lead.is_open:
        raise RuleViolation(
            field="appointment",
            code="lead_closed",
            conflict=True,
            message=f"The lead of this meeting is closed ({lead.get_stage_display()}); "
            f"it cannot be {doing}.",
        )


def _refuse_unless_started(appointment: Appointment, doing: str) -> None:
    if appointment.starts_at > timezone.now():
        raise RuleViolation(
            field="appointment",
            code="not_started",
            message=f"The meeting has not started yet; it can be {doing} once it has.",
        )


@transaction.atomic
def mark_held(*, appointment: Appointment, by: Principal) -> Appointment:
    """The meeting took place. Only once it has started (400), once (409), while open (409)."""
    appointment, lead = _locked(appointment)
    _refuse_unless_open(appointment, lead, "marked held")
    _refuse_unless_started(appointment, "marked held")
    appointment.held_at = timezone.now()
    appointment.save(update_fields=["held_at"])
    withdraw_reminders(appointment=appointment)
    record_audit(
        action="appointment.held",
        obj=appointment,
        after={"held_at": appointment.held_at.isoformat(), "lead": lead.pk},
        by=by,
    )
    return appointment


@transaction.atomic
def mark_no_show(*, appointment: Appointment, by: Principal) -> Appointment:
    """The buyer did not come: the lead closes as ``no_show``, the person goes to the qualifier.

    Refused like :func:`mark_held`. The lead's close writes its stage change
    and audit row; the inquiry moves ``lead`` → ``mql`` with its own.
    """
    appointment, lead = _locked(appointment)
    _refuse_unless_open(appointment, lead, "marked a no-show")
    _refuse_unless_started(appointment, "marked a no-show")
    now = timezone.now()
    appointment.no_show_at = now
    appointment.save(update_fields=["no_show_at"])
    closing.close_as(lead, LeadStage.NO_SHOW, by=by, reason="no-show", action="lead.no_show")
    inquiry = Inquiry.objects.select_for_update().get(pk=lead.inquiry_id)
    handover.return_to_qualifier(inquiry=inquiry, reason="no-show at the appointment", by=by)
    withdraw_reminders(appointment=appointment)
    record_audit(
        action="appointment.no_show",
        obj=appointment,
        after={"no_show_at": now.isoformat(), "lead": lead.pk},
        by=by,
    )
    appointment.refresh_from_db(fields=["closed_at"])
    return appointment


@transaction.atomic
def reschedule(
    *,
    appointment: Appointment,
    by: Principal,
    starts_at: datetime | None = None,
    duration_minutes: int | None = None,
    location: str | None = None,
    message_to_buyer: str | None = None,
) -> Appointment:
    """Move the meeting (any of time, length, place, message; ``None`` keeps a field).

    Validated like a booking (the start in the future, the length in range,
    texts in size). When something changed, the sequence goes up by one, the
    buyer and the team get the updated invitation (same UID) and the buyer's
    pending reminder is replaced by one for the new time. Nothing changed:
    nothing written, nothing sent. A cancelled or marked meeting, or one whose
    lead is closed, is a 409.
    """
    appointment, lead = _locked(appointment)
    _refuse_unless_open(appointment, lead, "rescheduled")
    new: dict[str, Any] = {
        "starts_at": appointment.starts_at if starts_at is None else starts_at,
        "duration_minutes": (
            appointment.duration_minutes if duration_minutes is None else duration_minutes
        ),
        "location": appointment.location if location is None else location.strip(),
        "message_to_buyer": (
            appointment.message_to_buyer if message_to_buyer is None else message_to_buyer.strip()
        ),
    }
    check_time(new["starts_at"], new["duration_minutes"])
    check_text(location=new["location"], notes="", message_to_buyer=new["message_to_buyer"])
    changed = {name: value for name, value in new.items() if getattr(appointment, name) != value}
    if not changed:
        return appointment
    before = {name: _plain(getattr(appointment, name)) for name in changed}
    for name, value in changed.items():
        setattr(appointment, name, value)
    appointment.sequence += 1
    appointment.save(update_fields=[*changed, "sequence"])
    enqueue_update(appointment=appointment, partner_id=lead.partner_id)
    withdraw_reminders(appointment=appointment)
    enqueue_reminder(appointment=appointment)
    record_audit(
        action="appointment.rescheduled",
        obj=appointment,
        before=before,
        after={
            **{name: _plain(value) for name, value in changed.items()},
            "sequence": appointment.sequence,
        },
        by=by,
    )
    return appointment


@transaction.atomic
def cancel(*, appointment: Appointment, reason: str, by: Principal) -> Appointment:
    """Call the meeting off: the buyer and the team get ``METHOD:CANCEL``; the lead stays open.

    ``reason`` is required and internal (the team's email and the audit row,
    never the buyer's). The pending reminder is deleted. Cancelling twice, a
    marked meeting or one whose lead is closed is a 409.
    """
    reason = reason.strip()
    if not reason:
        raise RuleViolation(
            field="reason", code="required", message="Say why the meeting is cancelled."
        )
    if len(reason) > MAX_CANCEL_REASON_LENGTH:
        raise RuleViolation(
            field="reason",
            code="too_long",
            message=f"At most {MAX_CANCEL_REASON_LENGTH} characters.",
        )
    if "\x00" in reason:
        raise RuleViolation(
            field="reason", code="invalid", message="Null characters are not allowed."
        )
    appointment, lead = _locked(appointment)
    _refuse_unless_open(appointment, lead, "cancelled")
    appointment.cancelled_at = timezone.now()
    appointment.cancel_reason = reason
    appointment.sequence += 1
    appointment.save(update_fields=["cancelled_at", "cancel_reason", "sequence"])
    enqueue_cancellation(appointment=appointment, partner_id=lead.partner_id)
    withdraw_reminders(appointment=appointment)
    record_audit(
        action="appointment.cancelled",
        obj=appointment,
        after={"reason": reason, "sequence": appointment.sequence, "lead": lead.pk},
        by=by,
    )
    return appointment


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
