"""Booking the decision-maker's appointment, which hands the inquiry to sales as a lead.

Booking is the only way a lead is made. The buyer, and everyone of the seller's
side at the meeting, then receive a confirmation email with an RFC 5545
invitation (``METHOD:REQUEST``, a stable ``UID``) that calendar programs add to
the calendar. The appointment's internal ``notes`` never reach the buyer; what
the buyer reads is its ``message_to_buyer``.
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
from inquiries.selectors.appointments import MeetingPeople, Person, meeting_people
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
MAX_MESSAGE_LENGTH = 5000
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
    message_to_buyer: str = "",
    by: Principal,
) -> Lead:
    """Book the decision-maker's appointment and hand the inquiry to sales as a lead.

    The lead starts awaiting the rep's acceptance and carries the buyer
    profile, score and timeline as they are now. A disqualified inquiry, a
    time that is not in the future, or a second booking is refused and writes
    nothing; the confirmation emails go out once the booking is committed.
    ``notes`` are internal and never sent to the buyer; ``message_to_buyer``
    is what the buyer's email and invitation say.
    """
    location = location.strip()
    notes = notes.strip()
    message_to_buyer = message_to_buyer.strip()
    _check_time(starts_at, duration_minutes)
    _check_text(location=location, notes=notes, message_to_buyer=message_to_buyer)
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
                inquiry,
                starts_at,
                duration_minutes,
                rep,
                location,
                notes,
                message_to_buyer,
                by,
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


def _check_text(*, location: str, notes: str, message_to_buyer: str) -> None:
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


def _check_rep(rep: User | None) -> None:
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
    message_to_buyer: str,
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
            "notes": notes,
            "message_to_buyer": message_to_buyer,
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


# --- The invitation and the confirmation emails -------------------------------------
#
# Two emails, so internal notes never reach the buyer: the buyer's (the message to
# the buyer, nobody's notes) and the team's (the organizer and everyone meeting the
# buyer; it carries the internal notes). Both attach the same invitation, which has
# the message to the buyer as its DESCRIPTION and never the internal notes.


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


def _leadflow_address() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL


def build_invitation(
    *,
    appointment: Appointment,
    inquiry: Inquiry,
    attendees: list[Person],
    organizer: Person | None,
    organizer_fallback: Person,
) -> bytes:
    """The RFC 5545 invitation (``METHOD:REQUEST``) calendar programs add to the calendar.

    The ``UID`` is the appointment's, so a later update with a higher
    ``SEQUENCE`` replaces the event instead of adding a second one. The
    description is the message to the buyer; internal notes are never in it.
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
    if appointment.message_to_buyer:
        event.add("description", appointment.message_to_buyer)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    chair = organizer or organizer_fallback
    event.add("organizer", _address(chair.email, chair.name or chair.organisation), encode=False)
    for person in attendees:
        event.add(
            "attendee",
            _address(
                person.email,
                person.name or person.organisation or person.email,
                cutype="INDIVIDUAL",
                role="REQ-PARTICIPANT",
                partstat="NEEDS-ACTION",
                rsvp="TRUE",
            ),
            encode=False,
        )
    calendar.add_component(event)
    return calendar.to_ical()


def appointment_invitation(*, appointment: Appointment) -> bytes:
    """The invitation the buyer receives, also downloadable from the inquiry page."""
    inquiry = Inquiry.objects.get(pk=appointment.inquiry_id)
    tenant = Tenant.objects.get(pk=appointment.tenant_id)
    people = meeting_people(appointment=appointment, inquiry=inquiry, tenant=tenant)
    return _invitation(appointment, inquiry, tenant, people)


def _invitation(
    appointment: Appointment, inquiry: Inquiry, tenant: Tenant, people: MeetingPeople
) -> bytes:
    return build_invitation(
        appointment=appointment,
        inquiry=inquiry,
        attendees=people.attendees,
        organizer=people.organizer,
        organizer_fallback=Person(email=_leadflow_address(), name="", organisation=tenant.name),
    )


def send_appointment_confirmation(*, appointment: Appointment) -> bool:
    """Email the buyer and everyone meeting them the appointment with its invitation, once.

    The buyer gets their own email (no internal notes); the organizer and the
    team get theirs (with the internal notes). Safe to run twice: the send is
    claimed on the appointment first, so a second run finds it claimed and
    sends nothing. A failed send releases the claim and raises, so the task
    retries; each email keeps its ``Message-ID`` across retries. Returns
    whether an email went out.
    """
    inquiry = Inquiry.objects.get(pk=appointment.inquiry_id)
    tenant = Tenant.objects.get(pk=appointment.tenant_id)
    people = meeting_people(appointment=appointment, inquiry=inquiry, tenant=tenant)
    if people.buyer is None and not people.internal:
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
    invitation = _invitation(appointment, inquiry, tenant, people).decode()
    messages = []
    # The team's first: should the buyer's then fail, the retry repeats only the team's.
    if people.internal:
        messages.append(_team_email(appointment, inquiry, tenant, people, invitation))
    if people.buyer is not None:
        messages.append(
            _buyer_email(appointment, inquiry, tenant, people, people.buyer, invitation)
        )
    try:
        for message in messages:
            message.send()
    except Exception:
        Appointment.objects.filter(pk=appointment.pk).update(confirmation_sent_at=None)
        raise
    logger.info("appointment %s confirmed", appointment.pk, extra=_log(appointment))
    return True


def _log(appointment: Appointment) -> dict[str, Any]:
    return {"tenant_id": appointment.tenant_id, "appointment_id": appointment.pk}


def _when(appointment: Appointment, tenant: Tenant) -> tuple[datetime, str]:
    """The start in the tenant's time zone, and the meeting's time span with the zone named."""
    zone = ZoneInfo(tenant.timezone)
    start = appointment.starts_at.astimezone(zone)
    end = ends_at(appointment).astimezone(zone)
    span = (
        f"{dateformat.format(start, 'l j F Y')}, "
        f"{dateformat.format(start, 'H:i')}–{dateformat.format(end, 'H:i T')} ({tenant.timezone})"
    )
    return start, span


def _buyer_name(inquiry: Inquiry) -> str:
    return inquiry.display_name + (f" ({inquiry.company})" if inquiry.company else "")


def _who(inquiry: Inquiry, people: MeetingPeople, tenant: Tenant) -> str:
    """Who will be there, people by name; a neutral phrase for a side with nobody named.

    ``Pat Buyer (Buyer Inc) and Dana Whitfield (Acme Robotics)``, or
    ``Pat Buyer (Buyer Inc) and a member of the Acme Robotics team``.
    """
    named = [person.label for person in people.team if person.name]
    sides_named = {person.organisation for person in people.team if person.name}
    unnamed = dict.fromkeys(
        person.organisation or tenant.name
        for person in people.team
        if not person.name and (person.organisation or tenant.name) not in sides_named
    )
    if not people.team:
        unnamed = {tenant.name: None}
    parts = [
        _buyer_name(inquiry),
        *named,
        *(f"a member of the {organisation} team" for organisation in unnamed),
    ]
    return ", ".join(parts[:-1]) + f" and {parts[-1]}"


def _message_id(appointment: Appointment, audience: str) -> str:
    # Stable per appointment and audience: a repeat after a crash is recognisably the same.
    local = appointment.uid.split("@", 1)[0]
    domain = _leadflow_address().rpartition("@")[2] or "leadflow"
    return f"<{local}.{audience}@{domain}>"


def _with_invitation(message: EmailMultiAlternatives, invitation: str) -> EmailMultiAlternatives:
    # Inline, so mail programs show accept/decline; attached, for everything else.
    message.attach_alternative(invitation, ICS_MIMETYPE)
    message.attach("invite.ics", invitation, ICS_MIMETYPE)
    return message


def _buyer_email(
    appointment: Appointment,
    inquiry: Inquiry,
    tenant: Tenant,
    people: MeetingPeople,
    buyer: Person,
    invitation: str,
) -> EmailMultiAlternatives:
    """The buyer's confirmation: when, where, whom they meet and the message to them only."""
    start, when = _when(appointment, tenant)
    lines = [
        f"Your appointment with {tenant.name} is booked.",
        "",
        f"When:     {when}",
        f"Length:   {appointment.duration_minutes} minutes",
        f"Where:    {appointment.location or 'to be confirmed'}",
        f"Who:      {_who(inquiry, people, tenant)}",
    ]
    if people.organizer is not None and people.organizer.name:
        lines.append(f"Booked by: {people.organizer.label}")
    if appointment.message_to_buyer:
        lines += ["", f"A message from {tenant.name}:", appointment.message_to_buyer]
    lines += ["", "The attached invitation (invite.ics) adds the meeting to your calendar."]
    # The buyer's reply reaches the rep, else the qualifier they spoke to, else the team.
    rep = appointment.rep
    replier = (
        rep.email
        if rep is not None and rep.is_active
        else (people.organizer or next(iter(people.team), None) or Person("", "", "")).email
    )
    reply_to = [replier] if replier else []
    message = EmailMultiAlternatives(
        subject=f"Appointment with {tenant.name}: {dateformat.format(start, 'D j M Y, H:i T')}",
        body="\n".join(lines) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[buyer.email],
        reply_to=reply_to or None,
        headers={"Message-ID": _message_id(appointment, "buyer")},
    )
    return _with_invitation(message, invitation)


def _team_email(
    appointment: Appointment,
    inquiry: Inquiry,
    tenant: Tenant,
    people: MeetingPeople,
    invitation: str,
) -> EmailMultiAlternatives:
    """The team's notice: the buyer, who is invited, the internal notes and what the buyer read."""
    start, when = _when(appointment, tenant)
    lead = Lead.objects.filter(appointment_id=appointment.pk).only("pk").first()
    booked_by = people.organizer.label if people.organizer else "LeadFlow"
    contact = " · ".join(filter(None, [inquiry.title, inquiry.email, inquiry.phone]))
    lines = [
        f"{booked_by} booked an appointment with {_buyer_name(inquiry)}"
        + (f"; it is lead #{lead.pk} in LeadFlow." if lead else "."),
        "",
        f"When:     {when}",
        f"Length:   {appointment.duration_minutes} minutes",
        f"Where:    {appointment.location or 'to be confirmed'}",
        f"Buyer:    {_buyer_name(inquiry)}" + (f" — {contact}" if contact else ""),
        "Invited:  "
        + (", ".join(f"{p.label} <{p.email}>" for p in people.team) or "nobody from the team"),
        "",
        "Internal notes (never sent to the buyer):",
        appointment.notes or "—",
        "",
        "Message to the buyer (in their email and invitation):",
        appointment.message_to_buyer or "—",
    ]
    return _with_invitation(
        EmailMultiAlternatives(
            subject=(
                f"Booked: {_buyer_name(inquiry)}, {dateformat.format(start, 'D j M Y, H:i T')}"
            ),
            body="\n".join(lines) + "\n",
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[person.email for person in people.internal],
            reply_to=[people.buyer.email] if people.buyer else None,
            headers={"Message-ID": _message_id(appointment, "team")},
        ),
        invitation,
    )
