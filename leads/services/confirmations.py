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
from leads.selectors.settings import lead_settings

logger = logging.getLogger(__name__)

PRODID = "-//LeadFlow//Appointments//EN"
ICS_MIMETYPE = "text/calendar; method=REQUEST"  # Django adds charset=utf-8
BOOKED_INVITATION_LINE = "The attached invitation (invite.ics) adds the meeting to your calendar."


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
    method: str = "REQUEST",
) -> bytes:
    """The RFC 5545 invitation (``METHOD:REQUEST``) calendar programs add to the calendar.

    The ``UID`` is the appointment's, so a later update with a higher
    ``SEQUENCE`` replaces the event instead of adding a second one. The
    description is the message to the buyer; internal notes are never in it.
    ``method="CANCEL"`` makes the cancellation of the same event
    (``STATUS:CANCELLED``) for the ``attendees`` named.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

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
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
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
    """The invitation the buyer receives, also downloadable from the inquiry page.

    A cancelled meeting's is its cancellation (``METHOD:CANCEL``).
    """
    inquiry = Inquiry.objects.get(pk=appointment.inquiry_id)
    tenant = Tenant.objects.get(pk=appointment.tenant_id)
    people = meeting_people(appointment=appointment, inquiry=inquiry, tenant=tenant)
    method = "CANCEL" if appointment.cancelled_at is not None else "REQUEST"
    return _invitation(appointment, inquiry, tenant, people, method=method)


def _invitation(
    appointment: Appointment,
    inquiry: Inquiry,
    tenant: Tenant,
    people: MeetingPeople,
    *,
    method: str = "REQUEST",
    attendees: list[Person] | None = None,
) -> bytes:
    return build_invitation(
        appointment=appointment,
        inquiry=inquiry,
        attendees=people.attendees if attendees is None else attendees,
        organizer=people.organizer,
        organizer_fallback=Person(email=_leadflow_address(), name="", organisation=tenant.name),
        method=method,
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
    *,
    headline: str = "Your appointment with {tenant} is booked.",
    subject: str = "Appointment with {tenant}: {start}",
    invitation_line: str = BOOKED_INVITATION_LINE,
) -> dict[str, Any]:
    """The buyer's confirmation: when, where, whom they meet and the message to them only.

    Also the buyer's update after a reschedule (other ``headline``, ``subject``).
    """
    start, when = _when(appointment, tenant)
    lines = [
        headline.format(tenant=tenant.name),
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
    lines += ["", invitation_line]
    letter: dict[str, Any] = {
        "subject": subject.format(
            tenant=tenant.name, start=dateformat.format(start, "D j M Y, H:i T")
        ),
        "text": "\n".join(lines) + "\n",
    }
    replier = _buyer_reply_to(people)
    if replier:
        letter["reply_to"] = replier
    return _with_invitation(letter, invitation)


def _buyer_reply_to(people: MeetingPeople) -> str:
    """The buyer's reply reaches the rep, else the qualifier they spoke to, else the team.

    The rep is the one ``meeting_people`` read (``Appointment.rep`` is a query: not again).
    """
    rep = people.rep
    return (
        rep.email
        if rep is not None and rep.is_active
        else (people.organizer or next(iter(people.team), None) or Person("", "", "")).email
    )


def _team_email(
    appointment: Appointment,
    inquiry: Inquiry,
    tenant: Tenant,
    people: MeetingPeople,
    invitation: str,
    *,
    headline: str = "",
    subject: str = "Booked: {buyer}, {start}",
) -> dict[str, Any]:
    """The team's notice: the buyer, who is invited, the internal notes and what the buyer read.

    Also the team's update after a reschedule or an owner change (other
    ``headline``, ``subject``; ``{lead}`` in the headline names the lead).
    """
    start, when = _when(appointment, tenant)
    lead = Lead.objects.filter(appointment_id=appointment.pk).only("pk").first()
    booked_by = people.organizer.label if people.organizer else "LeadFlow"
    contact = " · ".join(filter(None, [inquiry.title, inquiry.email, inquiry.phone]))
    lead_phrase = f"; it is lead #{lead.pk} in LeadFlow." if lead else "."
    lines = [
        headline.format(buyer=_buyer_name(inquiry), lead=lead_phrase)
        if headline
        else f"{booked_by} booked an appointment with {_buyer_name(inquiry)}" + lead_phrase,
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
        "subject": subject.format(
            buyer=_buyer_name(inquiry), start=dateformat.format(start, "D j M Y, H:i T")
        ),
        "text": "\n".join(lines) + "\n",
    }
    if people.buyer is not None:
        letter["reply_to"] = people.buyer.email
    return _with_invitation(letter, invitation)


# --- After booking: updates, cancellations, owner changes, the reminder -----------------
#
# Every later message carries the appointment's current SEQUENCE in its outbox key, so
# each change is its own message (never swallowed as a repeat of the previous one) and a
# retried request for the same change is still one message. The caller bumps
# ``appointment.sequence`` first, in its transaction.

CANCEL_MIMETYPE = "text/calendar; method=CANCEL"  # Django adds charset=utf-8


def _people(appointment: Appointment, partner_id: int | None) -> tuple[Inquiry, Tenant, Any]:
    inquiry = Inquiry.objects.get(pk=appointment.inquiry_id)
    tenant = Tenant.objects.get(pk=appointment.tenant_id)
    people = meeting_people(
        appointment=appointment, inquiry=inquiry, tenant=tenant, partner_id=partner_id
    )
    return inquiry, tenant, people


def _enqueue(appointment: Appointment, key: str, address: str, payload: dict[str, Any]) -> int:
    """One outbox email; 0 for an address no mail server would take (logged), else 1."""
    try:
        outbox.enqueue(
            kind="email",
            key=key,
            recipient=address,
            payload=payload,
            cause=confirmation_cause(appointment),
        )
    except ValueError as refused:
        logger.warning(
            "appointment %s: nothing sent to %s (%s)",
            appointment.pk,
            address,
            refused,
            extra=_log(appointment),
        )
        return 0
    return 1


def _with_cancellation(letter: dict[str, Any], cancellation: str) -> dict[str, Any]:
    # Attached only: the email sender shows an inline calendar part as METHOD:REQUEST.
    letter["attachments"] = [
        {"filename": "cancel.ics", "content": cancellation, "mimetype": CANCEL_MIMETYPE}
    ]
    return letter


def enqueue_update(*, appointment: Appointment, partner_id: int | None) -> int:
    """The rescheduled meeting's invitation (same UID, current SEQUENCE) to buyer and team.

    Keys ``appointment:<id>:update:<sequence>:<audience>:<address>``. The
    buyer's email has the message to the buyer and never the internal notes.
    """
    inquiry, tenant, people = _people(appointment, partner_id)
    invitation = _invitation(appointment, inquiry, tenant, people).decode()
    prefix = f"appointment:{appointment.pk}:update:{appointment.sequence}"
    queued = 0
    for person in people.internal:
        letter = _team_email(
            appointment,
            inquiry,
            tenant,
            people,
            invitation,
            headline="The appointment with {buyer} has changed{lead}",
            subject="Changed: {buyer}, {start}",
        )
        queued += _enqueue(
            appointment, f"{prefix}:team:{person.email.lower()}", person.email, letter
        )
    if people.buyer is not None:
        letter = _buyer_email(
            appointment,
            inquiry,
            tenant,
            people,
            invitation,
            headline="Your appointment with {tenant} has changed; the new time and place:",
            subject="Appointment with {tenant} changed: {start}",
            invitation_line="The attached invitation (invite.ics) updates the meeting in "
            "your calendar.",
        )
        queued += _enqueue(
            appointment, f"{prefix}:buyer:{people.buyer.email.lower()}", people.buyer.email, letter
        )
    return queued


def enqueue_cancellation(*, appointment: Appointment, partner_id: int | None) -> int:
    """``METHOD:CANCEL`` (``STATUS:CANCELLED``, same UID, current SEQUENCE) to buyer and team.

    Keys ``appointment:<id>:cancel:<sequence>:<audience>:<address>``. The
    cancel reason is internal: the team reads it, the buyer does not.
    """
    inquiry, tenant, people = _people(appointment, partner_id)
    cancellation = _invitation(appointment, inquiry, tenant, people, method="CANCEL").decode()
    start, when = _when(appointment, tenant)
    stamp = dateformat.format(start, "D j M Y, H:i T")
    prefix = f"appointment:{appointment.pk}:cancel:{appointment.sequence}"
    queued = 0
    team_text = "\n".join(
        [
            f"The appointment with {_buyer_name(inquiry)} on {when} is cancelled.",
            "",
            "Reason (never sent to the buyer):",
            appointment.cancel_reason or "—",
            "",
            "The lead stays open: keep working it, or close it in LeadFlow.",
        ]
    )
    for person in people.internal:
        letter = {"subject": f"Cancelled: {_buyer_name(inquiry)}, {stamp}", "text": team_text}
        queued += _enqueue(
            appointment,
            f"{prefix}:team:{person.email.lower()}",
            person.email,
            _with_cancellation(letter, cancellation),
        )
    if people.buyer is not None:
        buyer_text = "\n".join(
            [
                f"Your appointment with {tenant.name} on {when} is cancelled.",
                "",
                "The attached file (cancel.ics) removes the meeting from your calendar.",
            ]
        )
        letter = {
            "subject": f"Appointment with {tenant.name} cancelled: {stamp}",
            "text": buyer_text + "\n",
        }
        replier = _buyer_reply_to(people)
        if replier:
            letter["reply_to"] = replier
        queued += _enqueue(
            appointment,
            f"{prefix}:buyer:{people.buyer.email.lower()}",
            people.buyer.email,
            _with_cancellation(letter, cancellation),
        )
    return queued


def enqueue_owner_change(
    *,
    appointment: Appointment,
    partner_id: int | None,
    old_owners: list[Person],
    new_owners: list[Person],
) -> int:
    """The old owner's invitation is cancelled, the new owner is invited (current SEQUENCE).

    The old owner's ``METHOD:CANCEL`` names only them as attendees, so their
    calendar drops the meeting and nobody else's does; the new owner's
    ``METHOD:REQUEST`` has everyone meeting the buyer now. Someone who is both
    (or still at the meeting as organizer) is not cancelled. The buyer is not
    written to. Keys ``appointment:<id>:owner:<sequence>:<cancel|request>:<address>``.
    """
    inquiry, tenant, people = _people(appointment, partner_id)
    staying = {p.email.lower() for p in [*people.internal, *people.attendees, *new_owners]}
    leaving = [p for p in old_owners if p.email.lower() not in staying]
    prefix = f"appointment:{appointment.pk}:owner:{appointment.sequence}"
    start, when = _when(appointment, tenant)
    stamp = dateformat.format(start, "D j M Y, H:i T")
    new_names = ", ".join(p.label for p in new_owners) or "nobody yet (to be reassigned)"
    queued = 0
    if leaving:
        cancellation = _invitation(
            appointment, inquiry, tenant, people, method="CANCEL", attendees=leaving
        ).decode()
        for person in leaving:
            letter = {
                "subject": f"No longer yours: {_buyer_name(inquiry)}, {stamp}",
                "text": f"The appointment with {_buyer_name(inquiry)} on {when} is no longer "
                f"yours: its lead was given to {new_names}.\n\n"
                "The attached file (cancel.ics) removes the meeting from your calendar.\n",
            }
            queued += _enqueue(
                appointment,
                f"{prefix}:cancel:{person.email.lower()}",
                person.email,
                _with_cancellation(letter, cancellation),
            )
    attendees = list(people.attendees)
    seen = {p.email.lower() for p in attendees}
    attendees += [p for p in new_owners if p.email.lower() not in seen]
    invitation = _invitation(appointment, inquiry, tenant, people, attendees=attendees).decode()
    for person in new_owners:
        letter = _team_email(
            appointment,
            inquiry,
            tenant,
            people,
            invitation,
            headline="You now meet {buyer}: the lead is yours{lead}",
            subject="Yours now: {buyer}, {start}",
        )
        queued += _enqueue(
            appointment, f"{prefix}:request:{person.email.lower()}", person.email, letter
        )
    return queued


def reminder_key_prefix(appointment: Appointment) -> str:
    """Every reminder of the appointment has a key starting so (one per sequence)."""
    return f"appointment:{appointment.pk}:reminder:"


def enqueue_reminder(*, appointment: Appointment) -> bool:
    """Queue the buyer's reminder, due ``reminder_hours_before`` hours before the meeting.

    The due time is the outbox row's ``due_at`` (the beat sends it then), never
    a Celery ETA. Nothing when that time has passed already or the buyer has
    no address. Key ``appointment:<id>:reminder:<sequence>``: a reschedule
    withdraws the pending one (:func:`withdraw_reminders`) and queues its own.
    """
    due_at = appointment.starts_at - timedelta(hours=lead_settings().reminder_hours_before)
    if due_at <= timezone.now():
        return False
    inquiry = Inquiry.objects.get(pk=appointment.inquiry_id)
    if not inquiry.email:
        return False
    tenant = Tenant.objects.get(pk=appointment.tenant_id)
    start, when = _when(appointment, tenant)
    lines = [
        f"A reminder of your appointment with {tenant.name}.",
        "",
        f"When:     {when}",
        f"Length:   {appointment.duration_minutes} minutes",
        f"Where:    {appointment.location or 'to be confirmed'}",
    ]
    if appointment.message_to_buyer:
        lines += ["", f"A message from {tenant.name}:", appointment.message_to_buyer]
    letter: dict[str, Any] = {
        "subject": f"Reminder: appointment with {tenant.name}, "
        f"{dateformat.format(start, 'D j M Y, H:i T')}",
        "text": "\n".join(lines) + "\n",
    }
    rep = appointment.rep
    if rep is not None and rep.is_active:
        letter["reply_to"] = rep.email
    try:
        outbox.enqueue(
            kind="email",
            key=f"{reminder_key_prefix(appointment)}{appointment.sequence}",
            recipient=inquiry.email,
            payload=letter,
            due_at=due_at,
            cause=confirmation_cause(appointment),
        )
    except ValueError as refused:
        logger.warning(
            "appointment %s: no reminder (%s)", appointment.pk, refused, extra=_log(appointment)
        )
        return False
    return True


def withdraw_reminders(*, appointment: Appointment) -> int:
    """Delete the appointment's reminders not sent yet (in the caller's transaction).

    A cancelled, rescheduled or finished meeting must not be reminded of: the
    pending row goes, so the dispatcher never sees it. One the dispatcher is
    sending at this very moment (``sending``) goes out: it was due already.
    """
    deleted, _ = (
        outbox.messages_for(confirmation_cause(appointment))
        .filter(key__startswith=reminder_key_prefix(appointment), state="pending")
        .delete()
    )
    return deleted
