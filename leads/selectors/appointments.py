"""Reads of appointments: the inquiry's appointment, and who is at the meeting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import F

from inquiries.models import Inquiry
from leadflow.tenancy.models import Membership, Partner, PartnerStatus, Role, Tenant, User
from leads.models import Appointment


@dataclass(frozen=True)
class Person:
    """Someone at the meeting: their address, their name if known, and whom they speak for."""

    email: str
    name: str
    organisation: str

    @property
    def label(self) -> str:
        """How the buyer reads them: ``Dana Whitfield (Acme Robotics)``."""
        who = self.name or self.email
        return f"{who} ({self.organisation})" if self.organisation else who


@dataclass(frozen=True)
class MeetingPeople:
    """Who is invited: the buyer, the qualifier who booked (organizer), the team meeting them.

    ``team`` is the rep, else the referring partner's contact, else (until
    leads are routed to owners) the tenant's managers. ``organizer`` is None
    when an API key or the system booked: the invitation then comes from
    LeadFlow's own address.
    """

    buyer: Person | None
    organizer: Person | None
    team: list[Person] = field(default_factory=list)
    # The meeting's rep as read here (``Appointment.rep`` is a query): the buyer's reply-to
    # reads it from here, not through the appointment again.
    rep: User | None = None

    @property
    def internal(self) -> list[Person]:
        """Everyone of the seller's side who gets the team's email, once each."""
        seen = {self.buyer.email.lower()} if self.buyer else set()
        people = []
        for person in [*([self.organizer] if self.organizer else []), *self.team]:
            if person.email.lower() not in seen:
                seen.add(person.email.lower())
                people.append(person)
        return people

    @property
    def attendees(self) -> list[Person]:
        """The invitation's ATTENDEE list: the buyer and the team (the organizer is separate)."""
        seen = {self.organizer.email.lower()} if self.organizer else set()
        people = []
        for person in [*([self.buyer] if self.buyer else []), *self.team]:
            if person.email.lower() not in seen:
                seen.add(person.email.lower())
                people.append(person)
        return people


def appointment_of(*, inquiry: Inquiry) -> Appointment | None:
    """The inquiry's open appointment, else its latest closed one; with its qualifier (its rep
    is its lead's, read through the lead: ``Appointment.rep``)."""
    return (
        Appointment.objects.select_related("booked_by")
        .filter(inquiry_id=inquiry.pk)
        .order_by(F("closed_at").desc(nulls_first=True), "-created_at", "-id")
        .first()
    )


# ``meeting_people(partner_id=...)`` left out: the referring partner of the inquiry.
_INQUIRY_PARTNER: Any = object()


def meeting_people(
    *,
    appointment: Appointment,
    inquiry: Inquiry,
    tenant: Tenant,
    partner_id: int | None = _INQUIRY_PARTNER,
) -> MeetingPeople:
    """Who the appointment's invitation goes to, read as they are now (names, partner contact).

    ``partner_id`` is the partner that owns the lead when it is no longer the
    inquiry's referring partner (after an owner change); left out, the
    inquiry's partner, as at booking.
    """
    buyer = (
        Person(email=inquiry.email, name=inquiry.display_name, organisation=inquiry.company)
        if inquiry.email
        else None
    )
    booked_by = appointment.booked_by
    organizer = (
        Person(email=booked_by.email, name=booked_by.full_name, organisation=tenant.name)
        if booked_by is not None and booked_by.is_active
        else None
    )
    rep = appointment.rep
    team: list[Person] = []
    if rep is not None and rep.is_active:
        team.append(Person(email=rep.email, name=rep.full_name, organisation=tenant.name))
    partner = inquiry.partner_id if partner_id is _INQUIRY_PARTNER else partner_id
    if partner is not None:
        team += _partner_contacts(partner)
    if not team:
        team = _managers(tenant)
    return MeetingPeople(buyer=buyer, organizer=organizer, team=team, rep=rep)


def owner_people(*, rep: User | None, partner_id: int | None, tenant: Tenant) -> list[Person]:
    """The people who own a lead: its rep and its partner's contacts (none for no owner).

    A lead booked for a partner's referral with a rep has both.
    """
    people = []
    if rep is not None and rep.is_active:
        people.append(Person(email=rep.email, name=rep.full_name, organisation=tenant.name))
    if partner_id is not None:
        people += _partner_contacts(partner_id)
    return people


def _partner_contacts(partner_id: int) -> list[Person]:
    """The partner's contact address, else its active users; nobody while it is suspended."""
    partner = Partner.objects.filter(pk=partner_id, status=PartnerStatus.ACTIVE).first()
    if partner is None:
        return []
    if partner.contact_email:
        return [Person(email=partner.contact_email, name="", organisation=partner.name)]
    members = (
        Membership.objects.filter(partner_id=partner.pk, is_active=True, user__is_active=True)
        .select_related("user")
        .order_by("id")
    )
    return [
        Person(email=m.user.email, name=m.user.full_name, organisation=partner.name)
        for m in members
    ]


def _managers(tenant: Tenant) -> list[Person]:
    """The tenant's own managers (never a partner's users)."""
    members = (
        Membership.objects.filter(
            role=Role.MANAGER, partner__isnull=True, is_active=True, user__is_active=True
        )
        .select_related("user")
        .order_by("id")
    )
    return [
        Person(email=m.user.email, name=m.user.full_name, organisation=tenant.name) for m in members
    ]


def confirmation_cause(appointment: Appointment) -> tuple[str, int]:
    """What the outbox files an appointment's confirmations under (its page lists them)."""
    return ("appointment", appointment.pk)
