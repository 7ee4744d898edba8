"""Booking an appointment makes the lead; the confirmation carries an RFC 5545 invitation."""

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connections
from django.utils import timezone
from icalendar import Calendar

from inquiries.models import Activity, Inquiry
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from leads.models import Appointment, Lead
from leads.services import booking as appointment_services
from leads.services.booking import book_appointment
from leads.services.confirmations import appointment_invitation
from leads.tasks import send_appointment_confirmation_task
from tests.conftest import make_actor, transactional_databases
from tests.factories import (
    ActivityFactory,
    InquiryFactory,
    LeadDefinitionFactory,
    PartnerFactory,
    TenantFactory,
)


def future(days: int = 3) -> datetime:
    """A whole second in the future (calendar times have no fractions of a second)."""
    return (timezone.now() + timedelta(days=days)).replace(microsecond=0)


@pytest.fixture
def rep_a(actors):
    return make_actor(actors.tenant_a, Role.REP, user__full_name="Riley Rep")


@pytest.fixture
def inquiry(actors):
    definition = LeadDefinitionFactory(tenant=actors.tenant_a, version=4)
    inquiry = InquiryFactory(
        tenant=actors.tenant_a,
        email="pat@buyer.test",
        company="Buyer Inc",
        stage="mql",
        score=72,
        fit_score=50,
        engagement_score=22,
        score_breakdown=[
            {"rule": "title", "points": 50},
            {"rule": "webinar", "points": 22},
        ],
        definition=definition,
        custom={"budget": 50000},
    )
    ActivityFactory(tenant=actors.tenant_a, inquiry=inquiry, kind="webinar")
    return inquiry


def book(actor, inquiry, **body):
    payload = {"starts_at": future().isoformat(), **body}
    return actor.api().post(f"/api/v1/inquiries/{inquiry.pk}/appointment/", payload, format="json")


def written(tenant) -> dict[str, int]:
    with tenant_context(tenant):
        return {
            "appointments": Appointment.objects.count(),
            "leads": Lead.objects.count(),
            "booked": Activity.objects.filter(kind="appointment_booked").count(),
            "audit": AuditEvent.objects.filter(action="appointment.booked").count(),
        }


NOTHING = {"appointments": 0, "leads": 0, "booked": 0, "audit": 0}


def stage_of(inquiry) -> str:
    with tenant_context(inquiry.tenant_id):
        return Inquiry.objects.get(pk=inquiry.pk).stage


# --- Booking -----------------------------------------------------------------------


def test_booking_makes_one_lead_with_the_profile_and_score_snapshot(actors, inquiry, rep_a):
    starts_at = future()
    response = book(
        actors.teammate,
        inquiry,
        starts_at=starts_at.isoformat(),
        duration_minutes=45,
        rep=rep_a.user.pk,
        location="https://meet.example/abc",
        notes="Bring the pricing sheet.",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["stage"] == "awaiting_acceptance"
    assert (body["inquiry"], body["rep"]) == (inquiry.pk, rep_a.user.email)
    assert (body["score"], body["definition_version"]) == (72, 4)
    assert body["score_breakdown"] == inquiry.score_breakdown
    assert body["profile"]["custom"] == {"budget": 50000}
    assert body["profile"]["email"] == "pat@buyer.test"
    appointment = body["appointment"]
    assert datetime.fromisoformat(appointment["starts_at"]) == starts_at
    assert datetime.fromisoformat(appointment["ends_at"]) == starts_at + timedelta(minutes=45)
    assert appointment["uid"].endswith("@leadflow")
    assert written(actors.tenant_a) == {"appointments": 1, "leads": 1, "booked": 1, "audit": 1}
    assert stage_of(inquiry) == "lead"


def test_booking_keeps_internal_notes_apart_from_the_message_to_the_buyer(actors, inquiry):
    response = book(
        actors.teammate,
        inquiry,
        notes="Decision-maker confirmed; wants welding cell demo.",
        message_to_buyer="See you at the plant.",
    )
    assert response.status_code == 201, response.json()
    appointment = response.json()["appointment"]
    assert appointment["notes"] == "Decision-maker confirmed; wants welding cell demo."
    assert appointment["message_to_buyer"] == "See you at the plant."
    with tenant_context(actors.tenant_a):
        stored = Appointment.objects.get(inquiry=inquiry)
        audit = AuditEvent.objects.get(action="appointment.booked")
    assert stored.message_to_buyer == "See you at the plant."
    assert audit.after["notes"] == "Decision-maker confirmed; wants welding cell demo."
    assert audit.after["message_to_buyer"] == "See you at the plant."


def test_the_lead_shows_the_appointments_notes_and_message(actors, inquiry):
    lead = book(actors.teammate, inquiry, notes="internal", message_to_buyer="hello").json()
    shown = actors.owner.api().get(f"/api/v1/leads/{lead['id']}/").json()["appointment"]
    assert (shown["notes"], shown["message_to_buyer"]) == ("internal", "hello")


def test_the_booking_is_on_the_timeline_and_the_lead_carries_the_timeline(actors, inquiry, rep_a):
    starts_at = future()
    with tenant_context(actors.tenant_a):
        lead = book_appointment(
            inquiry=inquiry, starts_at=starts_at, rep=rep_a.user, by=actors.teammate.principal
        )
        booked = Activity.objects.get(inquiry=inquiry, kind="appointment_booked")
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert booked.details["starts_at"] == starts_at.astimezone(UTC).isoformat()
    assert booked.details["rep"] == rep_a.user.email
    assert [a["kind"] for a in lead.profile["activities"]][-1] == "webinar"
    assert "appointment_booked" in [a["kind"] for a in lead.profile["activities"]]
    assert {"appointment.booked", "lead.created", "inquiry.handed_to_sales"} <= actions
    assert lead.appointment.booked_by == actors.teammate.user


def test_the_lead_belongs_to_the_partner_that_referred_the_inquiry(actors):
    partner = PartnerFactory(tenant=actors.tenant_a)
    referred = InquiryFactory(tenant=actors.tenant_a, partner=partner)
    response = book(actors.teammate, referred)
    assert response.status_code == 201
    assert response.json()["partner"] == {"id": partner.pk, "name": partner.name}


def test_booking_sends_the_confirmation_only_after_commit(
    actors, inquiry, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[dict] = []
    monkeypatch.setattr(send_appointment_confirmation_task, "delay", lambda **kw: sent.append(kw))
    with django_capture_on_commit_callbacks() as callbacks, tenant_context(actors.tenant_a):
        lead = book_appointment(inquiry=inquiry, starts_at=future(), by=actors.teammate.principal)
    assert sent == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert sent == [{"appointment_id": lead.appointment_id, "tenant_id": actors.tenant_a.pk}]


def test_a_time_without_offset_is_read_in_the_tenant_time_zone(actors, inquiry):
    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.save(update_fields=["timezone"])
    day = (timezone.now() + timedelta(days=10)).date()
    response = book(actors.teammate, inquiry, starts_at=f"{day.isoformat()}T10:00:00")
    assert response.status_code == 201, response.json()
    expected = datetime(day.year, day.month, day.day, 10, tzinfo=ZoneInfo("Europe/Berlin"))
    assert datetime.fromisoformat(response.json()["appointment"]["starts_at"]) == expected


def test_booking_in_the_past_is_a_400_that_writes_nothing(actors, inquiry):
    past = timezone.now() - timedelta(minutes=1)
    response = book(actors.teammate, inquiry, starts_at=past.isoformat())
    assert response.status_code == 400
    assert response.json()["code"] == "past"
    assert "starts_at" in response.json()["errors"]
    assert written(actors.tenant_a) == NOTHING
    assert stage_of(inquiry) == "mql"


def test_booking_a_disqualified_inquiry_is_a_400_that_writes_nothing(actors):
    disqualified = InquiryFactory(tenant=actors.tenant_a, stage="disqualified")
    response = book(actors.teammate, disqualified)
    assert response.status_code == 400
    assert response.json()["code"] == "disqualified"
    assert "inquiry" in response.json()["errors"]
    assert written(actors.tenant_a) == NOTHING


def test_booking_twice_is_a_conflict_that_writes_nothing_more(actors, inquiry):
    assert book(actors.teammate, inquiry).status_code == 201
    response = book(actors.teammate, inquiry, starts_at=future(days=5).isoformat())
    assert response.status_code == 409
    assert response.json()["code"] == "already_booked"
    assert "inquiry" in response.json()["errors"]
    assert written(actors.tenant_a) == {"appointments": 1, "leads": 1, "booked": 1, "audit": 1}


def test_a_booking_that_loses_the_race_at_the_constraint_is_a_409(actors, inquiry, monkeypatch):
    with tenant_context(actors.tenant_a):
        book_appointment(inquiry=inquiry, starts_at=future(), by=actors.teammate.principal)
        # As if the other booking committed between the check and the insert.
        monkeypatch.setattr(appointment_services, "_has_open_booking", lambda inquiry: False)
        with pytest.raises(RuleViolation) as refused:
            book_appointment(inquiry=inquiry, starts_at=future(), by=actors.teammate.principal)
    assert (refused.value.code, refused.value.conflict) == ("already_booked", True)
    assert written(actors.tenant_a)["leads"] == 1


def test_rep_of_another_tenant_is_a_400_that_writes_nothing(actors, inquiry):
    response = book(actors.teammate, inquiry, rep=actors.outsider.user.pk)
    assert response.status_code == 400
    assert "rep" in response.json()["errors"]
    assert written(actors.tenant_a) == NOTHING


@pytest.mark.parametrize("role", [Role.MARKETER, Role.QUALIFIER])
def test_rep_must_be_a_rep_manager_or_admin(actors, inquiry, role):
    not_a_rep = make_actor(actors.tenant_a, role)
    response = book(actors.teammate, inquiry, rep=not_a_rep.user.pk)
    assert response.status_code == 400
    assert response.json()["code"] == "not_a_rep"
    assert written(actors.tenant_a) == NOTHING


def test_a_partner_user_is_not_a_rep_for_booking(actors, inquiry):
    partner_user = make_actor(
        actors.tenant_a, Role.REP, partner=PartnerFactory(tenant=actors.tenant_a)
    )
    response = book(actors.teammate, inquiry, rep=partner_user.user.pk)
    assert response.status_code == 400
    assert "rep" in response.json()["errors"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"duration_minutes": 4}, "duration_minutes"),
        ({"duration_minutes": 481}, "duration_minutes"),
        ({"location": "x" * 501}, "location"),
        ({"notes": "x" * 5001}, "notes"),
        ({"message_to_buyer": "x" * 5001}, "message_to_buyer"),
        ({"starts_at": "next tuesday"}, "starts_at"),
        ({"starts_at": None}, "starts_at"),
        ({"rep": 0}, "rep"),
        ({"rep": 987654}, "rep"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_with_field_errors_that_writes_nothing(actors, inquiry, body, field):
    response = book(actors.teammate, inquiry, **body)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert written(actors.tenant_a) == NOTHING


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"starts_at": datetime(2099, 1, 1, 10)}, "starts_at", "naive"),  # noqa: DTZ001
        ({"duration_minutes": 0}, "duration_minutes", "out_of_range"),
        ({"location": "x" * 501}, "location", "too_long"),
        ({"notes": "a\x00b"}, "notes", "invalid"),
        ({"message_to_buyer": "a\x00b"}, "message_to_buyer", "invalid"),
    ],
)
def test_the_service_refuses_what_a_browser_form_might_send(actors, inquiry, changes, field, code):
    arguments = {"starts_at": future(), **changes}
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        book_appointment(inquiry=inquiry, **arguments, by=actors.teammate.principal)
    assert (refused.value.field, refused.value.code) == (field, code)
    assert written(actors.tenant_a) == NOTHING


def test_inquiry_of_another_tenant_is_404_and_writes_nothing(actors, inquiry):
    response = book(actors.outsider, inquiry)
    assert response.status_code == 404
    assert response.json() == {"status": 404, "code": "not_found", "detail": "Not found."}
    assert written(actors.tenant_a) == NOTHING


def test_a_foreign_inquiry_is_404_before_its_body_is_validated(actors, inquiry):
    response = book(actors.outsider, inquiry, starts_at="garbage")
    assert response.status_code == 404


def test_reps_do_not_book_appointments(actors, inquiry, rep_a):
    assert book(rep_a, inquiry).status_code == 403
    assert written(actors.tenant_a) == NOTHING


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=transactional_databases())
def test_concurrent_bookings_make_exactly_one_lead(monkeypatch):
    monkeypatch.setattr(send_appointment_confirmation_task, "delay", lambda **kw: None)
    tenant = TenantFactory(slug="booking-race")
    actor = make_actor(tenant, Role.QUALIFIER)
    target = InquiryFactory(tenant=tenant)
    start = threading.Barrier(4)
    statuses: list[int] = []

    def worker():
        try:
            start.wait()
            statuses.append(book(actor, target).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201, 409, 409, 409]
    assert written(tenant) == {"appointments": 1, "leads": 1, "booked": 1, "audit": 1}


# --- The confirmation and its invitation ----------------------------------------------

INTERNAL_NOTE = "Decision-maker confirmed; wants welding cell demo."
MESSAGE = "Looking forward to it: please bring your current floor plan."


@pytest.fixture
def qualifier_a(actors):
    return make_actor(actors.tenant_a, Role.QUALIFIER, user__full_name="Quinn Qualifier")


def book_now(actors, inquiry, by, **arguments):
    with tenant_context(actors.tenant_a):
        return book_appointment(
            inquiry=inquiry, starts_at=future(), by=by.principal, **arguments
        ).appointment


@pytest.fixture
def booked(actors, inquiry, rep_a, qualifier_a):
    """A lead booked for next week with a rep by a qualifier, in a tenant on Berlin time."""
    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.save(update_fields=["timezone"])
    with tenant_context(actors.tenant_a):
        lead = book_appointment(
            inquiry=inquiry,
            starts_at=future(days=7),
            duration_minutes=45,
            rep=rep_a.user,
            location="Buyer Inc, Room 4",
            notes=INTERNAL_NOTE,
            message_to_buyer=MESSAGE,
            by=qualifier_a.principal,
        )
    return lead.appointment


def confirm(appointment) -> bool:
    return send_appointment_confirmation_task(
        appointment_id=appointment.pk, tenant_id=appointment.tenant_id
    )


def mail_to(outbox, email: str):
    """The one email addressed to ``email``."""
    [message] = [m for m in outbox if email in m.to]
    return message


def invitation_of(message) -> Calendar:
    [(filename, content, mimetype)] = message.attachments
    assert filename == "invite.ics"
    assert mimetype.startswith("text/calendar; method=REQUEST")
    return Calendar.from_ical(content)


def event_of(message):
    [event] = invitation_of(message).walk("VEVENT")
    return event


def attendees_of(message) -> dict[str, dict]:
    attendees = event_of(message).get("ATTENDEE", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    return {str(a).removeprefix("mailto:"): a.params for a in attendees}


def everything_in(message) -> str:
    """Subject, body, every alternative and every attachment of an email, as one text."""
    parts = [message.subject, message.body]
    parts += [content for content, _ in message.alternatives]
    parts += [content for _, content, _ in message.attachments]
    return "\n".join(p.decode() if isinstance(p, bytes) else p for p in parts)


def test_the_buyers_email_and_its_invitation_carry_no_internal_note(booked, mailoutbox):
    confirm(booked)
    buyer = mail_to(mailoutbox, "pat@buyer.test")
    assert INTERNAL_NOTE not in buyer.body
    for content, _ in buyer.alternatives:
        assert "welding cell" not in content
    for _, content, _ in buyer.attachments:
        assert "welding cell" not in content
    assert "welding cell" not in everything_in(buyer)


def test_the_invitations_description_is_the_message_to_the_buyer(booked, mailoutbox):
    confirm(booked)
    buyer = mail_to(mailoutbox, "pat@buyer.test")
    assert MESSAGE in buyer.body
    assert str(event_of(buyer)["DESCRIPTION"]) == MESSAGE


def test_the_buyer_sees_no_score_and_no_other_internal_address(booked, rep_a, mailoutbox):
    confirm(booked)
    buyer = mail_to(mailoutbox, "pat@buyer.test")
    assert buyer.to == ["pat@buyer.test"]
    assert buyer.cc == buyer.bcc == []
    assert "72" not in buyer.body and "score" not in everything_in(buyer).lower()
    # Only the people at the meeting are named in what the buyer receives.
    assert set(attendees_of(buyer)) == {"pat@buyer.test", rep_a.user.email}


def test_the_team_gets_its_own_email_with_the_internal_notes(
    booked, rep_a, qualifier_a, mailoutbox
):
    confirm(booked)
    team = mail_to(mailoutbox, rep_a.user.email)
    assert set(team.to) == {rep_a.user.email, qualifier_a.user.email}
    assert "pat@buyer.test" not in team.to
    assert INTERNAL_NOTE in team.body
    assert MESSAGE in team.body
    # The invitation is the buyer's: the notes are in the email, never in the calendar.
    assert "welding cell" not in invitation_of(team).to_ical().decode()
    assert team.reply_to == ["pat@buyer.test"]


def test_the_buyers_email_names_who_will_be_there_in_the_tenants_time(
    booked, inquiry, rep_a, mailoutbox
):
    confirm(booked)
    buyer = mail_to(mailoutbox, "pat@buyer.test")
    assert f"Who:      {inquiry.display_name} (Buyer Inc) and Riley Rep (Tenant A)" in buyer.body
    assert "to be confirmed" not in buyer.body.split("Who:")[1]
    assert "Booked by: Quinn Qualifier (Tenant A)" in buyer.body
    assert buyer.reply_to == [rep_a.user.email]
    start = booked.starts_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"{start:%H:%M}" in buyer.body
    assert "Europe/Berlin" in buyer.body
    assert "Buyer Inc, Room 4" in buyer.body


def test_the_email_names_the_zone_as_the_pages_do(booked, mailoutbox):
    """The time line and the subject carry the zone's abbreviation (CET or CEST), like a page."""
    confirm(booked)
    buyer = mail_to(mailoutbox, "pat@buyer.test")
    start = booked.starts_at.astimezone(ZoneInfo("Europe/Berlin"))
    end = start + timedelta(minutes=booked.duration_minutes)
    abbreviation = start.tzname()
    assert f"{start:%H:%M}–{end:%H:%M} {abbreviation} (Europe/Berlin)" in buyer.body
    assert buyer.subject.endswith(f"{start:%H:%M} {abbreviation}")


def test_the_invitation_parses_back_with_its_start_end_and_attendees(
    booked, rep_a, qualifier_a, mailoutbox
):
    confirm(booked)
    calendar = invitation_of(mail_to(mailoutbox, "pat@buyer.test"))
    assert (str(calendar["METHOD"]), str(calendar["VERSION"])) == ("REQUEST", "2.0")
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == booked.uid
    assert event.decoded("SEQUENCE") == 0
    assert event.decoded("DTSTART") == booked.starts_at
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event.decoded("DTEND") == booked.starts_at + timedelta(minutes=45)
    assert str(event["LOCATION"]) == "Buyer Inc, Room 4"
    attendees = attendees_of(mail_to(mailoutbox, "pat@buyer.test"))
    assert set(attendees) == {"pat@buyer.test", rep_a.user.email}
    for params in attendees.values():
        assert (params["ROLE"], params["PARTSTAT"], params["RSVP"]) == (
            "REQ-PARTICIPANT",
            "NEEDS-ACTION",
            "TRUE",
        )
    assert attendees[rep_a.user.email]["CN"] == "Riley Rep"


def test_the_qualifier_who_booked_is_the_organizer(booked, qualifier_a, mailoutbox):
    confirm(booked)
    organizer = event_of(mail_to(mailoutbox, "pat@buyer.test"))["ORGANIZER"]
    assert str(organizer) == f"mailto:{qualifier_a.user.email}"
    assert organizer.params["CN"] == "Quinn Qualifier"


def test_a_booking_by_an_api_key_is_organized_by_leadflow(actors, inquiry, rep_a, mailoutbox):
    with tenant_context(actors.tenant_a):
        lead = book_appointment(
            inquiry=inquiry, starts_at=future(), rep=rep_a.user, by=system_principal(actors)
        )
    confirm(lead.appointment)
    organizer = event_of(mail_to(mailoutbox, "pat@buyer.test"))["ORGANIZER"]
    assert str(organizer) == "mailto:leadflow@localhost"
    assert organizer.params["CN"] == "Tenant A"
    assert mail_to(mailoutbox, rep_a.user.email).to == [rep_a.user.email]


def system_principal(actors):
    from leadflow.tenancy.principal import Principal

    return Principal.system(actors.tenant_a, "tests")


def test_the_invitation_is_also_inline_for_accept_and_decline(booked, mailoutbox):
    confirm(booked)
    for message in mailoutbox:
        [(content, mimetype)] = message.alternatives
        assert mimetype.startswith("text/calendar; method=REQUEST")
        assert str(Calendar.from_ical(content).walk("VEVENT")[0]["UID"]) == booked.uid


def test_running_the_confirmation_twice_sends_once(actors, booked, mailoutbox):
    assert confirm(booked) is True
    assert confirm(booked) is False
    assert len(mailoutbox) == 2  # the buyer's and the team's
    with tenant_context(actors.tenant_a):
        assert Appointment.objects.get(pk=booked.pk).confirmation_sent_at is not None


def test_each_email_keeps_its_message_id(booked, mailoutbox):
    confirm(booked)
    ids = {message.extra_headers["Message-ID"] for message in mailoutbox}
    assert len(ids) == 2
    assert all(booked.uid.split("@")[0] in message_id for message_id in ids)


def test_a_failed_send_releases_the_claim_so_the_retry_sends(actors, booked, monkeypatch):
    def broken(self, fail_silently=False):
        raise ConnectionError("SMTP server went away")

    with monkeypatch.context() as patched:
        patched.setattr("django.core.mail.EmailMultiAlternatives.send", broken)
        with pytest.raises(ConnectionError):
            confirm(booked)
    with tenant_context(actors.tenant_a):
        assert Appointment.objects.get(pk=booked.pk).confirmation_sent_at is None
    assert confirm(booked) is True
    assert len(mail.outbox) == 2


# --- Who is invited ------------------------------------------------------------------


def test_without_a_rep_the_tenants_managers_are_invited(actors, inquiry, qualifier_a, mailoutbox):
    dana = make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Dana Whitfield")
    unnamed = make_actor(actors.tenant_a, Role.MANAGER)
    gone = make_actor(actors.tenant_a, Role.MANAGER, user__is_active=False)
    make_actor(actors.tenant_b, Role.MANAGER)
    appointment = book_now(actors, inquiry, qualifier_a, notes=INTERNAL_NOTE)
    confirm(appointment)
    buyer = mail_to(mailoutbox, "pat@buyer.test")
    assert set(attendees_of(buyer)) == {
        "pat@buyer.test",
        dana.user.email,
        unnamed.user.email,
    }
    team = mail_to(mailoutbox, dana.user.email)
    assert set(team.to) == {qualifier_a.user.email, dana.user.email, unnamed.user.email}
    assert gone.user.email not in team.to
    assert INTERNAL_NOTE in team.body and INTERNAL_NOTE not in everything_in(buyer)


def test_without_a_rep_the_buyer_reads_who_will_be_there_not_to_be_confirmed(
    actors, inquiry, qualifier_a, mailoutbox
):
    make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Dana Whitfield")
    confirm(book_now(actors, inquiry, qualifier_a))
    body = mail_to(mailoutbox, "pat@buyer.test").body
    assert "to be confirmed" not in body.split("Who:")[1]
    assert "and Dana Whitfield (Tenant A)" in body
    assert mail_to(mailoutbox, "pat@buyer.test").reply_to == [qualifier_a.user.email]


def test_with_nobody_named_the_buyer_reads_a_neutral_sentence(
    actors, inquiry, qualifier_a, mailoutbox
):
    make_actor(actors.tenant_a, Role.MANAGER)  # no name on record
    confirm(book_now(actors, inquiry, qualifier_a))
    body = mail_to(mailoutbox, "pat@buyer.test").body
    assert "and a member of the Tenant A team" in body
    assert "to be confirmed" not in body.split("Who:")[1]


def test_partner_users_and_other_roles_are_not_invited_as_managers(
    actors, inquiry, qualifier_a, mailoutbox
):
    partner = PartnerFactory(tenant=actors.tenant_a)
    partner_user = make_actor(actors.tenant_a, Role.REP, partner=partner)
    confirm(book_now(actors, inquiry, qualifier_a))
    invited = attendees_of(mail_to(mailoutbox, "pat@buyer.test"))
    assert set(invited) == {"pat@buyer.test"}
    assert partner_user.user.email not in invited
    assert actors.owner.user.email not in invited


def test_a_partner_owned_inquiry_invites_the_partners_contact(actors, qualifier_a, mailoutbox):
    make_actor(actors.tenant_a, Role.MANAGER, user__full_name="Dana Whitfield")
    partner = PartnerFactory(
        tenant=actors.tenant_a, name="Northwind", contact_email="leads@northwind.test"
    )
    referred = InquiryFactory(tenant=actors.tenant_a, email="kim@buyer.test", partner=partner)
    confirm(book_now(actors, referred, qualifier_a, notes=INTERNAL_NOTE))
    buyer = mail_to(mailoutbox, "kim@buyer.test")
    invited = attendees_of(buyer)
    assert set(invited) == {"kim@buyer.test", "leads@northwind.test"}
    assert invited["leads@northwind.test"]["CN"] == "Northwind"
    assert "and a member of the Northwind team" in buyer.body
    team = mail_to(mailoutbox, "leads@northwind.test")
    assert set(team.to) == {qualifier_a.user.email, "leads@northwind.test"}
    assert INTERNAL_NOTE in team.body


def test_a_partner_without_a_contact_address_has_its_users_invited(actors, qualifier_a, mailoutbox):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind", contact_email="")
    pat = make_actor(actors.tenant_a, Role.REP, partner=partner, user__full_name="Pat Partner")
    gone = make_actor(actors.tenant_a, Role.REP, partner=partner, user__is_active=False)
    referred = InquiryFactory(tenant=actors.tenant_a, email="kim@buyer.test", partner=partner)
    confirm(book_now(actors, referred, qualifier_a))
    buyer = mail_to(mailoutbox, "kim@buyer.test")
    assert set(attendees_of(buyer)) == {"kim@buyer.test", pat.user.email}
    assert gone.user.email not in attendees_of(buyer)
    assert "and Pat Partner (Northwind)" in buyer.body


def test_a_partner_owned_inquiry_with_a_rep_invites_both(actors, rep_a, qualifier_a, mailoutbox):
    partner = PartnerFactory(tenant=actors.tenant_a, contact_email="leads@northwind.test")
    referred = InquiryFactory(tenant=actors.tenant_a, email="kim@buyer.test", partner=partner)
    confirm(book_now(actors, referred, qualifier_a, rep=rep_a.user))
    invited = attendees_of(mail_to(mailoutbox, "kim@buyer.test"))
    assert set(invited) == {"kim@buyer.test", rep_a.user.email, "leads@northwind.test"}


def test_a_buyer_without_email_still_lets_the_team_know(actors, qualifier_a, rep_a, mailoutbox):
    phone_only = InquiryFactory(
        tenant=actors.tenant_a, email="", phone="+1 555 010 2000", phone_normalized="15550102000"
    )
    assert confirm(book_now(actors, phone_only, qualifier_a, rep=rep_a.user)) is True
    [team] = mailoutbox
    assert set(team.to) == {qualifier_a.user.email, rep_a.user.email}
    assert "+1 555 010 2000" in team.body


def test_nobody_to_confirm_to_sends_nothing(actors, mailoutbox):
    phone_only = InquiryFactory(
        tenant=actors.tenant_a, email="", phone="+1 555 010 2000", phone_normalized="15550102000"
    )
    with tenant_context(actors.tenant_a):
        lead = book_appointment(inquiry=phone_only, starts_at=future(), by=system_principal(actors))
    assert confirm(lead.appointment) is False
    assert mailoutbox == []


def test_confirmation_of_a_vanished_appointment_returns_quietly(actors, mailoutbox):
    assert (
        send_appointment_confirmation_task(appointment_id=987654, tenant_id=actors.tenant_a.pk)
        is False
    )
    assert mailoutbox == []


def test_the_task_cannot_confirm_another_tenants_appointment(actors, booked, mailoutbox):
    result = send_appointment_confirmation_task(
        appointment_id=booked.pk, tenant_id=actors.tenant_b.pk
    )
    assert result is False
    assert mailoutbox == []


def test_an_updated_invitation_keeps_its_uid_and_raises_the_sequence(actors, booked):
    with tenant_context(actors.tenant_a):
        first = Calendar.from_ical(appointment_invitation(appointment=booked))
        booked.sequence = 1
        second = Calendar.from_ical(appointment_invitation(appointment=booked))
    [before], [after] = first.walk("VEVENT"), second.walk("VEVENT")
    assert str(before["UID"]) == str(after["UID"]) == booked.uid
    assert (before.decoded("SEQUENCE"), after.decoded("SEQUENCE")) == (0, 1)


# --- The invitation on the inquiry page ------------------------------------------------


def test_the_invitation_downloads_from_the_inquiry_page(client, actors, booked, rep_a):
    client.force_login(actors.teammate.user)
    response = client.get(f"/inquiries/{booked.inquiry_id}/appointment.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Content-Disposition"] == (
        f'attachment; filename="appointment-{booked.inquiry_id}.ics"'
    )
    [event] = Calendar.from_ical(response.content).walk("VEVENT")
    assert str(event["UID"]) == booked.uid
    assert str(event["DESCRIPTION"]) == MESSAGE
    assert set(str(a) for a in event["ATTENDEE"]) == {
        "mailto:pat@buyer.test",
        f"mailto:{rep_a.user.email}",
    }


def test_the_downloaded_invitation_carries_no_internal_note(client, actors, booked):
    client.force_login(actors.teammate.user)
    response = client.get(f"/inquiries/{booked.inquiry_id}/appointment.ics")
    assert b"welding cell" not in response.content


def test_the_invitation_of_another_tenants_inquiry_is_404(client, actors, booked):
    client.force_login(actors.outsider.user)
    assert client.get(f"/inquiries/{booked.inquiry_id}/appointment.ics").status_code == 404


def test_an_inquiry_without_appointment_has_no_invitation(client, actors, inquiry):
    client.force_login(actors.teammate.user)
    assert client.get(f"/inquiries/{inquiry.pk}/appointment.ics").status_code == 404


def test_reps_may_not_download_the_invitation_from_the_marketing_page(
    client, actors, booked, rep_a
):
    client.force_login(rep_a.user)
    assert client.get(f"/inquiries/{booked.inquiry_id}/appointment.ics").status_code == 403


def test_the_inquiry_page_links_the_invitation_and_shows_notes_apart(client, actors, booked):
    client.force_login(actors.teammate.user)
    content = client.get(f"/inquiries/{booked.inquiry_id}/").content.decode()
    assert f'href="/inquiries/{booked.inquiry_id}/appointment.ics"' in content
    assert "Download invitation (.ics)" in content
    internal = content.split('data-testid="internal-notes"')[1].split("</dd>")[0]
    assert INTERNAL_NOTE in internal.replace("&#x27;", "'")
    message = content.split('data-testid="message-to-buyer"')[1].split("</dd>")[0]
    assert "floor plan" in message
