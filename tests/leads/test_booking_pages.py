"""The booking pages on the inquiry page, through the Django test client."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from inquiries.models import Inquiry
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Appointment, Lead
from tests.conftest import captured_inquiry, make_actor
from tests.factories import LeadDefinitionFactory, LeadFactory, PartnerFactory


@pytest.fixture
def marketer_client(client, actors):
    client.force_login(actors.teammate.user)
    return client


@pytest.fixture
def active(actors):
    return LeadDefinitionFactory(tenant=actors.tenant_a, version=1, name="Agreed in March")


@pytest.fixture
def inquiry(actors, active, system_a):
    """A captured inquiry of tenant A: scored by the active version, with a custom field."""
    return captured_inquiry(actors.tenant_a, system_a)


def client_for(client, actor):
    client.force_login(actor.user)
    return client


def local_input(moment: datetime, tz: str) -> str:
    """What a datetime-local input sends for ``moment`` shown in the time zone ``tz``."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


ROWS = [
    ("get", "/inquiries/{inquiry}/appointment.ics"),
    ("post", "/inquiries/{inquiry}/appointment/"),
]


@pytest.mark.parametrize(("method", "path"), ROWS)
def test_booking_pages_of_another_tenants_inquiry_are_404(client, actors, inquiry, method, path):
    response = getattr(client_for(client, actors.outsider), method)(
        path.format(inquiry=inquiry.pk), {"starts_at": "2031-01-15T10:30"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "path"), ROWS)
@pytest.mark.parametrize("who", ["rep", "partner"])
def test_reps_and_partner_users_may_not_book(client, actors, inquiry, method, path, who):
    if who == "rep":
        actor = make_actor(actors.tenant_a, Role.REP)
    else:
        partner = PartnerFactory(tenant=actors.tenant_a)
        actor = make_actor(actors.tenant_a, Role.REP, partner=partner)
    response = getattr(client_for(client, actor), method)(path.format(inquiry=inquiry.pk))
    assert response.status_code == 403


def test_inquiry_detail_lists_only_the_tenants_own_reps(marketer_client, actors, inquiry, rep_a):
    partner = PartnerFactory(tenant=actors.tenant_a)
    partner_rep = make_actor(actors.tenant_a, Role.REP, partner=partner)
    foreign_rep = make_actor(actors.tenant_b, Role.REP)
    content = marketer_client.get(f"/inquiries/{inquiry.pk}/").content.decode()
    assert "Riley Rep" in content
    assert actors.owner.user.email in content  # admins may take appointments too
    rep_choices = content.split('name="rep"')[1].split("</select>")[0]
    assert actors.teammate.user.email not in rep_choices  # a marketer
    assert partner_rep.user.email not in content
    assert foreign_rep.user.email not in content


def test_booking_through_the_form_creates_the_lead_in_the_tenants_time_zone(
    marketer_client, actors, inquiry, rep_a
):
    actors.tenant_a.timezone = "Europe/Berlin"
    actors.tenant_a.save()
    response = marketer_client.post(
        f"/inquiries/{inquiry.pk}/appointment/",
        {
            "starts_at": "2031-01-15T10:30",
            "duration_minutes": "45",
            "rep": rep_a.user.pk,
            "location": "Video call",
            "notes": "Bring the fleet numbers",
        },
        follow=True,
    )
    assert response.redirect_chain == [(f"/inquiries/{inquiry.pk}/", 302)]
    content = response.content.decode()
    assert "Appointment booked for 15 Jan 2031 10:30 CET" in content
    assert "Handed to sales" in content
    with tenant_context(actors.tenant_a):
        appointment = Appointment.objects.get(inquiry=inquiry)
        lead = Lead.objects.get(inquiry=inquiry)
        assert Inquiry.objects.get(pk=inquiry.pk).stage == "lead"
        # The meeting's rep is its lead's, read through the lead.
        assert appointment.rep == rep_a.user
    assert appointment.starts_at == datetime(2031, 1, 15, 9, 30, tzinfo=UTC)
    assert appointment.duration_minutes == 45
    assert appointment.booked_by == actors.teammate.user
    assert lead.rep == rep_a.user
    assert "Book appointment" not in content


def test_the_booking_form_labels_internal_notes_and_the_message_to_the_buyer(
    marketer_client, inquiry
):
    content = marketer_client.get(f"/inquiries/{inquiry.pk}/").content.decode()
    assert "Internal notes — never sent to the buyer" in content
    assert "Message to the buyer" in content


def test_booking_through_the_form_keeps_notes_and_message_apart(marketer_client, actors, inquiry):
    marketer_client.post(
        f"/inquiries/{inquiry.pk}/appointment/",
        {
            "starts_at": "2031-01-15T10:30",
            "duration_minutes": "30",
            "notes": "Decision-maker confirmed",
            "message_to_buyer": "See you then",
        },
    )
    with tenant_context(actors.tenant_a):
        appointment = Appointment.objects.get(inquiry=inquiry)
    assert (appointment.notes, appointment.message_to_buyer) == (
        "Decision-maker confirmed",
        "See you then",
    )


def test_a_booking_in_the_past_shows_the_message_and_writes_nothing(
    marketer_client, actors, inquiry
):
    stage = inquiry.stage
    yesterday = local_input(timezone.now() - timedelta(days=1), actors.tenant_a.timezone)
    response = marketer_client.post(
        f"/inquiries/{inquiry.pk}/appointment/",
        {"starts_at": yesterday, "duration_minutes": "30"},
    )
    assert response.status_code == 400
    assert "The appointment must be in the future." in response.content.decode()
    assert f'value="{yesterday}"' in response.content.decode()  # what was typed stays
    with tenant_context(actors.tenant_a):
        assert not Appointment.objects.exists()
        assert not Lead.objects.exists()
        assert Inquiry.objects.get(pk=inquiry.pk).stage == stage


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"starts_at": "", "duration_minutes": "30"}, "This field is required."),
        ({"starts_at": "next tuesday", "duration_minutes": "30"}, "Enter a valid date/time."),
        ({"starts_at": "2031-01-15T10:30", "duration_minutes": "1"}, "greater than or equal to 5"),
        ({"starts_at": "2031-01-15T10:30", "rep": "999999"}, "Select a valid choice."),
    ],
)
def test_a_bad_booking_form_is_refused_with_field_errors(
    marketer_client, actors, inquiry, data, message
):
    data.setdefault("duration_minutes", "30")
    response = marketer_client.post(f"/inquiries/{inquiry.pk}/appointment/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    with tenant_context(actors.tenant_a):
        assert not Appointment.objects.exists()


def test_a_rep_of_another_tenant_cannot_be_chosen(marketer_client, actors, inquiry):
    foreign_rep = make_actor(actors.tenant_b, Role.REP)
    response = marketer_client.post(
        f"/inquiries/{inquiry.pk}/appointment/",
        {"starts_at": "2031-01-15T10:30", "duration_minutes": "30", "rep": foreign_rep.user.pk},
    )
    assert response.status_code == 400
    with tenant_context(actors.tenant_a):
        assert not Appointment.objects.exists()


def test_a_second_booking_is_refused_as_a_conflict(marketer_client, actors, inquiry):
    LeadFactory(tenant=actors.tenant_a, inquiry=inquiry)
    response = marketer_client.post(
        f"/inquiries/{inquiry.pk}/appointment/",
        {"starts_at": "2031-01-15T10:30", "duration_minutes": "30"},
    )
    assert response.status_code == 409
    assert "already booked" in response.content.decode()
    with tenant_context(actors.tenant_a):
        assert Lead.objects.count() == 1


def test_a_lead_shows_its_appointment_instead_of_the_form(marketer_client, actors, inquiry):
    lead = LeadFactory(tenant=actors.tenant_a, inquiry=inquiry)
    content = marketer_client.get(f"/inquiries/{inquiry.pk}/").content.decode()
    assert f"Lead #{lead.pk}" in content
    assert "Book appointment" not in content


def test_a_person_whose_lead_was_won_shows_the_lead_closed_and_no_form(
    marketer_client, actors, inquiry
):
    lead = LeadFactory(
        tenant=actors.tenant_a, inquiry=inquiry, stage="won", appointment__closed_at=timezone.now()
    )
    with tenant_context(actors.tenant_a):
        Inquiry.objects.filter(pk=inquiry.pk).update(stage="lead", outcome="won")
    content = marketer_client.get(f"/inquiries/{inquiry.pk}/").content.decode()
    assert 'data-testid="lead-closed"' in content
    assert 'data-testid="closed-leads"' in content and f"Lead #{lead.pk}" in content
    assert "Book appointment" not in content


def test_a_person_back_in_nurture_shows_the_earlier_lead_and_the_form_again(
    marketer_client, actors, inquiry
):
    lead = LeadFactory(
        tenant=actors.tenant_a,
        inquiry=inquiry,
        stage="postponed",
        appointment__closed_at=timezone.now(),
    )
    with tenant_context(actors.tenant_a):
        Inquiry.objects.filter(pk=inquiry.pk).update(stage="nurture")
    content = marketer_client.get(f"/inquiries/{inquiry.pk}/").content.decode()
    assert f"Lead #{lead.pk}" in content and "Postponed" in content
    assert "Book a new appointment" in content
    assert 'data-testid="lead-card"' not in content
