"""The booking's confirmation emails carry an RFC 5545 invitation; notes never reach the buyer."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone
from icalendar import Calendar

from leadflow.outbox.models import OutboxMessage
from leadflow.outbox.services import dispatch_due
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.services.booking import book_appointment
from leads.services.confirmations import appointment_invitation
from leads.tasks import send_appointment_confirmation_task
from tests.conftest import make_actor
from tests.factories import (
    InquiryFactory,
    PartnerFactory,
)
from tests.leads.conftest import future

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


def confirm(appointment) -> int:
    """Run the outbox's dispatcher for the appointment's tenant; how many emails it sent."""
    with tenant_context(appointment.tenant_id):
        return dispatch_due().sent


def recipients_of(mailoutbox) -> set[str]:
    return {address for message in mailoutbox for address in message.to}


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
    # The score (72) as a number on its own: ids and times in links may hold the digits.
    assert not re.search(r"(?<![\w/:.@-])72(?![\w/:.@-])", buyer.body)
    assert "score" not in everything_in(buyer).lower()
    # Only the people at the meeting are named in what the buyer receives.
    assert set(attendees_of(buyer)) == {"pat@buyer.test", rep_a.user.email}


def test_the_team_gets_its_own_email_with_the_internal_notes(
    booked, rep_a, qualifier_a, mailoutbox
):
    confirm(booked)
    team = mail_to(mailoutbox, rep_a.user.email)
    assert team.to == [rep_a.user.email]  # one email each: nobody sees the others' addresses
    assert mail_to(mailoutbox, qualifier_a.user.email).body == team.body
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


def test_the_confirmations_read_the_meetings_rep_once(booked, rep_a):
    # ``Appointment.rep`` is a query through the lead: the buyer's reply-to takes the rep
    # ``meeting_people`` already read instead of asking again.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from leads.services.confirmations import enqueue_confirmations

    with tenant_context(booked.tenant_id), CaptureQueriesContext(connection) as queries:
        enqueue_confirmations(appointment=booked)
    rep_reads = [
        query["sql"]
        for query in queries.captured_queries
        if 'FROM "tenancy_user"' in query["sql"] and '"appointment_id"' in query["sql"]
    ]
    assert len(rep_reads) == 1


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


def test_dispatching_twice_sends_each_confirmation_once(actors, booked, mailoutbox):
    assert confirm(booked) == 3  # the buyer's, the rep's and the qualifier's
    assert confirm(booked) == 0
    assert len(mailoutbox) == 3
    with tenant_context(actors.tenant_a):
        confirmations = OutboxMessage.objects.filter(key__contains=":confirmation:")
        assert set(confirmations.values_list("state", flat=True)) == {"sent"}


def test_a_redelivered_legacy_task_adds_no_second_confirmation(actors, booked, mailoutbox):
    assert send_appointment_confirmation_task(
        appointment_id=booked.pk, tenant_id=actors.tenant_a.pk
    )
    confirm(booked)
    assert len(mailoutbox) == 3


def test_each_email_has_its_own_message_id(booked, mailoutbox):
    confirm(booked)
    ids = {message.extra_headers["Message-ID"] for message in mailoutbox}
    assert len(ids) == len(mailoutbox) == 3


def test_a_failed_send_is_retried_with_the_same_message_id(actors, booked, monkeypatch):
    def broken(self, fail_silently=False):
        raise ConnectionError("SMTP server went away")

    with monkeypatch.context() as patched:
        patched.setattr("django.core.mail.EmailMultiAlternatives.send", broken)
        assert confirm(booked) == 0
    with tenant_context(actors.tenant_a):
        waiting = OutboxMessage.objects.filter(state="pending", attempts=1)
        assert waiting.count() == 3
        assert "SMTP server went away" in waiting.first().last_error
        waiting.update(due_at=timezone.now())  # the backoff has passed
    assert confirm(booked) == 3
    assert len(mail.outbox) == 3


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
    assert recipients_of(mailoutbox) == {
        "pat@buyer.test",
        qualifier_a.user.email,
        dana.user.email,
        unnamed.user.email,
    }
    assert gone.user.email not in recipients_of(mailoutbox)
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
    assert recipients_of(mailoutbox) == {"kim@buyer.test", qualifier_a.user.email, team.to[0]}
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
    assert confirm(book_now(actors, phone_only, qualifier_a, rep=rep_a.user)) == 2
    assert recipients_of(mailoutbox) == {qualifier_a.user.email, rep_a.user.email}
    assert all("+1 555 010 2000" in team.body for team in mailoutbox)


def test_nobody_to_confirm_to_sends_nothing(actors, mailoutbox):
    phone_only = InquiryFactory(
        tenant=actors.tenant_a, email="", phone="+1 555 010 2000", phone_normalized="15550102000"
    )
    with tenant_context(actors.tenant_a):
        lead = book_appointment(inquiry=phone_only, starts_at=future(), by=system_principal(actors))
    assert confirm(lead.appointment) == 0
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


def test_the_inquiry_page_shows_each_confirmations_state(client, actors, booked, mailoutbox):
    client.force_login(actors.teammate.user)
    before = client.get(f"/inquiries/{booked.inquiry_id}/").content.decode()
    assert 'pat@buyer.test</small> · <span class="badge">Pending</span>' in before
    confirm(booked)
    after = client.get(f"/inquiries/{booked.inquiry_id}/").content.decode()
    assert 'pat@buyer.test</small> · <span class="badge">Sent</span>' in after
    listed = after.split('data-testid="confirmations"')[1].split("</dd>")[0]
    assert "Pending" not in listed
    assert "Riley Rep" in listed  # people by name, their address beside it


def test_a_failed_confirmation_shows_its_reason_on_the_inquiry_page(client, actors, booked):
    with tenant_context(actors.tenant_a):
        OutboxMessage.objects.filter(recipient="pat@buyer.test").update(
            state="failed", last_error="the mail server answered 550: no such user"
        )
    client.force_login(actors.teammate.user)
    page = client.get(f"/inquiries/{booked.inquiry_id}/").content.decode()
    assert "Failed" in page and "550: no such user" in page
