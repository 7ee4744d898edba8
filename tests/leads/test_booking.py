"""Booking an appointment makes the lead: the rules, the snapshot, the conflicts."""

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connections
from django.utils import timezone

from inquiries.models import Activity, Inquiry
from leadflow import outbox
from leadflow.lib.rules import RuleViolation
from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from leads.models import Appointment, Lead
from leads.services import booking as appointment_services
from leads.services.booking import book_appointment
from tests.conftest import make_actor, transactional_databases
from tests.factories import (
    InquiryFactory,
    PartnerFactory,
    TenantFactory,
)
from tests.leads.conftest import future


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


def test_booking_writes_its_confirmations_to_the_outbox_in_its_transaction(
    actors, inquiry, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks() as callbacks, tenant_context(actors.tenant_a):
        lead = book_appointment(inquiry=inquiry, starts_at=future(), by=actors.teammate.principal)
        queued = list(outbox.messages_for(("appointment", lead.appointment_id)))
    assert {message.recipient for message in queued} >= {inquiry.email}
    assert {message.state for message in queued} == {"pending"}
    assert mailoutbox == []  # nothing leaves before the commit
    # One dispatcher run queued on commit (other apps' stage hooks add their own callbacks).
    kicks = [callback for callback in callbacks if type(callback).__name__ == "_Kick"]
    assert len(kicks) == 1


def test_a_booking_refused_queues_no_confirmation(actors, inquiry):
    with tenant_context(actors.tenant_a):
        book_appointment(inquiry=inquiry, starts_at=future(), by=actors.teammate.principal)
        with pytest.raises(RuleViolation):
            book_appointment(inquiry=inquiry, starts_at=future(), by=actors.teammate.principal)
        assert OutboxMessage.objects.filter(key__contains=":confirmation:buyer:").count() == 1


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
def test_concurrent_bookings_make_exactly_one_lead():
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
