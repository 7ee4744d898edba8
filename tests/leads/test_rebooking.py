"""Re-booking: a lead postponed goes back to nurture; when the buyer is ready, a new lead."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from inquiries.models import Activity, Inquiry
from leadflow.lib import stages
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import StageChange
from leads.models import Appointment, Lead
from leads.services.booking import book_appointment
from leads.services.closing import close_lead
from tests.factories import AppointmentFactory, InquiryFactory, LeadFactory


@pytest.fixture
def inquiry(actors):
    return InquiryFactory(tenant=actors.tenant_a, stage="mql", email="pat@buyer.test")


def book(actors, inquiry, days: int = 3) -> Lead:
    with tenant_context(actors.tenant_a):
        return book_appointment(
            inquiry=Inquiry.objects.get(pk=inquiry.pk),
            starts_at=timezone.now() + timedelta(days=days),
            by=actors.teammate.principal,
        )


def stage_of(actors, inquiry) -> str:
    with tenant_context(actors.tenant_a):
        return Inquiry.objects.get(pk=inquiry.pk).stage


@pytest.mark.postgres
def test_a_lead_lost_not_now_goes_to_nurture_and_the_person_is_booked_again_as_a_new_lead(
    actors, inquiry, client
):
    first = book(actors, inquiry)
    assert stage_of(actors, inquiry) == "lead"
    with tenant_context(actors.tenant_a):
        close_lead(
            lead=first,
            stage="lost",
            not_now=True,
            lost_reason="buyer declined",
            by=actors.owner.principal,
        )
    assert stage_of(actors, inquiry) == "nurture"

    second = book(actors, inquiry, days=90)

    assert second.pk != first.pk
    assert stage_of(actors, inquiry) == "lead"
    with tenant_context(actors.tenant_a):
        leads = dict(Lead.objects.filter(inquiry_id=inquiry.pk).values_list("pk", "stage"))
        appointments = Appointment.objects.filter(inquiry_id=inquiry.pk)
        assert leads == {first.pk: "lost", second.pk: "awaiting_acceptance"}
        assert appointments.count() == 2
        assert appointments.filter(closed_at__isnull=True).get().pk == second.appointment_id
        moves = StageChange.objects.filter(machine="inquiry", object_id=inquiry.pk)
        # Booked (lead), lost "not now" (nurture), booked again (lead): each move one row.
        assert list(moves.values_list("from_stage", "to_stage")) == [
            ("mql", "lead"),
            ("lead", "nurture"),
            ("nurture", "lead"),
        ]
        assert (
            Activity.objects.filter(inquiry_id=inquiry.pk, kind="appointment_booked").count() == 2
        )
    # Both leads are on the inquiry page: the open one, and the closed one as history.
    client.force_login(actors.teammate.user)
    content = client.get(f"/inquiries/{inquiry.pk}/").content.decode()
    assert f"Lead #{second.pk}" in content
    assert 'data-testid="closed-leads"' in content
    assert f"Lead #{first.pk}" in content


def test_an_inquiry_with_an_open_lead_is_not_booked_again(actors, inquiry):
    book(actors, inquiry)
    with pytest.raises(RuleViolation) as refused:
        book(actors, inquiry, days=5)
    assert (refused.value.code, refused.value.conflict) == ("already_booked", True)


def test_a_person_whose_lead_was_won_is_not_booked_again_while_still_a_lead(actors, inquiry):
    lead = book(actors, inquiry)
    with tenant_context(actors.tenant_a):
        stages.move(lead, "accepted", by=actors.owner.principal)
        close_lead(lead=lead, stage="won", value="5000", by=actors.owner.principal)
    with pytest.raises(RuleViolation) as refused:
        book(actors, inquiry, days=5)
    assert (refused.value.code, refused.value.conflict) == ("already_a_lead", True)
    with tenant_context(actors.tenant_a):
        assert Lead.objects.filter(inquiry_id=inquiry.pk).count() == 1


def test_the_database_allows_one_open_appointment_per_inquiry(actors, inquiry):
    AppointmentFactory(tenant=actors.tenant_a, inquiry=inquiry)
    with tenant_context(actors.tenant_a), pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(tenant=actors.tenant_a, inquiry=inquiry)


def test_the_database_allows_a_new_appointment_beside_closed_ones(actors, inquiry):
    AppointmentFactory(tenant=actors.tenant_a, inquiry=inquiry, closed_at=timezone.now())
    AppointmentFactory(tenant=actors.tenant_a, inquiry=inquiry, closed_at=timezone.now())
    AppointmentFactory(tenant=actors.tenant_a, inquiry=inquiry)
    with tenant_context(actors.tenant_a):
        assert Appointment.objects.filter(inquiry_id=inquiry.pk).count() == 3


def test_the_database_allows_one_open_lead_per_inquiry(actors, inquiry):
    LeadFactory(tenant=actors.tenant_a, inquiry=inquiry, stage="sql")
    with tenant_context(actors.tenant_a), pytest.raises(IntegrityError), transaction.atomic():
        LeadFactory(tenant=actors.tenant_a, inquiry=inquiry, stage="accepted")


@pytest.mark.parametrize("closed", ["won", "lost", "postponed"])
def test_the_database_allows_a_new_lead_beside_a_closed_one(actors, inquiry, closed):
    LeadFactory(
        tenant=actors.tenant_a,
        inquiry=inquiry,
        stage=closed,
        appointment__closed_at=timezone.now(),
    )
    LeadFactory(tenant=actors.tenant_a, inquiry=inquiry)
    with tenant_context(actors.tenant_a):
        assert Lead.objects.filter(inquiry_id=inquiry.pk).count() == 2


def test_the_api_books_a_person_again_once_their_lead_is_lost_not_now(actors, inquiry):
    first = book(actors, inquiry)
    payload = {"starts_at": (timezone.now() + timedelta(days=30)).isoformat()}
    url = f"/api/v1/inquiries/{inquiry.pk}/appointment/"
    refused = actors.teammate.api().post(url, payload, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "already_booked")
    with tenant_context(actors.tenant_a):
        close_lead(
            lead=first,
            stage="lost",
            not_now=True,
            lost_reason="buyer declined",
            by=actors.owner.principal,
        )
    response = actors.teammate.api().post(url, payload, format="json")
    assert response.status_code == 201
    assert response.json()["id"] != first.pk


def test_the_api_answers_409_for_a_person_whose_lead_was_won(actors, inquiry):
    lead = book(actors, inquiry)
    with tenant_context(actors.tenant_a):
        stages.move(lead, "accepted", by=actors.owner.principal)
        close_lead(lead=lead, stage="won", value="5000", by=actors.owner.principal)
    response = actors.teammate.api().post(
        f"/api/v1/inquiries/{inquiry.pk}/appointment/",
        {"starts_at": (timezone.now() + timedelta(days=30)).isoformat()},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (409, "already_a_lead")
