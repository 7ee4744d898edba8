"""Booking the decision-maker's appointment, which hands the inquiry to sales as a lead.

Booking is the only way a lead is made. The inquiry moves to ``lead`` through
the one service ``inquiries`` offers for it (``inquiries.services.handover``);
this module never writes an inquiry's field itself. The confirmation emails
(``leads.services.confirmations``) go out once the booking is committed.

An inquiry has at most one *open* appointment and one *open* lead; once its
lead is closed (``leads.services.closing``) the person may be booked again, and
the new booking makes a new lead beside the closed one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from django.db import IntegrityError, transaction
from django.utils import timezone

from inquiries.models import Activity, ActivityKind, Inquiry, Stage
from inquiries.services import handover
from leadflow.lib import stages, times, weeks
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Membership, Partner, PartnerStatus, Role, User
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit
from leads import stages as lead_stages
from leads.models import CLOSED_STAGES, Appointment, Lead, LeadStage
from leads.selectors.settings import lead_settings
from leads.services.confirmations import enqueue_confirmations, enqueue_reminder

MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 480
MAX_LOCATION_LENGTH = 500
MAX_NOTES_LENGTH = 5000
MAX_MESSAGE_LENGTH = 5000
# Who may be named as the rep of a booked appointment.
REP_ROLES = (Role.REP, Role.MANAGER, Role.ADMIN)
# How much of the person's timeline the lead carries for sales (newest first).
TIMELINE_SNAPSHOT_LIMIT = 50
ONE_OPEN_PER_INQUIRY = (
    "leads_appointment_one_open_per_inquiry",
    "leads_lead_one_open_per_inquiry",
)


# --- Booking -----------------------------------------------------------------------


@transaction.atomic
def book_appointment(
    *,
    inquiry: Inquiry,
    starts_at: datetime,
    duration_minutes: int = 30,
    rep: User | None = None,
    location: str = "",
    notes: str = "",
    message_to_buyer: str = "",
    by: Principal,
) -> Lead:
    """Book the decision-maker's appointment and hand the inquiry to sales as a lead.

    The lead starts awaiting the rep's acceptance and carries the buyer
    profile, score and timeline as they are now. A disqualified inquiry, a
    time that is not in the future, or a booking while the inquiry has an
    open appointment or lead is refused and writes nothing; the confirmation
    emails go out once the booking is committed.
    ``notes`` are internal and never sent to the buyer; ``message_to_buyer``
    is what the buyer's email and invitation say.
    """
    location = location.strip()
    notes = notes.strip()
    message_to_buyer = message_to_buyer.strip()
    check_time(starts_at, duration_minutes)
    check_text(location=location, notes=notes, message_to_buyer=message_to_buyer)
    inquiry = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
    if inquiry.stage == Stage.DISQUALIFIED:
        raise RuleViolation(
            field="inquiry",
            code="disqualified",
            message="This inquiry is disqualified; requalify it before booking an appointment.",
        )
    if _has_open_booking(inquiry):
        raise _already_booked_error()
    check_rep(rep)
    try:
        # A savepoint, so a booking that lost a race is reported as a 409, not a 500.
        with transaction.atomic():
            appointment, lead = _book(
                inquiry,
                starts_at,
                duration_minutes,
                rep,
                location,
                notes,
                message_to_buyer,
                by,
            )
            # The owner first, so the confirmations invite them.
            routed_partner = _assign_owner(lead, appointment, inquiry, rep, by)
            # In the booking's transaction: a booking rolled back confirms nothing.
            enqueue_confirmations(appointment=appointment)
            enqueue_reminder(appointment=appointment)
            if routed_partner:
                # The confirmations invite the inquiry's own partner; a partner the router
                # chose is invited as the meeting's new owner.
                from leads.services.ownership import send_owner_invites

                send_owner_invites(lead, old_rep_id=None, old_partner_id=None, new_rep=None)
    except IntegrityError as exc:
        if _is_one_open_per_inquiry(exc):
            raise _already_booked_error() from None
        raise
    return lead


def _assign_owner(
    lead: Lead, appointment: Appointment, inquiry: Inquiry, rep: User | None, by: Principal
) -> bool:
    """Give the new lead its owner and record why; whether the router chose a partner.

    A named rep is the owner (``NAMED``); an inquiry an active partner referred
    stays that partner's (``REFERRAL``), protected for the tenant's
    ``protection_days`` when it came from the partner's open deal registration
    (``PROTECTED``); otherwise the router picks (``BOOKED``),
    a suspended referring partner included.
    """
    from leads.models import AssignmentKind
    from leads.services.routing import record_assignment, route_leads

    if rep is not None:
        record_assignment(lead=lead, kind=AssignmentKind.NAMED, by=by)
        return False
    if (
        inquiry.partner_id is not None
        and Partner.objects.filter(pk=inquiry.partner_id, status=PartnerStatus.ACTIVE).exists()
    ):
        from leads.services.registrations import protect_registered_lead

        protected = protect_registered_lead(lead=lead, inquiry=inquiry, by=by)
        kind = AssignmentKind.PROTECTED if protected else AssignmentKind.REFERRAL
        record_assignment(lead=lead, kind=kind, by=by)
        return False
    route_leads(leads=[lead], kind=AssignmentKind.BOOKED, by=by, invite=False)
    return lead.partner_id is not None and lead.partner_id != inquiry.partner_id


def check_time(starts_at: datetime, duration_minutes: int) -> None:
    """Refuse a start without an offset or not in the future, or a duration out of range."""
    if timezone.is_naive(starts_at):
        raise RuleViolation(
            field="starts_at",
            code="naive",
            message="Give the start time with its time zone offset, e.g. 2025-03-04T10:00+01:00.",
        )
    if starts_at <= timezone.now():
        raise RuleViolation(
            field="starts_at", code="past", message="The appointment must be in the future."
        )
    if (
        not isinstance(duration_minutes, int)
        or isinstance(duration_minutes, bool)
        or not MIN_DURATION_MINUTES <= duration_minutes <= MAX_DURATION_MINUTES
    ):
        raise RuleViolation(
            field="duration_minutes",
            code="out_of_range",
            message=f"The duration must be {MIN_DURATION_MINUTES}–{MAX_DURATION_MINUTES} minutes.",
        )


def check_text(*, location: str, notes: str, message_to_buyer: str) -> None:
    """Refuse a text longer than its field holds or with a null character."""
    for field, value, limit in (
        ("location", location, MAX_LOCATION_LENGTH),
        ("notes", notes, MAX_NOTES_LENGTH),
        ("message_to_buyer", message_to_buyer, MAX_MESSAGE_LENGTH),
    ):
        if len(value) > limit:
            raise RuleViolation(
                field=field, code="too_long", message=f"At most {limit} characters."
            )
        if "\x00" in value:
            raise RuleViolation(
                field=field, code="invalid", message="Null characters are not allowed."
            )


def check_rep(rep: User | None) -> None:
    """Refuse a rep who is not an active member selling for the tenant itself (not a partner)."""
    if rep is None:
        return
    membership = Membership.objects.filter(user_id=rep.pk, is_active=True).first()
    if membership is None or not rep.is_active:
        raise RuleViolation(
            field="rep", code="not_a_member", message="The rep must be a member of this tenant."
        )
    if membership.partner_id is not None or membership.role not in REP_ROLES:
        raise RuleViolation(
            field="rep",
            code="not_a_rep",
            message="The rep must be one of the tenant's own reps, managers or admins.",
        )


def _has_open_booking(inquiry: Inquiry) -> bool:
    """An open appointment or an open lead: closed ones are history and allow a new booking."""
    return (
        Appointment.objects.filter(inquiry_id=inquiry.pk, closed_at__isnull=True).exists()
        or Lead.objects.filter(inquiry_id=inquiry.pk)
        .exclude(stage__in=[str(stage) for stage in CLOSED_STAGES])
        .exists()
    )


def _already_booked_error() -> RuleViolation:
    return RuleViolation(
        field="inquiry",
        code="already_booked",
        conflict=True,
        message="An appointment is already booked for this inquiry and its lead is open.",
    )


def _is_one_open_per_inquiry(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    if constraint:
        return constraint in ONE_OPEN_PER_INQUIRY
    # SQLite names the columns, not the constraint.
    message = str(exc)
    return "UNIQUE" in message and (".inquiry_id" in message)


def _book(
    inquiry: Inquiry,
    starts_at: datetime,
    duration_minutes: int,
    rep: User | None,
    location: str,
    notes: str,
    message_to_buyer: str,
    by: Principal,
) -> tuple[Appointment, Lead]:
    now = timezone.now()
    appointment = Appointment.objects.create(
        tenant_id=inquiry.tenant_id,
        inquiry=inquiry,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        location=location,
        notes=notes,
        message_to_buyer=message_to_buyer,
        uid=f"{uuid4()}@leadflow",
        sequence=0,
        booked_by=by.user,
        created_at=now,
    )
    Activity.objects.create(
        tenant_id=inquiry.tenant_id,
        inquiry=inquiry,
        kind=ActivityKind.APPOINTMENT_BOOKED,
        occurred_at=now,
        details={
            "appointment_id": appointment.pk,
            "starts_at": starts_at.astimezone(UTC).isoformat(),
            "duration_minutes": duration_minutes,
            "rep": rep.email if rep else None,
            "booked_by": by.label,
        },
        created_at=now,
    )
    lead = Lead.objects.create(
        tenant_id=inquiry.tenant_id,
        inquiry=inquiry,
        appointment=appointment,
        stage=LeadStage.AWAITING_ACCEPTANCE,
        rep=rep,
        partner_id=inquiry.partner_id,
        profile=buyer_profile(inquiry),
        score=inquiry.score,
        score_breakdown=inquiry.score_breakdown,
        definition_version=inquiry.definition.version if inquiry.definition_id else None,
        created_at=now,
        assigned_at=now,
        acceptance_due_at=acceptance_due(now, by),
    )
    # A lead is created in its first stage: not a move, but the stage's hooks run.
    stages.arrived(lead_stages.MACHINE, [lead.pk], lead.stage, by=by)
    handover.hand_over(inquiry=inquiry, lead_id=lead.pk, by=by)

    record_audit(
        action="appointment.booked",
        obj=appointment,
        after={
            "inquiry": inquiry.pk,
            "starts_at": starts_at.astimezone(UTC).isoformat(),
            "duration_minutes": duration_minutes,
            "rep": rep.email if rep else None,
            "location": location,
            "notes": notes,
            "message_to_buyer": message_to_buyer,
        },
        by=by,
    )
    record_audit(
        action="lead.created",
        obj=lead,
        after={
            "inquiry": inquiry.pk,
            "appointment": appointment.pk,
            "stage": lead.stage,
            "rep": rep.email if rep else None,
            "partner": lead.partner_id,
            "score": lead.score,
        },
        by=by,
    )
    return appointment, lead


def acceptance_due(assigned_at: datetime, by: Principal) -> datetime:
    """When the owner must have accepted a lead assigned at ``assigned_at``: business days on.

    The tenant's acceptance window (default 2 business days) in its time zone.
    """
    days = lead_settings().acceptance_business_days
    return weeks.add_business_days(assigned_at, days, times.zone(by.tenant.timezone))


def buyer_profile(inquiry: Inquiry) -> dict[str, Any]:
    """What sales receives about the buyer: profile, custom fields, behaviour and timeline."""
    timeline = Activity.objects.filter(inquiry_id=inquiry.pk).order_by("-occurred_at", "-id")[
        :TIMELINE_SNAPSHOT_LIMIT
    ]
    return {
        "first_name": inquiry.first_name,
        "last_name": inquiry.last_name,
        "email": inquiry.email,
        "phone": inquiry.phone,
        "title": inquiry.title,
        "company": inquiry.company,
        "company_domain": inquiry.company_domain,
        "company_size": inquiry.company_size,
        "industry": inquiry.industry,
        "country": inquiry.country,
        "region": inquiry.region,
        "interest": inquiry.interest,
        "timeline": inquiry.timeline,
        "source": inquiry.source,
        "campaign": inquiry.campaign_id,
        "consent": inquiry.consent,
        "custom": dict(inquiry.custom or {}),
        "behaviour_level": inquiry.behaviour_level,
        "fit_score": inquiry.fit_score,
        "engagement_score": inquiry.engagement_score,
        "created_at": inquiry.created_at.isoformat(),
        "activities": [
            {"kind": kind, "occurred_at": occurred_at.isoformat()}
            for kind, occurred_at in timeline.values_list("kind", "occurred_at")
        ],
    }
