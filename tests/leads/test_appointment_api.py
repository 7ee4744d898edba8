"""``/api/v1/appointments/{id}/``: reschedule, cancel, held, no-show; who may; idempotency."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Lead
from tests.conftest import make_actor
from tests.factories import LeadFactory, PartnerFactory
from tests.leads.conftest import future, start_meeting


def url(lead, action: str = "") -> str:
    return f"/api/v1/appointments/{lead.appointment_id}/" + (f"{action}/" if action else "")


def test_the_owner_reads_the_appointment_with_its_state_and_lead(booked_lead, rep_a):
    body = rep_a.api().get(url(booked_lead)).json()
    assert (body["lead"], body["state"], body["sequence"]) == (booked_lead.pk, "upcoming", 0)


def test_patch_reschedules_and_bumps_the_sequence(booked_lead, rep_a):
    starts = future(days=6)
    response = rep_a.api().patch(
        url(booked_lead), {"starts_at": starts.isoformat(), "duration_minutes": 60}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["sequence"], body["duration_minutes"]) == (1, 60)


def test_patch_into_the_past_is_a_400_naming_starts_at(booked_lead, rep_a):
    response = rep_a.api().patch(
        url(booked_lead), {"starts_at": "2020-01-01T10:00:00+01:00"}, format="json"
    )
    assert response.status_code == 400
    assert "starts_at" in response.json()["errors"]


def test_patch_with_an_unknown_field_is_a_400(booked_lead, rep_a):
    response = rep_a.api().patch(url(booked_lead), {"notes": "x"}, format="json")
    assert response.status_code == 400
    assert "notes" in response.json()["errors"]


def test_cancel_answers_the_cancelled_appointment(booked_lead, rep_a):
    response = rep_a.api().post(url(booked_lead, "cancel"), {"reason": "ill"}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["state"], response.json()["cancel_reason"]) == ("cancelled", "ill")


def test_cancel_without_a_reason_is_a_400(booked_lead, rep_a):
    response = rep_a.api().post(url(booked_lead, "cancel"), {}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]


def test_cancelling_twice_is_a_409(booked_lead, rep_a):
    rep_a.api().post(url(booked_lead, "cancel"), {"reason": "ill"}, format="json")
    response = rep_a.api().post(url(booked_lead, "cancel"), {"reason": "ill"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "cancelled"


def test_held_before_the_meeting_is_a_400(booked_lead, rep_a):
    response = rep_a.api().post(url(booked_lead, "held"))
    assert response.status_code == 400
    assert response.json()["code"] == "not_started"


def test_held_after_the_start_is_recorded(booked_lead, rep_a):
    start_meeting(booked_lead)
    response = rep_a.api().post(url(booked_lead, "held"))
    assert response.status_code == 200
    assert response.json()["state"] == "held"


def test_no_show_closes_the_lead(actors, booked_lead, rep_a):
    start_meeting(booked_lead)
    response = rep_a.api().post(url(booked_lead, "no-show"))
    assert response.status_code == 200
    assert response.json()["state"] == "no_show"
    with tenant_context(actors.tenant_a):
        assert Lead.objects.get(pk=booked_lead.pk).stage == "no_show"


# --- Who may: tenants, reps, partners --------------------------------------------------

CALLS = [
    ("get", "", None),
    ("patch", "", {"location": "Elsewhere"}),
    ("post", "cancel", {"reason": "x"}),
    ("post", "held", None),
    ("post", "no-show", None),
]


@pytest.mark.parametrize(("method", "action", "data"), CALLS)
def test_another_tenants_appointment_is_a_404(actors, booked_lead, method, action, data):
    start_meeting(booked_lead)
    response = getattr(actors.outsider.api(), method)(url(booked_lead, action), data, format="json")
    assert response.status_code == 404
    with tenant_context(actors.tenant_a):
        assert Lead.objects.get(pk=booked_lead.pk).is_open


@pytest.mark.parametrize(("method", "action", "data"), CALLS)
def test_another_reps_appointment_is_a_404(actors, booked_lead, method, action, data):
    start_meeting(booked_lead)
    other_rep = make_actor(actors.tenant_a, Role.REP)
    response = getattr(other_rep.api(), method)(url(booked_lead, action), data, format="json")
    assert response.status_code == 404
    with tenant_context(actors.tenant_a):
        assert Lead.objects.get(pk=booked_lead.pk).is_open


def partner_key(partner, system_a):
    from rest_framework.test import APIClient

    with tenant_context(partner.tenant_id):
        issued = services.issue_api_key(name="integration", partner=partner, by=system_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    return client


def test_a_partner_key_cancels_its_partners_appointment(actors, system_a):
    partner = PartnerFactory(tenant=actors.tenant_a)
    lead = LeadFactory(tenant=actors.tenant_a, partner=partner, appointment__starts_at=future(4))
    response = partner_key(partner, system_a).post(
        url(lead, "cancel"), {"reason": "buyer asked"}, format="json"
    )
    assert response.status_code == 200, response.json()


def test_a_partner_key_gets_404_on_another_partners_appointment(actors, system_a):
    partner = PartnerFactory(tenant=actors.tenant_a)
    other = PartnerFactory(tenant=actors.tenant_a)
    lead = LeadFactory(tenant=actors.tenant_a, partner=other, appointment__starts_at=future(4))
    response = partner_key(partner, system_a).post(
        url(lead, "cancel"), {"reason": "buyer asked"}, format="json"
    )
    assert response.status_code == 404


# --- Idempotency and the schema ---------------------------------------------------------


def test_a_replayed_cancel_answers_the_same_and_cancels_once(actors, booked_lead, rep_a):
    client = rep_a.api()
    first = client.post(
        url(booked_lead, "cancel"), {"reason": "ill"}, format="json", HTTP_IDEMPOTENCY_KEY="c-1"
    )
    again = client.post(
        url(booked_lead, "cancel"), {"reason": "ill"}, format="json", HTTP_IDEMPOTENCY_KEY="c-1"
    )
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    with tenant_context(actors.tenant_a):
        assert OutboxMessage.objects.filter(key__contains=":cancel:2:").count() == 0
        assert OutboxMessage.objects.filter(key__contains=":cancel:1:buyer:").count() == 1


def test_a_replayed_no_show_answers_the_same(booked_lead, rep_a):
    start_meeting(booked_lead)
    client = rep_a.api()
    first = client.post(url(booked_lead, "no-show"), HTTP_IDEMPOTENCY_KEY="n-1")
    again = client.post(url(booked_lead, "no-show"), HTTP_IDEMPOTENCY_KEY="n-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/appointments/{id}/", "patch"),
        ("/api/v1/appointments/{id}/cancel/", "post"),
        ("/api/v1/appointments/{id}/held/", "post"),
        ("/api/v1/appointments/{id}/no-show/", "post"),
    ],
)
def test_the_appointment_operations_are_in_the_schema_with_examples(path, method):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"][path][method]
    assert operation["responses"]["200"]["content"]["application/json"]["examples"]


def test_reading_an_appointment_takes_a_fixed_number_of_queries(
    booked_lead, rep_a, django_assert_max_num_queries
):
    client = rep_a.api()
    client.get(url(booked_lead))  # warm the caches of the first request
    with django_assert_max_num_queries(12):
        assert client.get(url(booked_lead)).status_code == 200
