"""The appointment panel and its actions under ``/leads/<id>/appointment/...`` (test client)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inquiries.models import Inquiry
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Appointment, Lead
from leads.services.appointments import reschedule
from tests.conftest import make_actor
from tests.leads.conftest import future, start_meeting

ACTIONS = [
    ("held", {}),
    ("no-show", {}),
    ("reschedule", {"reschedule-location": "Online", "reschedule-duration_minutes": "30"}),
    ("cancel", {"cancel-reason": "buyer ill"}),
]


def page(lead, action: str) -> str:
    return f"/leads/{lead.pk}/appointment/{action}/"


def appointment_of(actors, lead) -> Appointment:
    with tenant_context(actors.tenant_a):
        return Appointment.objects.get(pk=lead.appointment_id)


@pytest.mark.parametrize(("action", "data"), ACTIONS)
def test_another_tenants_lead_is_a_404(client, actors, booked_lead, action, data):
    start_meeting(booked_lead)
    client.force_login(actors.outsider.user)
    assert client.post(page(booked_lead, action), data).status_code == 404
    after = appointment_of(actors, booked_lead)
    assert (after.held_at, after.no_show_at, after.cancelled_at) == (None, None, None)


@pytest.mark.parametrize(("action", "data"), ACTIONS)
def test_another_reps_lead_is_a_404(client, actors, booked_lead, action, data):
    start_meeting(booked_lead)
    client.force_login(make_actor(actors.tenant_a, Role.REP).user)
    assert client.post(page(booked_lead, action), data).status_code == 404


def test_the_owner_marks_the_meeting_held(client, actors, booked_lead, rep_a):
    start_meeting(booked_lead)
    client.force_login(rep_a.user)
    response = client.post(page(booked_lead, "held"))
    assert response.status_code == 302
    assert appointment_of(actors, booked_lead).held_at is not None


def test_a_no_show_from_the_page_closes_the_lead_and_returns_the_person(
    client, actors, booked_lead
):
    start_meeting(booked_lead)
    client.force_login(actors.teammate.user)
    response = client.post(page(booked_lead, "no-show"))
    assert response.url == f"/leads/{booked_lead.pk}/"
    with tenant_context(actors.tenant_a):
        assert Lead.objects.get(pk=booked_lead.pk).stage == "no_show"
        assert Inquiry.objects.get(pk=booked_lead.inquiry_id).stage == "mql"


def test_a_reschedule_reads_the_time_in_the_viewers_zone(client, actors, booked_lead, rep_a):
    rep_a.user.timezone = "America/New_York"
    rep_a.user.save(update_fields=["timezone"])
    client.force_login(rep_a.user)
    day = (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=5)).date()
    client.post(
        page(booked_lead, "reschedule"),
        {
            "reschedule-starts_at": f"{day.isoformat()}T09:30",
            "reschedule-duration_minutes": "45",
            "reschedule-location": "Online",
            "reschedule-message_to_buyer": "",
        },
    )
    after = appointment_of(actors, booked_lead)
    local = after.starts_at.astimezone(ZoneInfo("America/New_York"))
    assert (local.date(), local.hour, local.minute, after.sequence) == (day, 9, 30, 1)


def test_a_reschedule_into_the_past_shows_why_and_changes_nothing(
    client, actors, booked_lead, rep_a
):
    client.force_login(rep_a.user)
    response = client.post(
        page(booked_lead, "reschedule"),
        {
            "reschedule-starts_at": "2020-01-01T10:00",
            "reschedule-duration_minutes": "45",
            "reschedule-location": "Online",
        },
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert shown == ["The appointment must be in the future."]
    after = appointment_of(actors, booked_lead)
    assert (after.sequence, after.location) == (0, "Buyer Inc, Room 4")


def test_a_cancel_without_a_reason_is_refused(client, actors, booked_lead):
    client.force_login(actors.teammate.user)
    response = client.post(page(booked_lead, "cancel"), {"cancel-reason": ""}, follow=True)
    assert "Not cancelled" in str(list(response.context["messages"])[0])
    assert appointment_of(actors, booked_lead).cancelled_at is None


def test_the_inquiry_page_shows_the_appointment_panel_with_its_messages(
    client, actors, booked_lead
):
    client.force_login(actors.teammate.user)
    content = client.get(f"/inquiries/{booked_lead.inquiry_id}/").content.decode()
    panel = content.split('data-testid="appointment-actions"')[1].split("</section>")[0]
    assert "Upcoming" in panel
    assert "Reminder → pat@buyer.test" in panel
    assert f'action="/leads/{booked_lead.pk}/appointment/cancel/"' in panel
    assert "appointment/held/" not in panel  # not before the meeting


def test_the_panel_offers_held_and_no_show_once_the_meeting_started(client, actors, booked_lead):
    start_meeting(booked_lead)
    client.force_login(actors.teammate.user)
    content = client.get(f"/inquiries/{booked_lead.inquiry_id}/").content.decode()
    assert f"/leads/{booked_lead.pk}/appointment/no-show/" in content
    assert "held or no-show?" in content


def test_a_cancelled_meeting_offers_no_actions(client, actors, booked_lead):
    client.force_login(actors.teammate.user)
    client.post(page(booked_lead, "cancel"), {"cancel-reason": "buyer ill"})
    content = client.get(f"/inquiries/{booked_lead.inquiry_id}/").content.decode()
    panel = content.split('data-testid="appointment-actions"')[1].split("</section>")[0]
    assert "Cancelled" in panel and "buyer ill" in panel
    assert "<form" not in panel


def test_the_panel_takes_a_fixed_number_of_queries_whatever_the_messages(
    client, actors, booked_lead, rep_a, django_assert_max_num_queries
):
    client.force_login(actors.teammate.user)
    path = f"/inquiries/{booked_lead.inquiry_id}/"
    appointment = booked_lead.appointment
    with tenant_context(actors.tenant_a):
        reschedule(appointment=appointment, starts_at=future(4), by=rep_a.principal)
    client.get(path)
    with CaptureQueriesContext(connection) as few_messages:
        client.get(path)
    with tenant_context(actors.tenant_a):
        for days in (5, 6, 7):  # three more updates: nine more messages on the panel
            reschedule(appointment=appointment, starts_at=future(days), by=rep_a.principal)
    with django_assert_max_num_queries(len(few_messages.captured_queries)):
        client.get(path)
