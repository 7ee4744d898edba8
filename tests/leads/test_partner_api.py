"""The partners' API: an offer hides the buyer's contact details until the partner accepts."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.principal import Principal
from leads.selectors.leads import contact_hidden, visible_profile
from leads.services.booking import book_appointment
from tests.factories import InquiryFactory, LeadFactory, PartnerFactory

CONTACT = ("first_name", "last_name", "email", "phone")


@pytest.fixture
def partner(actors):
    return PartnerFactory(tenant=actors.tenant_a, name="Northwind")


def key_for(partner, system_a) -> APIClient:
    with tenant_context(partner.tenant_id):
        issued = services.issue_api_key(name="integration", partner=partner, by=system_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    return client


def partner_principal(partner) -> Principal:
    return Principal(tenant=partner.tenant, role=None, via="api_key", partner=partner)


def offer_to(actors, partner):
    """A lead booked for ``partner`` (awaiting its acceptance), buyer Pat Buyer of Buyer Inc."""
    inquiry = InquiryFactory(
        tenant=actors.tenant_a,
        stage="mql",
        partner=partner,
        first_name="Pat",
        last_name="Buyer",
        email="pat@buyer.test",
        phone="+49 30 1234567",
        company="Buyer Inc",
        industry="Logistics",
        interest="Fleet tracking",
    )
    with tenant_context(actors.tenant_a):
        return book_appointment(
            inquiry=inquiry,
            starts_at=timezone.now() + timedelta(days=3),
            rep=None,
            by=actors.teammate.principal,
        )


def test_contact_is_hidden_from_a_partner_on_an_offer(actors, partner):
    lead = LeadFactory(tenant=actors.tenant_a, partner=partner, stage="awaiting_acceptance")
    assert contact_hidden(lead, partner_principal(partner)) is True


def test_contact_is_shown_to_a_partner_once_accepted(actors, partner):
    lead = LeadFactory(tenant=actors.tenant_a, partner=partner, stage="accepted")
    assert contact_hidden(lead, partner_principal(partner)) is False


def test_contact_is_never_hidden_from_the_tenants_members(actors, partner):
    lead = LeadFactory(tenant=actors.tenant_a, partner=partner, stage="awaiting_acceptance")
    assert contact_hidden(lead, actors.owner.principal) is False


def test_visible_profile_drops_contact_fields_and_keeps_the_company(actors, partner):
    lead = LeadFactory(
        tenant=actors.tenant_a,
        partner=partner,
        profile={
            "first_name": "Pat",
            "last_name": "Buyer",
            "email": "pat@buyer.test",
            "phone": "+1",
            "additional_emails": ["p@home.test"],
            "company": "Buyer Inc",
            "interest": "Fleet tracking",
            "industry": "Logistics",
            "country": "DE",
            "company_size": "51-200",
            "activities": [{"kind": "webinar", "occurred_at": "2026-12-01", "email": "x@y.z"}],
        },
    )
    profile = visible_profile(lead, partner_principal(partner))
    assert not set(profile) & {*CONTACT, "additional_emails"}
    assert profile["company"] == "Buyer Inc" and profile["interest"] == "Fleet tracking"
    assert (profile["industry"], profile["country"], profile["company_size"]) == (
        "Logistics",
        "DE",
        "51-200",
    )
    assert profile["activities"] == [{"kind": "webinar", "occurred_at": "2026-12-01"}]
    assert lead.profile["email"] == "pat@buyer.test"  # the lead itself is unchanged


def test_an_offered_lead_hides_contact_details_from_the_partners_key(actors, partner, system_a):
    lead = offer_to(actors, partner)
    body = key_for(partner, system_a).get(f"/api/v1/leads/{lead.pk}/").json()
    assert body["contact_hidden"] is True
    assert not set(body["profile"]) & set(CONTACT)
    assert body["profile"]["company"] == "Buyer Inc"
    assert body["profile"]["interest"] == "Fleet tracking"
    assert body["score_breakdown"] == lead.score_breakdown
    assert body["appointment"]["starts_at"] is not None


def test_the_list_hides_contact_details_of_offers_too(actors, partner, system_a):
    offer_to(actors, partner)
    row = key_for(partner, system_a).get("/api/v1/leads/").json()["results"][0]
    assert row["contact_hidden"] is True and "email" not in row["profile"]


def test_accepting_reveals_the_contact_details(actors, partner, system_a):
    lead = offer_to(actors, partner)
    client = key_for(partner, system_a)
    accepted = client.post(f"/api/v1/leads/{lead.pk}/accept/", {}, format="json").json()
    assert accepted["contact_hidden"] is False
    body = client.get(f"/api/v1/leads/{lead.pk}/").json()
    assert body["contact_hidden"] is False
    assert (body["profile"]["first_name"], body["profile"]["email"]) == ("Pat", "pat@buyer.test")
    assert body["profile"]["phone"] == "+49 30 1234567"


def test_a_manager_sees_the_contact_details_of_a_partners_offer(actors, partner):
    lead = offer_to(actors, partner)
    body = actors.owner.api().get(f"/api/v1/leads/{lead.pk}/").json()
    assert body["contact_hidden"] is False and body["profile"]["email"] == "pat@buyer.test"
