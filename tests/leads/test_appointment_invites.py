"""Reschedule, cancel and owner change reach calendars through the outbox; the buyer's reminder."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar

from leadflow.lib.rules import RuleViolation
from leadflow.outbox.models import OutboxMessage
from leadflow.outbox.services import dispatch_due
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Appointment, Lead, LeadSettings
from leads.services.appointments import cancel, reschedule
from leads.services.ownership import change_owner
from tests.conftest import make_actor
from tests.factories import PartnerFactory
from tests.leads.conftest import APPOINTMENT_NOTE, future

BUYER = "pat@buyer.test"


def dispatch(tenant) -> int:
    with tenant_context(tenant):
        return dispatch_due().sent


def mails_to(mailoutbox, address: str) -> list:
    return [m for m in mailoutbox if address in m.to]


def event_of(message):
    """The VEVENT of the one calendar file attached to ``message``, and the calendar."""
    [(filename, content, mimetype)] = message.attachments
    calendar = Calendar.from_ical(content)
    return calendar, calendar.walk("VEVENT")[0]


def attendees_of(event) -> list[str]:
    attendees = event.get("ATTENDEE", [])
    return [str(a) for a in (attendees if isinstance(attendees, list) else [attendees])]


def whole(message) -> str:
    """Everything the recipient receives: subject, body, alternatives and attachments."""
    parts = [message.subject, message.body, *(str(h) for h in message.extra_headers.values())]
    parts += [str(content) for content, _ in getattr(message, "alternatives", [])]
    parts += [str(content) for _, content, _ in message.attachments]
    parts += list(message.reply_to)
    return "\n".join(parts)


@pytest.fixture
def sent_booking(actors, booked_lead, mailoutbox):
    """The booking's confirmations sent and forgotten, so each test reads only what follows."""
    dispatch(actors.tenant_a)
    mailoutbox.clear()
    return booked_lead


# --- Reschedule ------------------------------------------------------------------------


def test_a_reschedule_sends_the_buyer_the_same_uid_with_a_higher_sequence(
    actors, sent_booking, rep_a, mailoutbox
):
    appointment = sent_booking.appointment
    new_start = future(days=5)
    with tenant_context(actors.tenant_a):
        reschedule(appointment=appointment, starts_at=new_start, by=rep_a.principal)
    dispatch(actors.tenant_a)
    [message] = mails_to(mailoutbox, BUYER)
    calendar, event = event_of(message)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == appointment.uid
    assert int(event["SEQUENCE"]) == appointment.sequence + 1
    assert event.decoded("DTSTART") == new_start


def test_a_reschedule_updates_the_rep_and_the_qualifier_too(
    actors, sent_booking, rep_a, qualifier_a, mailoutbox
):
    with tenant_context(actors.tenant_a):
        reschedule(appointment=sent_booking.appointment, location="Online", by=rep_a.principal)
    dispatch(actors.tenant_a)
    assert {a for m in mailoutbox for a in m.to} == {
        BUYER,
        rep_a.user.email,
        qualifier_a.user.email,
    }


def test_each_reschedule_is_its_own_message(actors, sent_booking, rep_a, mailoutbox):
    with tenant_context(actors.tenant_a):
        reschedule(appointment=sent_booking.appointment, location="Room 5", by=rep_a.principal)
        reschedule(appointment=sent_booking.appointment, location="Room 6", by=rep_a.principal)
    dispatch(actors.tenant_a)
    sequences = sorted(int(event_of(m)[1]["SEQUENCE"]) for m in mails_to(mailoutbox, BUYER))
    assert sequences == [1, 2]


def test_a_reschedule_that_changes_nothing_sends_nothing(actors, sent_booking, rep_a, mailoutbox):
    appointment = sent_booking.appointment
    with tenant_context(actors.tenant_a):
        reschedule(appointment=appointment, location=appointment.location, by=rep_a.principal)
        assert Appointment.objects.get(pk=appointment.pk).sequence == 0
    assert dispatch(actors.tenant_a) == 0


def test_a_reschedule_into_the_past_is_refused_and_changes_nothing(actors, sent_booking, rep_a):
    appointment = sent_booking.appointment
    with tenant_context(actors.tenant_a):
        with pytest.raises(RuleViolation) as refused:
            reschedule(
                appointment=appointment,
                starts_at=timezone.now() - timedelta(hours=1),
                by=rep_a.principal,
            )
        stored = Appointment.objects.get(pk=appointment.pk)
        queued = OutboxMessage.objects.filter(key__contains=":update:").count()
    assert (refused.value.field, refused.value.code) == ("starts_at", "past")
    assert (stored.starts_at, stored.sequence, queued) == (appointment.starts_at, 0, 0)


def test_a_cancelled_meeting_cannot_be_rescheduled(actors, sent_booking, rep_a):
    with tenant_context(actors.tenant_a):
        cancel(appointment=sent_booking.appointment, reason="buyer ill", by=rep_a.principal)
        with pytest.raises(RuleViolation) as refused:
            reschedule(
                appointment=sent_booking.appointment, starts_at=future(5), by=rep_a.principal
            )
    assert (refused.value.code, refused.value.conflict) == ("cancelled", True)


# --- Cancel ----------------------------------------------------------------------------


def test_a_cancel_sends_the_buyer_method_cancel_for_the_same_uid(
    actors, sent_booking, rep_a, mailoutbox
):
    appointment = sent_booking.appointment
    with tenant_context(actors.tenant_a):
        cancel(appointment=appointment, reason="Rep off sick", by=rep_a.principal)
    dispatch(actors.tenant_a)
    [message] = mails_to(mailoutbox, BUYER)
    calendar, event = event_of(message)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == appointment.uid
    assert int(event["SEQUENCE"]) == 1


def test_a_cancel_tells_the_team_the_reason_and_not_the_buyer(
    actors, sent_booking, rep_a, mailoutbox
):
    with tenant_context(actors.tenant_a):
        cancel(appointment=sent_booking.appointment, reason="Rep off sick", by=rep_a.principal)
    dispatch(actors.tenant_a)
    [team] = mails_to(mailoutbox, rep_a.user.email)
    [buyer] = mails_to(mailoutbox, BUYER)
    assert "Rep off sick" in team.body
    assert "Rep off sick" not in whole(buyer)


def test_a_cancelled_meeting_leaves_the_lead_open(actors, sent_booking, rep_a):
    with tenant_context(actors.tenant_a):
        cancel(appointment=sent_booking.appointment, reason="buyer ill", by=rep_a.principal)
        lead = Lead.objects.get(pk=sent_booking.pk)
        appointment = Appointment.objects.get(pk=sent_booking.appointment_id)
    assert lead.is_open
    assert appointment.cancelled_at is not None and appointment.cancel_reason == "buyer ill"


def test_a_cancel_needs_a_reason(actors, sent_booking, rep_a):
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        cancel(appointment=sent_booking.appointment, reason="  ", by=rep_a.principal)
    assert (refused.value.field, refused.value.code) == ("reason", "required")


def test_a_meeting_is_not_cancelled_twice(actors, sent_booking, rep_a):
    with tenant_context(actors.tenant_a):
        cancel(appointment=sent_booking.appointment, reason="buyer ill", by=rep_a.principal)
        with pytest.raises(RuleViolation) as refused:
            cancel(appointment=sent_booking.appointment, reason="again", by=rep_a.principal)
        assert Appointment.objects.get(pk=sent_booking.appointment_id).sequence == 1
    assert refused.value.conflict


# --- Owner change ----------------------------------------------------------------------


def test_an_owner_change_cancels_the_old_reps_invitation(
    actors, sent_booking, rep_a, manager_a, mailoutbox
):
    rep_b = make_actor(actors.tenant_a, Role.REP, user__full_name="Robin Rep")
    with tenant_context(actors.tenant_a):
        change_owner(lead=sent_booking, rep=rep_b.user, by=manager_a.principal)
    dispatch(actors.tenant_a)
    [message] = mails_to(mailoutbox, rep_a.user.email)
    calendar, event = event_of(message)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["UID"]) == sent_booking.appointment.uid
    assert int(event["SEQUENCE"]) == 1
    # Only the old rep is named: nobody else's calendar drops the meeting.
    assert attendees_of(event) == [f"mailto:{rep_a.user.email}"]


def test_an_owner_change_invites_the_new_rep(actors, sent_booking, rep_a, manager_a, mailoutbox):
    rep_b = make_actor(actors.tenant_a, Role.REP, user__full_name="Robin Rep")
    with tenant_context(actors.tenant_a):
        change_owner(lead=sent_booking, rep=rep_b.user, by=manager_a.principal)
    dispatch(actors.tenant_a)
    [message] = mails_to(mailoutbox, rep_b.user.email)
    calendar, event = event_of(message)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == sent_booking.appointment.uid
    assert int(event["SEQUENCE"]) == 1
    assert f"mailto:{rep_b.user.email}" in attendees_of(event)
    assert f"mailto:{BUYER}" in attendees_of(event)


def test_an_owner_change_writes_nothing_to_the_buyer(actors, sent_booking, manager_a, mailoutbox):
    rep_b = make_actor(actors.tenant_a, Role.REP)
    with tenant_context(actors.tenant_a):
        change_owner(lead=sent_booking, rep=rep_b.user, by=manager_a.principal)
    dispatch(actors.tenant_a)
    assert mails_to(mailoutbox, BUYER) == []


def test_handing_a_lead_back_with_no_owner_only_cancels(
    actors, sent_booking, rep_a, manager_a, qualifier_a, mailoutbox
):
    with tenant_context(actors.tenant_a):
        change_owner(lead=sent_booking, by=manager_a.principal, reason="cannot serve")
    dispatch(actors.tenant_a)
    assert [a for m in mailoutbox for a in m.to] == [rep_a.user.email]
    assert str(event_of(mailoutbox[0])[0]["METHOD"]) == "CANCEL"


def test_giving_a_reps_lead_to_a_partner_invites_the_partners_contact_once_it_accepts(
    actors, sent_booking, rep_a, manager_a, mailoutbox
):
    from leadflow.tenancy.principal import Principal
    from leads.services.lifecycle import accept_lead

    partner = PartnerFactory(tenant=actors.tenant_a, contact_email="deals@northwind.test")
    with tenant_context(actors.tenant_a):
        change_owner(lead=sent_booking, partner=partner, by=manager_a.principal)
    dispatch(actors.tenant_a)
    assert str(event_of(mails_to(mailoutbox, rep_a.user.email)[0])[0]["METHOD"]) == "CANCEL"
    # An offer: the invitation names the buyer, so the partner gets it on accepting.
    assert mails_to(mailoutbox, "deals@northwind.test") == []
    dealer = Principal(tenant=actors.tenant_a, role=None, via="api_key", partner=partner)
    with tenant_context(actors.tenant_a):
        sent_booking.refresh_from_db()
        accept_lead(lead=sent_booking, by=dealer)
    dispatch(actors.tenant_a)
    [invite] = mails_to(mailoutbox, "deals@northwind.test")
    assert str(event_of(invite)[0]["METHOD"]) == "REQUEST"


def test_an_owner_change_after_the_meeting_sends_no_invitations(
    actors, sent_booking, manager_a, mailoutbox
):
    from tests.leads.conftest import start_meeting

    start_meeting(sent_booking)
    rep_b = make_actor(actors.tenant_a, Role.REP)
    with tenant_context(actors.tenant_a):
        change_owner(lead=sent_booking, rep=rep_b.user, by=manager_a.principal)
    assert dispatch(actors.tenant_a) == 0


# --- The buyer's reminder --------------------------------------------------------------


def reminders(tenant):
    with tenant_context(tenant):
        return list(OutboxMessage.objects.filter(key__contains=":reminder:"))


def test_booking_queues_the_buyers_reminder_24_hours_before(actors, booked_lead):
    [reminder] = reminders(actors.tenant_a)
    assert reminder.recipient == BUYER
    assert reminder.state == "pending"
    assert reminder.due_at == booked_lead.appointment.starts_at - timedelta(hours=24)


def test_the_reminder_follows_the_tenants_setting(actors, inquiry, rep_a, qualifier_a):
    from leads.services.booking import book_appointment

    with tenant_context(actors.tenant_a):
        LeadSettings.objects.create(tenant=actors.tenant_a, reminder_hours_before=2)
        lead = book_appointment(
            inquiry=inquiry, starts_at=future(days=1), rep=rep_a.user, by=qualifier_a.principal
        )
    [reminder] = reminders(actors.tenant_a)
    assert reminder.due_at == lead.appointment.starts_at - timedelta(hours=2)


def test_a_meeting_sooner_than_the_reminder_gets_none(actors, inquiry, qualifier_a):
    from leads.services.booking import book_appointment

    with tenant_context(actors.tenant_a):
        book_appointment(
            inquiry=inquiry,
            starts_at=timezone.now() + timedelta(hours=3),
            by=qualifier_a.principal,
        )
    assert reminders(actors.tenant_a) == []


def test_the_reminder_is_sent_when_due_and_not_before(actors, booked_lead, mailoutbox):
    dispatch(actors.tenant_a)
    assert mails_to(mailoutbox, BUYER) and all("Reminder" not in m.subject for m in mailoutbox)
    with tenant_context(actors.tenant_a):
        OutboxMessage.objects.filter(key__contains=":reminder:").update(
            due_at=timezone.now() - timedelta(seconds=1)
        )
    mailoutbox.clear()
    dispatch(actors.tenant_a)
    [reminder] = mails_to(mailoutbox, BUYER)
    assert reminder.subject.startswith("Reminder: appointment with Tenant A")


def test_a_reschedule_moves_the_reminder(actors, sent_booking, rep_a):
    new_start = future(days=6)
    with tenant_context(actors.tenant_a):
        reschedule(appointment=sent_booking.appointment, starts_at=new_start, by=rep_a.principal)
    [reminder] = reminders(actors.tenant_a)
    assert reminder.due_at == new_start - timedelta(hours=24)
    assert reminder.key.endswith(":reminder:1")


def test_a_cancelled_meeting_is_not_reminded_of(actors, sent_booking, rep_a, mailoutbox):
    with tenant_context(actors.tenant_a):
        cancel(appointment=sent_booking.appointment, reason="buyer ill", by=rep_a.principal)
    assert reminders(actors.tenant_a) == []
    dispatch(actors.tenant_a)
    assert all("Reminder" not in m.subject for m in mailoutbox)


# --- What the buyer never reads --------------------------------------------------------


def test_the_buyers_emails_never_carry_notes_score_or_other_addresses(
    actors, sent_booking, rep_a, manager_a, mailoutbox
):
    """Update, reminder and cancellation: no internal note, score, or uninvolved address."""
    with tenant_context(actors.tenant_a):
        reschedule(appointment=sent_booking.appointment, location="Online", by=rep_a.principal)
        OutboxMessage.objects.filter(key__contains=":reminder:").update(
            due_at=timezone.now() - timedelta(seconds=1)
        )
    dispatch(actors.tenant_a)
    with tenant_context(actors.tenant_a):
        cancel(appointment=sent_booking.appointment, reason="Internal reorg", by=rep_a.principal)
    dispatch(actors.tenant_a)
    buyer_mails = mails_to(mailoutbox, BUYER)
    assert len(buyer_mails) == 3  # the update, the reminder, the cancellation
    for message in buyer_mails:
        text = whole(message)
        assert APPOINTMENT_NOTE not in text
        assert "Internal reorg" not in text
        # The score as a number of its own (a factory's "Buyer1172" is not a score).
        assert "score" not in text.lower() and not re.search(r"\b72\b", message.body)
        assert manager_a.user.email not in text
        assert actors.owner.user.email not in text


def test_a_cancelled_meetings_downloadable_invitation_is_its_cancellation(
    actors, sent_booking, rep_a
):
    from leads.services.confirmations import appointment_invitation

    with tenant_context(actors.tenant_a):
        cancel(appointment=sent_booking.appointment, reason="buyer ill", by=rep_a.principal)
        appointment = Appointment.objects.get(pk=sent_booking.appointment_id)
        calendar = Calendar.from_ical(appointment_invitation(appointment=appointment))
    assert str(calendar["METHOD"]) == "CANCEL"
    assert int(calendar.walk("VEVENT")[0]["SEQUENCE"]) == 1


def test_a_started_meeting_that_slipped_can_be_moved_to_a_later_time(
    actors, sent_booking, rep_a, mailoutbox
):
    from tests.leads.conftest import start_meeting

    start_meeting(sent_booking)
    with tenant_context(actors.tenant_a):
        reschedule(appointment=sent_booking.appointment, starts_at=future(2), by=rep_a.principal)
    dispatch(actors.tenant_a)
    assert int(event_of(mails_to(mailoutbox, BUYER)[0])[1]["SEQUENCE"]) == 1


def test_a_cancel_is_audited_with_its_reason(actors, sent_booking, rep_a):
    from leadflow.tenancy.models import AuditEvent

    with tenant_context(actors.tenant_a):
        cancel(appointment=sent_booking.appointment, reason="buyer ill", by=rep_a.principal)
        [event] = AuditEvent.objects.filter(action="appointment.cancelled")
    assert event.after["reason"] == "buyer ill"
    assert event.actor_id == rep_a.user.pk


def test_a_referred_lead_given_to_another_rep_cancels_the_partners_copy_too(
    actors, inquiry, rep_a, qualifier_a, manager_a, mailoutbox
):
    from leads.services.booking import book_appointment

    partner = PartnerFactory(tenant=actors.tenant_a, contact_email="deals@northwind.test")
    with tenant_context(actors.tenant_a):
        inquiry.partner = partner
        inquiry.save(update_fields=["partner"])
        lead = book_appointment(
            inquiry=inquiry, starts_at=future(3), rep=rep_a.user, by=qualifier_a.principal
        )
    dispatch(actors.tenant_a)
    mailoutbox.clear()
    rep_b = make_actor(actors.tenant_a, Role.REP)
    with tenant_context(actors.tenant_a):
        change_owner(lead=lead, rep=rep_b.user, by=manager_a.principal)
    dispatch(actors.tenant_a)
    cancelled = {a for m in mailoutbox if "cancel.ics" in str(m.attachments) for a in m.to}
    assert cancelled == {rep_a.user.email, "deals@northwind.test"}
