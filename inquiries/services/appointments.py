"""Booking the decision-maker's appointment, which hands the inquiry to sales as a lead.

Booking is the only way a lead is made. The buyer and the rep then receive one
confirmation email with an RFC 5545 invitation (``METHOD:REQUEST``, a stable
``UID``) that calendar programs add to the calendar.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils import dateformat, timezone
from icalendar import Calendar, Event, vCalAddress

from inquiries.models import Activity, ActivityKind, Appointment, Inquiry, Stage
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Membership, Role, Tenant, User
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit
from leads.models import Lead, LeadStage

logger = logging.getLogger(__name__)

MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 480
MAX_LOCATION_LENGTH = 500
MAX_NOTES_LENGTH = 5000
# Who may be named as the rep of a booked appointment.
REP_ROLES = (Role.REP, Role.MANAGER, Role.ADMIN)
# How much of the person's timeline the lead carries for sales (newest first).
TIMELINE_SNAPSHOT_LIMIT = 50
ONE_PER_INQUIRY = ("inquiries_appointment_one_per_inquiry", "leads_lead_inquiry_uniq")
PRODID = "-//LeadFlow//Appointments//EN"
ICS_MIMETYPE = "text/calendar; method=REQUEST"  # Django adds charset=utf-8


def ends_at(appointment: Appointment) -> datetime:
    """When the meeting is over."""
    return appointment.starts_at + timedelta(minutes=appointment.duration_minutes)


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
    by: Principal,
) -> Lead:
    """Book the decision-maker's appointment and hand the inquiry to sales as a lead.

    The lead starts awaiting the rep's acceptance and carries the buyer
    profile, score and timeline as they are now. A disqualified inquiry, a
    time that is not in the future, or a second booking is refused and writes
    nothing; the confirmation email goes out once the booking is committed.
    """
    location = location.strip()
    notes = notes.strip()
    _check_time(starts_at, duration_minutes)
    _check_text(location=location, notes=notes)
    inquiry = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
    if inquiry.stage == Stage.DISQUALIFIED:
        raise RuleViolation(
            field="inquiry",
            code="disqualified",
            message="This inquiry is disqualified; requalify it before booking an appointment.",
        )
    if _already_booked(inquiry):
        raise _already_booked_error()
    _check_rep(rep)
    try:
        # A savepoint, so a booking that lost a race is reported as a 409, not a 500.
        with transaction.atomic():
            appointment, lead = _book(
                inquiry, starts_at, duration_minutes, rep, location, notes, by
            )
    except IntegrityError as exc:
        if _is_one_per_inquiry(exc):
            raise _already_booked_error() from None
        raise
    appointment_id, tenant_id = appointment.pk, inquiry.tenant_id
    transaction.on_commit(lambda: _enqueue_confirmation(appointment_id, tenant_id))
    return lead


def _check_time(starts_at: datetime, duration_minutes: int) -> None:
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


def _check_text(*, location: str, notes: str) -> None:
    for field, value, limit in (
        ("location", location, MAX_LOCATION_LENGTH),
        ("notes", notes, MAX_NOTES_LENGTH),
    ):
        if len(value) > limit:
            raise RuleViolation(
                field=field, code="too_long", message=f"At most {limit} characters."
            )
        if "\x00" in value:
            raise RuleViolation(
                field=field, code="invalid", message="Null characters are not allowed."
            )


def _check_rep(rep: User | None) -> None:
    if rep is None:
        return
    membership = Membership.objects.filter(user_id=rep.pk).first()
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


def _already_booked(inquiry: Inquiry) -> bool:
    return (
        inquiry.stage == Stage.LEAD
        or Appointment.objects.filter(inquiry_id=inquiry.pk).exists()
        or Lead.objects.filter(inquiry_id=inquiry.pk).exists()
    )


def _already_booked_error() -> RuleViolation:
    return RuleViolation(
        field="inquiry",
        code="already_booked",
        conflict=True,
        message="An appointment is already booked for this inquiry; it is a lead already.",
    )


def _is_one_per_inquiry(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    if constraint:
        return constraint in ONE_PER_INQUIRY
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
    by: Principal,
) -> tuple[Appointment, Lead]:
    now = timezone.now()
    appointment = Appointment.objects.create(
        tenant_id=inquiry.tenant_id,
        inquiry=inquiry,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        rep=rep,
        location=location,
        notes=notes,
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
    )
    stage_before = inquiry.stage
    inquiry.stage = Stage.LEAD
    inquiry.updated_at = now
    inquiry.last_activity_at = max(filter(None, [inquiry.last_activity_at, now]))
    inquiry.save(update_fields=["stage", "updated_at", "last_activity_at"])

    record_audit(
        action="appointment.booked",
        obj=appointment,
        after={
            "inquiry": inquiry.pk,
            "starts_at": starts_at.astimezone(UTC).isoformat(),
            "duration_minutes": duration_minutes,
            "rep": rep.email if rep else None,
            "location": location,
        },
        by=by,
    )
    record_audit(
        action="inquiry.handed_to_sales",
        obj=inquiry,
        before={"stage": stage_before},
        after={"stage": Stage.LEAD.value, "lead": lead.pk},
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


def _enqueue_confirmation(appointment_id: int, tenant_id: int) -> None:
    # Imported here: the task module imports this one.
    from inquiries.tasks import send_appointment_confirmation_task

    send_appointment_confirmation_task.delay(appointment_id=appointment_id, tenant_id=tenant_id)


# --- The invitation and the confirmation email --------------------------------------


def _display_name(name: str) -> str:
    # A parameter value may not hold a double quote or control characters (RFC 5545 §3.1).
    return " ".join("".join(c for c in name if c.isprintable() and c != '"').split())


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if _display_name(name):
        address.params["CN"] = _display_name(name)
    for key, value in params.items():
        address.params[key.upper()] = value
    return address


def build_invitation(
    *, appointment: Appointment, inquiry: Inquiry, rep_email: str | None, organizer_email: str
) -> bytes:
    """The RFC 5545 invitation (``METHOD:REQUEST``) calendar programs add to the calendar.

    The ``UID`` is the appointment's, so a later update with a higher
    ``SEQUENCE`` replaces the event instead of adding a second one.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "REQUEST")

    event = Event()
    event.add("uid", appointment.uid)
    event.add("sequence", appointment.sequence)
    event.add("dtstamp", timezone.now().astimezone(UTC))
    event.add("dtstart", appointment.starts_at.astimezone(UTC))
    event.add("dtend", ends_at(appointment).astimezone(UTC))
    company = f" ({inquiry.company})" if inquiry.company else ""
    event.add("summary", f"Meeting with {inquiry.display_name}{company}")
    if appointment.location:
        event.add("location", appointment.location)
    if appointment.notes:
        event.add("description", appointment.notes)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", _address(organizer_email, "LeadFlow"), encode=False)
    attendees = []
    if inquiry.email:
        attendees.append((inquiry.email, inquiry.display_name))
    if rep_email and rep_email != inquiry.email:
        rep_name = appointment.rep.full_name if appointment.rep else ""
        attendees.append((rep_email, rep_name or rep_email))
    for email, name in attendees:
        event.add(
            "attendee",
            _address(
                email,
                name,
                cutype="INDIVIDUAL",
                role="REQ-PARTICIPANT",
                partstat="NEEDS-ACTION",
                rsvp="TRUE",
            ),
            encode=False,
        )
    calendar.add_component(event)
    return calendar.to_ical()


def send_appointment_confirmation(*, appointment: Appointment) -> bool:
    """Email the buyer and the rep the appointment with its calendar invitation, once.

    Safe to run twice: the send is claimed on the appointment first, so a
    second run finds it claimed and sends nothing. A failed send releases the
    claim and raises, so the task retries. Returns whether an email went out.
    """
    inquiry = Inquiry.objects.get(pk=appointment.inquiry_id)
    rep = appointment.rep
    recipients = list(dict.fromkeys(email for email in (inquiry.email, rep and rep.email) if email))
    if not recipients:
        logger.info(
            "appointment %s has nobody to confirm to", appointment.pk, extra=_log(appointment)
        )
        return False
    claimed = Appointment.objects.filter(
        pk=appointment.pk, confirmation_sent_at__isnull=True
    ).update(confirmation_sent_at=timezone.now())
    if not claimed:
        logger.info("appointment %s was already confirmed", appointment.pk, extra=_log(appointment))
        return False
    try:
        _confirmation_email(appointment, inquiry, rep, recipients).send()
    except Exception:
        Appointment.objects.filter(pk=appointment.pk).update(confirmation_sent_at=None)
        raise
    logger.info("appointment %s confirmed", appointment.pk, extra=_log(appointment))
    return True


def _log(appointment: Appointment) -> dict[str, Any]:
    return {"tenant_id": appointment.tenant_id, "appointment_id": appointment.pk}


def _confirmation_email(
    appointment: Appointment, inquiry: Inquiry, rep: User | None, recipients: list[str]
) -> EmailMultiAlternatives:
    tenant = Tenant.objects.get(pk=appointment.tenant_id)
    zone = ZoneInfo(tenant.timezone)
    start = appointment.starts_at.astimezone(zone)
    end = ends_at(appointment).astimezone(zone)
    when = (
        f"{dateformat.format(start, 'l j F Y')}, "
        f"{dateformat.format(start, 'H:i')}–{dateformat.format(end, 'H:i')} ({tenant.timezone})"
    )
    rep_line = (rep.full_name or rep.email) if rep else "to be confirmed"
    lines = [
        f"Your appointment with {tenant.name} is booked.",
        "",
        f"When:     {when}",
        f"Length:   {appointment.duration_minutes} minutes",
        f"Where:    {appointment.location or 'to be confirmed'}",
        f"Who:      {inquiry.display_name}"
        + (f", {inquiry.company}" if inquiry.company else "")
        + f" and {rep_line}",
    ]
    if appointment.notes:
        lines += ["", "Notes:", appointment.notes]
    lines += ["", "The attached invitation (invite.ics) adds the meeting to your calendar."]
    organizer = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL
    invitation = build_invitation(
        appointment=appointment,
        inquiry=inquiry,
        rep_email=rep.email if rep else None,
        organizer_email=organizer,
    ).decode()
    message = EmailMultiAlternatives(
        subject=f"Appointment with {tenant.name}: {dateformat.format(start, 'D j M Y, H:i')}",
        body="\n".join(lines) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        reply_to=[rep.email] if rep and rep.email else None,
    )
    # Inline, so mail programs show accept/decline; attached, for everything else.
    message.attach_alternative(invitation, ICS_MIMETYPE)
    message.attach("invite.ics", invitation, ICS_MIMETYPE)
    return message
