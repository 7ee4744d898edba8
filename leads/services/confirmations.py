"""The appointment's calendar invitation and the confirmation emails that carry it.

The buyer, and everyone of the seller's side at the meeting, receive a
confirmation email with an RFC 5545 invitation (``METHOD:REQUEST``, a stable
``UID``) that calendar programs add to the calendar. The appointment's
internal ``notes`` never reach the buyer; what the buyer reads is its
``message_to_buyer``.

The emails are written to the outbox (``leadflow.outbox``) in the booking's
transaction, one message per recipient under the key
``appointment:<id>:confirmation:<audience>:<address>``: a rolled-back booking
sends nothing, a committed one is never forgotten, and a retry or a second
dispatcher never sends one twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import dateformat, timezone
from icalendar import Calendar, Event, vCalAddress

from inquiries.models import Inquiry
from leadflow import outbox
from leadflow.tenancy.models import Tenant
from leads.models import Appointment, Lead
from leads.selectors.appointments import (
    MeetingPeople,
    Person,
    confirmation_cause,
    meeting_people,
)

logger = logging.getLogger(__name__)

PRODID = "-//LeadFlow//Appointments//EN"
ICS_MIMETYPE = "text/calendar; method=REQUEST"  # Django adds charset=utf-8


def ends_at(appointment: Appointment) -> datetime:
    """When the meeting is over."""
    return appointment.starts_at + timedelta(minutes=appointment.duration_minutes)


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


def enqueue_confirmations(*, appointment: Appointment) -> int:
    """Write the buyer's and the team's confirmations to the outbox; returns how many.

    Called inside the booking's transaction. The buyer gets their own email
    (no internal notes); everyone of the seller's side at the meeting gets
    the team's (with the internal notes), one message each. Calling it again
    for the same appointment adds nothing: each message's key is taken.
    """
    inquiry = Inquiry.objects.get(pk=appointment.inquiry_id)
    tenant = Tenant.objects.get(pk=appointment.tenant_id)
    people = meeting_people(appointment=appointment, inquiry=inquiry, tenant=tenant)
    if people.buyer is None and not people.internal:
        logger.info(
            "appointment %s has nobody to confirm to", appointment.pk, extra=_log(appointment)
        )
        return 0
    invitation = _invitation(appointment, inquiry, tenant, people).decode()
    letters: list[tuple[str, str, dict[str, Any]]] = [
        (
            "team",
            person.email,
            _team_email(appointment, inquiry, tenant, people, invitation),
        )
        for person in people.internal
    ]
    if people.buyer is not None:
        letters.append(
            (
                "buyer",
                people.buyer.email,
                _buyer_email(appointment, inquiry, tenant, people, invitation),
            )
        )
    queued = 0
    for audience, address, payload in letters:
        try:
            outbox.enqueue(
                kind="email",
                key=f"appointment:{appointment.pk}:confirmation:{audience}:{address.lower()}",
                recipient=address,
                payload=payload,
                cause=confirmation_cause(appointment),
            )
        except ValueError as refused:  # an address no mail server would take
            logger.warning(
                "appointment %s: no confirmation to %s (%s)",
                appointment.pk,
                audience,
                refused,
                extra=_log(appointment),
            )
            continue
        queued += 1
    logger.info(
        "appointment %s: %s confirmation(s) queued", appointment.pk, queued, extra=_log(appointment)
    )
    return queued


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


def _with_invitation(letter: dict[str, Any], invitation: str) -> dict[str, Any]:
    # Inline, so mail programs show accept/decline; attached, for everything else.
    letter["calendar"] = invitation
    letter["attachments"] = [
        {"filename": "invite.ics", "content": invitation, "mimetype": ICS_MIMETYPE}
    ]
    return letter


def _buyer_email(
    appointment: Appointment,
    inquiry: Inquiry,
    tenant: Tenant,
    people: MeetingPeople,
    invitation: str,
) -> dict[str, Any]:
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
    letter: dict[str, Any] = {
        "subject": f"Appointment with {tenant.name}: {dateformat.format(start, 'D j M Y, H:i T')}",
        "text": "\n".join(lines) + "\n",
    }
    if replier:
        letter["reply_to"] = replier
    return _with_invitation(letter, invitation)


def _team_email(
    appointment: Appointment,
    inquiry: Inquiry,
    tenant: Tenant,
    people: MeetingPeople,
    invitation: str,
) -> dict[str, Any]:
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
    letter: dict[str, Any] = {
        "subject": f"Booked: {_buyer_name(inquiry)}, {dateformat.format(start, 'D j M Y, H:i T')}",
        "text": "\n".join(lines) + "\n",
    }
    if people.buyer is not None:
        letter["reply_to"] = people.buyer.email
    return _with_invitation(letter, invitation)
