"""A person's additional emails: kept by a merge, shown, searched, and matched by every door."""

import uuid

import pytest
from rest_framework.test import APIClient

from inquiries.models import Activity, Inquiry, InquiryEmail
from inquiries.services.capture import update_profile
from inquiries.services.merging import merge_inquiries
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from tests.factories import InquiryEmailFactory, InquiryFactory, PartnerFactory
from tests.inquiries.test_merging import person


def run_merge(actors, survivor, *others):
    with tenant_context(actors.tenant_a):
        return merge_inquiries(survivor=survivor, others=list(others), by=actors.teammate.principal)


def additional(tenant, inquiry) -> list[str]:
    with tenant_context(tenant):
        return sorted(InquiryEmail.objects.filter(inquiry=inquiry).values_list("email", flat=True))


def everyone(tenant) -> list[tuple[int, str]]:
    with tenant_context(tenant):
        return list(Inquiry.objects.order_by("pk").values_list("pk", "email"))


@pytest.fixture
def pair(actors):
    """Dana twice: an older inquiry and a newer one with another address."""
    older = person(actors.tenant_a, days=30, first_name="Dana", email="dana@freight.example")
    newer = person(actors.tenant_a, days=1, first_name="Dana", email="d.okafor@freight.example")
    return older, newer


@pytest.fixture
def known(actors):
    """Dana, known by a primary email and an additional one kept by an earlier merge."""
    dana = InquiryFactory(
        tenant=actors.tenant_a, first_name="Dee", email="d.okafor@freight.example"
    )
    InquiryEmailFactory(tenant=actors.tenant_a, inquiry=dana, email="dana@freight.example")
    return dana


# --- The merge keeps them -------------------------------------------------------------


def test_a_merge_keeps_the_other_email_as_an_additional_email(actors, pair):
    older, newer = pair
    survivor = run_merge(actors, older, newer)
    assert survivor.email == "d.okafor@freight.example"
    assert additional(actors.tenant_a, survivor) == ["dana@freight.example"]


def test_a_merge_carries_the_additional_emails_of_every_inquiry(actors, pair):
    older, newer = pair
    InquiryEmailFactory(tenant=actors.tenant_a, inquiry=newer, email="dana.o@oldjob.example")
    survivor = run_merge(actors, older, newer)
    assert additional(actors.tenant_a, survivor) == [
        "dana.o@oldjob.example",
        "dana@freight.example",
    ]
    with tenant_context(actors.tenant_a):
        merged = Activity.objects.get(inquiry=survivor, kind="merged")
    assert merged.details["kept_emails"] == ["dana.o@oldjob.example", "dana@freight.example"]


def test_the_api_preview_shows_the_emails_the_survivor_keeps(actors, pair):
    older, newer = pair
    api = actors.teammate.api()
    body = api.get(f"/api/v1/inquiries/{older.pk}/merge/", {"others": str(newer.pk)}).json()
    assert body["additional_emails"] == ["dana@freight.example"]
    assert {i["id"]: i["additional_emails"] for i in body["inquiries"]} == {
        older.pk: [],
        newer.pk: [],
    }


def test_the_merge_page_shows_the_emails_the_survivor_keeps(client, actors, pair):
    older, newer = pair
    client.force_login(actors.teammate.user)
    response = client.get(f"/inquiries/merge/?ids={older.pk},{newer.pk}")
    assert response.status_code == 200
    content = response.content.decode()
    kept = content.split('data-testid="kept-emails"', 1)[1].split("</td>", 1)[0]
    assert "dana@freight.example" in kept
    assert "d.okafor@freight.example" not in kept


# --- Shown and searched --------------------------------------------------------------


def test_the_inquiry_page_shows_the_additional_emails(client, actors, known):
    client.force_login(actors.teammate.user)
    response = client.get(f"/inquiries/{known.pk}/")
    content = response.content.decode()
    assert 'data-testid="additional-emails"' in content
    assert "mailto:dana@freight.example" in content


def test_another_tenants_inquiry_page_is_404(client, actors, known):
    client.force_login(actors.outsider.user)
    assert client.get(f"/inquiries/{known.pk}/").status_code == 404


@pytest.mark.parametrize("q", ["dana@freight.example", "DANA@freight.example ", "dana"])
def test_the_inbox_search_finds_the_person_by_an_additional_email(actors, known, q):
    InquiryFactory(tenant=actors.tenant_a, first_name="Pat", email="pat@elsewhere.example")
    body = actors.teammate.api().get("/api/v1/inquiries/", {"q": q}).json()
    assert [row["id"] for row in body["results"]] == [known.pk]


def test_the_inbox_page_search_finds_the_person_by_an_additional_email(client, actors, known):
    client.force_login(actors.teammate.user)
    response = client.get("/inquiries/", {"q": "dana@freight.example"})
    assert f"/inquiries/{known.pk}/" in response.content.decode()


def test_another_tenants_additional_emails_are_not_searched(actors, known):
    body = actors.outsider.api().get("/api/v1/inquiries/", {"q": "dana@freight.example"})
    assert body.json()["results"] == []


# --- Matched by every door -----------------------------------------------------------


def test_an_api_capture_from_an_additional_email_merges_into_the_person(actors, known):
    response = actors.teammate.api().post(
        "/api/v1/inquiries/", {"email": "Dana@Freight.example", "title": "COO"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["email"], body["title"]) == (
        known.pk,
        "d.okafor@freight.example",
        "COO",
    )
    assert additional(actors.tenant_a, known) == ["dana@freight.example"]


def test_the_public_form_from_an_additional_email_merges_into_the_person(client, actors, known):
    address = {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9"}
    form = {"email": "dana@freight.example", "company": "Freight", "timeline": "0-3m"}
    response = client.post(f"/f/{actors.tenant_a.slug}/", form, **address)
    assert b"Thank you" in response.content
    assert everyone(actors.tenant_a) == [(known.pk, "d.okafor@freight.example")]


def test_a_partner_referral_from_an_additional_email_merges_into_the_person(
    actors, known, system_a
):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    with tenant_context(actors.tenant_a):
        issued = services.issue_api_key(name="p", partner=partner, by=system_a)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    response = api.post("/api/v1/inquiries/", {"email": "dana@freight.example"}, format="json")
    assert (response.status_code, response.json()["id"]) == (200, known.pk)
    assert everyone(actors.tenant_a) == [(known.pk, "d.okafor@freight.example")]


def test_another_tenants_additional_email_is_a_new_person_here(actors, known):
    response = actors.outsider.api().post(
        "/api/v1/inquiries/", {"email": "dana@freight.example"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["id"] != known.pk


def test_an_edit_to_another_persons_additional_email_is_refused(actors, known):
    other = InquiryFactory(tenant=actors.tenant_a, email="pat@elsewhere.example")
    with tenant_context(actors.tenant_a), pytest.raises(RuleViolation) as refused:
        update_profile(
            inquiry=other, changes={"email": "dana@freight.example"}, by=actors.owner.principal
        )
    assert (refused.value.code, refused.value.conflict) == ("duplicate", True)


def test_an_edit_to_an_own_additional_email_swaps_it_with_the_primary(actors, known):
    with tenant_context(actors.tenant_a):
        update_profile(
            inquiry=known, changes={"email": "dana@freight.example"}, by=actors.owner.principal
        )
    assert everyone(actors.tenant_a) == [(known.pk, "dana@freight.example")]
    assert additional(actors.tenant_a, known) == ["d.okafor@freight.example"]
