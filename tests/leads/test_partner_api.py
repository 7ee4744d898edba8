"""The partners' API: an offer hides the buyer's contact details until the partner accepts."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.principal import Principal
from leads.selectors.leads import contact_hidden, visible_profile
from leads.services.booking import book_appointment
from tests.conftest import make_actor
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
    lead = LeadFactory(
        tenant=actors.tenant_a, partner=partner, stage="accepted", accepted_at=timezone.now()
    )
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


# --- Visibility: a partner's key sees its partner's leads only ------------------------

ACTIONS = [
    ("get", ""),
    ("post", "accept/"),
    ("post", "reject/"),
    ("post", "qualify/"),
    ("post", "next-step/"),
    ("get", "touches/"),
    ("post", "touches/"),
    ("get", "updates/"),
    ("post", "updates/"),
]
BODIES = {
    "reject/": {"kind": "cannot_serve", "reason": "Too far"},
    "qualify/": {"budget": "50k", "authority": "VP", "need": "tracking", "timeline": "Q3"},
    "touches/": {"kind": "call", "outcome": "reached"},
    "updates/": {"status": "progress", "note": "Called."},
}


def accepted_lead(tenant, partner):
    inquiry = InquiryFactory(
        tenant=tenant, stage="lead", created_at=timezone.now() - timedelta(days=60)
    )
    return LeadFactory(
        tenant=tenant,
        inquiry=inquiry,
        partner=partner,
        stage="accepted",
        assigned_at=timezone.now() - timedelta(days=30),
    )


def statuses(client, lead) -> set[int]:
    return {
        getattr(client, method)(
            f"/api/v1/leads/{lead.pk}/{path}", BODIES.get(path, {}), format="json"
        ).status_code
        for method, path in ACTIONS
    }


def test_another_partners_lead_is_a_404_for_every_action(actors, partner, system_a):
    other = accepted_lead(actors.tenant_a, PartnerFactory(tenant=actors.tenant_a))
    assert statuses(key_for(partner, system_a), other) == {404}


def test_a_lead_of_the_tenants_own_rep_is_a_404_for_every_action(actors, partner, system_a):
    direct = LeadFactory(tenant=actors.tenant_a, stage="accepted")
    assert statuses(key_for(partner, system_a), direct) == {404}


def test_another_tenants_partner_lead_is_a_404_for_every_action(actors, partner, system_a):
    with tenant_context(actors.tenant_b):
        foreign = accepted_lead(actors.tenant_b, PartnerFactory(tenant=actors.tenant_b))
    assert statuses(key_for(partner, system_a), foreign) == {404}


def test_the_list_holds_only_the_partners_own_leads(actors, partner, system_a):
    own = accepted_lead(actors.tenant_a, partner)
    accepted_lead(actors.tenant_a, PartnerFactory(tenant=actors.tenant_a))
    LeadFactory(tenant=actors.tenant_a)
    body = key_for(partner, system_a).get("/api/v1/leads/").json()
    assert [row["id"] for row in body["results"]] == [own.pk]


# --- The partner's moves with its key ---------------------------------------------------


def test_a_partner_key_rejects_an_offer_with_kind_and_reason(actors, partner, system_a):
    lead = offer_to(actors, partner)
    response = key_for(partner, system_a).post(
        f"/api/v1/leads/{lead.pk}/reject/",
        {"kind": "cannot_serve", "reason": "Outside our region"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["reject_kind"], response.json()["reject_reason"]) == (
        "cannot_serve",
        "Outside our region",
    )


def test_a_partner_key_reports_an_update_with_a_touch(actors, partner, system_a):
    lead = accepted_lead(actors.tenant_a, partner)
    response = key_for(partner, system_a).post(
        f"/api/v1/leads/{lead.pk}/updates/",
        {"status": "progress", "touch": {"kind": "email", "outcome": "replied"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["partner"], body["user"], body["touch"]["partner"]) == (
        partner.pk,
        None,
        partner.pk,
    )


def test_a_partner_key_logs_a_touch(actors, partner, system_a):
    lead = accepted_lead(actors.tenant_a, partner)
    response = key_for(partner, system_a).post(
        f"/api/v1/leads/{lead.pk}/touches/", {"kind": "call", "outcome": "no_answer"}, format="json"
    )
    assert (response.status_code, response.json()["partner"]) == (201, partner.pk)


def test_a_partner_cannot_report_on_an_offer_before_accepting_it(actors, partner, system_a):
    lead = offer_to(actors, partner)
    response = key_for(partner, system_a).post(
        f"/api/v1/leads/{lead.pk}/updates/", {"status": "progress", "note": "x"}, format="json"
    )
    assert (response.status_code, list(response.json()["errors"])) == (400, ["stage"])


# --- updated_since -------------------------------------------------------------------


def since(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_updated_since_keeps_leads_with_a_touch_recorded_since(actors, partner, system_a):
    quiet, touched = (
        accepted_lead(actors.tenant_a, partner),
        accepted_lead(actors.tenant_a, partner),
    )
    mark = timezone.now()
    client = key_for(partner, system_a)
    client.post(
        f"/api/v1/leads/{touched.pk}/touches/",
        {"kind": "call", "outcome": "reached", "at": (mark - timedelta(days=3)).isoformat()},
        format="json",
    )
    body = client.get("/api/v1/leads/", {"updated_since": since(mark)}).json()
    assert [row["id"] for row in body["results"]] == [touched.pk]
    assert quiet.pk not in {row["id"] for row in body["results"]}


def test_updated_since_keeps_leads_with_an_update_since(actors, partner, system_a):
    accepted_lead(actors.tenant_a, partner)
    reported = accepted_lead(actors.tenant_a, partner)
    mark = timezone.now()
    client = key_for(partner, system_a)
    client.post(
        f"/api/v1/leads/{reported.pk}/updates/", {"status": "progress", "note": "x"}, format="json"
    )
    body = client.get("/api/v1/leads/", {"updated_since": since(mark)}).json()
    assert [row["id"] for row in body["results"]] == [reported.pk]


def test_updated_since_keeps_leads_accepted_since(actors, partner, system_a):
    old = accepted_lead(actors.tenant_a, partner)
    mark = timezone.now()
    offer = offer_to(actors, partner)
    client = key_for(partner, system_a)
    client.post(f"/api/v1/leads/{offer.pk}/accept/", {}, format="json")
    ids = {
        row["id"]
        for row in client.get("/api/v1/leads/", {"updated_since": since(mark)}).json()["results"]
    }
    assert ids == {offer.pk} and old.pk not in ids


def test_updated_since_reads_an_unescaped_plus_offset(actors, partner, system_a):
    accepted_lead(actors.tenant_a, partner)
    later = (timezone.now() + timedelta(hours=1)).astimezone(timezone.get_fixed_timezone(60))
    client = key_for(partner, system_a)
    raw = later.replace(microsecond=0).isoformat()  # ...+01:00
    response = client.get(f"/api/v1/leads/?updated_since={raw}")  # the + arrives as a space
    assert (response.status_code, response.json()["count"]) == (200, 0)


@pytest.mark.parametrize("value", ["yesterday", "2026-12-01T10:00:00", "2026-13-01T10:00:00Z"])
def test_a_malformed_or_naive_updated_since_is_a_400_naming_it(actors, partner, system_a, value):
    response = key_for(partner, system_a).get("/api/v1/leads/", {"updated_since": value})
    assert (response.status_code, list(response.json()["errors"])) == (400, ["updated_since"])


def test_updated_since_reads_the_list_in_a_bounded_number_of_queries(
    actors, partner, system_a, django_assert_max_num_queries
):
    for _ in range(5):
        accepted_lead(actors.tenant_a, partner)
    client = key_for(partner, system_a)
    mark = since(timezone.now() - timedelta(days=90))
    with django_assert_max_num_queries(8):
        body = client.get("/api/v1/leads/", {"updated_since": mark}).json()
    assert body["count"] == 5


def test_the_filters_combine_with_stage_and_missing(actors, partner, system_a):
    reported, missing = (
        accepted_lead(actors.tenant_a, partner),
        accepted_lead(actors.tenant_a, partner),
    )
    client = key_for(partner, system_a)
    client.post(
        f"/api/v1/leads/{reported.pk}/updates/", {"status": "progress", "note": "x"}, format="json"
    )
    body = client.get("/api/v1/leads/", {"stage": "accepted", "missing": "true"}).json()
    assert [row["id"] for row in body["results"]] == [missing.pk]


# --- Rate limit --------------------------------------------------------------------------


@pytest.mark.redis
def test_a_partner_key_past_its_rate_gets_429_with_retry_after(
    actors, partner, system_a, monkeypatch
):
    from leadflow.tenancy.throttling import CallerRateThrottle

    # The rate is read from settings once, into the class (DRF's SimpleRateThrottle), so the
    # test sets it there; override_settings would not reach it.
    monkeypatch.setattr(CallerRateThrottle, "THROTTLE_RATES", {"caller": "2/min"})
    monkeypatch.setattr(
        CallerRateThrottle, "cache_format", f"throttle_{uuid.uuid4().hex}_%(scope)s_%(ident)s"
    )
    lead = accepted_lead(actors.tenant_a, partner)
    client = key_for(partner, system_a)
    body = {"items": [{"lead": lead.pk, "status": "progress", "note": "x"}]}
    answers = [client.post("/api/v1/leads/sync/", body, format="json") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2]["Retry-After"]) > 0


def test_rejecting_an_offer_as_not_a_lead_never_reveals_the_contact(actors, partner, system_a):
    lead = offer_to(actors, partner)
    client = key_for(partner, system_a)
    answer = client.post(
        f"/api/v1/leads/{lead.pk}/reject/",
        {"kind": "not_a_lead", "reason": "Student project"},
        format="json",
    ).json()
    assert (answer["stage"], answer["contact_hidden"]) == ("rejected", True)
    assert "email" not in answer["profile"]
    later = client.get(f"/api/v1/leads/{lead.pk}/").json()
    assert later["contact_hidden"] is True and "phone" not in later["profile"]


def test_a_partner_users_token_sees_an_offer_without_contact_too(actors, partner):
    seller = make_actor(actors.tenant_a, "rep", partner=partner)
    lead = offer_to(actors, partner)
    body = seller.api().get(f"/api/v1/leads/{lead.pk}/").json()
    assert body["contact_hidden"] is True and "email" not in body["profile"]


def test_a_partner_users_sync_fails_on_another_partners_lead(actors, partner):
    seller = make_actor(actors.tenant_a, "rep", partner=partner)
    other = accepted_lead(actors.tenant_a, PartnerFactory(tenant=actors.tenant_a))
    body = (
        seller.api()
        .post(
            "/api/v1/leads/sync/",
            {"items": [{"lead": other.pk, "status": "progress", "note": "x"}]},
            format="json",
        )
        .json()
    )
    assert body["items"][0]["errors"] == {"lead": ["Not found."]}
