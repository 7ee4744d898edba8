"""``/api/v1/inquiries/``: capture through the API, referrals, bad input, tenancy."""

import pytest
from rest_framework.test import APIClient

from inquiries.models import Inquiry
from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from tests.factories import InquiryFactory, LeadDefinitionFactory, PartnerFactory


def count(tenant) -> int:
    with tenant_context(tenant):
        return Inquiry.objects.count()


@pytest.fixture
def partner_api(actors, system_a):
    partner = PartnerFactory(tenant=actors.tenant_a, name="Northwind")
    with tenant_context(actors.tenant_a):
        issued = services.issue_api_key(name="p", partner=partner, by=system_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    return client, partner


def test_new_person_is_201_and_the_same_person_again_is_200_with_the_same_id(actors):
    api = actors.teammate.api()
    first = api.post("/api/v1/inquiries/", {"email": "ann@acme.test"}, format="json")
    second = api.post(
        "/api/v1/inquiries/", {"email": "ANN@acme.test", "title": "CTO"}, format="json"
    )
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["title"] == "CTO"


def test_response_carries_score_breakdown_and_definition_version(actors):
    LeadDefinitionFactory(tenant=actors.tenant_a, version=3)
    body = (
        actors.teammate.api()
        .post("/api/v1/inquiries/", {"email": "b@acme.test", "title": "VP"}, format="json")
        .json()
    )
    assert body["definition_version"] == 3
    assert body["score"] == sum(item["points"] for item in body["score_breakdown"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b.test", "company_size": -5}, "company_size"),
        ({"email": "a@b.test", "timeline": "someday"}, "timeline"),
        ({"email": "a@b.test", "title": "x" * 100_000}, "title"),
        ({"email": "a@b.test", "company": "bad\x00name"}, "company"),
        ({"email": "a@b.test", "custom": {"unknown_field": 1}}, "custom.unknown_field"),
        ({"email": "a@b.test", "favourite_colour": "red"}, "favourite_colour"),
        ({"first_name": "No identity"}, "email"),
        ({"email": "a@b.test", "country": "Germany"}, "country"),
        ({"email": "a@b.test", "country": "XX"}, "country"),
        ({"email": "a@b.test", "country": "UK"}, "country"),
    ],
)
def test_bad_input_is_400_with_field_errors_and_writes_nothing(actors, body, field):
    response = actors.teammate.api().post("/api/v1/inquiries/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert count(actors.tenant_a) == 0


def test_partner_referral_records_the_partner_as_source(actors, partner_api):
    client, partner = partner_api
    response = client.post("/api/v1/inquiries/", {"email": "ref@buyer.test"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["source"], body["partner"]) == ("partner_referral", partner.pk)


def test_partner_cannot_read_the_marketing_inbox(actors, partner_api):
    client, _ = partner_api
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    assert client.get("/api/v1/inquiries/").status_code == 403
    assert client.get(f"/api/v1/inquiries/{inquiry.pk}/").status_code == 403


def test_rep_cannot_read_the_marketing_inbox(actors):
    from tests.conftest import make_actor

    rep = make_actor(actors.tenant_a, "rep")
    assert rep.api().get("/api/v1/inquiries/").status_code == 403


@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("get", "activities/"), ("post", "activities/")]
)
def test_inquiry_of_another_tenant_is_404(actors, method, suffix):
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    response = getattr(actors.outsider.api(), method)(
        f"/api/v1/inquiries/{inquiry.pk}/{suffix}", {"kind": "download"}, format="json"
    )
    assert response.status_code == 404


def test_posting_an_activity_adds_it_to_the_timeline_and_rescores(actors):
    LeadDefinitionFactory(tenant=actors.tenant_a)
    api = actors.teammate.api()
    created = api.post("/api/v1/inquiries/", {"email": "t@acme.test"}, format="json").json()
    response = api.post(
        f"/api/v1/inquiries/{created['id']}/activities/", {"kind": "webinar"}, format="json"
    )
    assert response.status_code == 201
    timeline = api.get(f"/api/v1/inquiries/{created['id']}/activities/").json()["results"]
    assert [a["kind"] for a in timeline][:1] == ["webinar"]
    assert api.get(f"/api/v1/inquiries/{created['id']}/").json()["score"] > created["score"]


def test_unknown_activity_type_is_400(actors):
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    response = actors.teammate.api().post(
        f"/api/v1/inquiries/{inquiry.pk}/activities/", {"kind": "telepathy"}, format="json"
    )
    assert response.status_code == 400
    assert "kind" in response.json()["errors"]


def test_a_retried_capture_with_an_idempotency_key_is_replayed(actors):
    api = actors.teammate.api()
    headers = {"HTTP_IDEMPOTENCY_KEY": "form-123"}
    first = api.post("/api/v1/inquiries/", {"email": "r@acme.test"}, format="json", **headers)
    second = api.post("/api/v1/inquiries/", {"email": "r@acme.test"}, format="json", **headers)
    assert second.status_code == first.status_code == 201
    assert second["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("rows", [1, 12])
def test_inquiry_list_query_count_does_not_grow_with_rows(actors, django_assert_num_queries, rows):
    definition = LeadDefinitionFactory(tenant=actors.tenant_a)
    for _ in range(rows):
        InquiryFactory(tenant=actors.tenant_a, definition=definition)
    api = actors.teammate.api()
    api.get("/api/v1/me/")
    with django_assert_num_queries(4):
        assert api.get("/api/v1/inquiries/").json()["count"] == rows


def test_a_profile_edit_rescores_the_inquiry(actors):
    LeadDefinitionFactory(tenant=actors.tenant_a)
    api = actors.teammate.api()
    created = api.post(
        "/api/v1/inquiries/", {"email": "p@acme.test", "title": "Intern"}, format="json"
    ).json()
    edited = api.patch(
        f"/api/v1/inquiries/{created['id']}/", {"title": "Chief Operating Officer"}, format="json"
    )
    assert edited.status_code == 200
    assert edited.json()["score"] > created["score"]


def test_an_edit_may_not_remove_every_identity(actors):
    inquiry = InquiryFactory(tenant=actors.tenant_a, phone="", external_id="")
    response = actors.teammate.api().patch(
        f"/api/v1/inquiries/{inquiry.pk}/", {"email": ""}, format="json"
    )
    assert response.status_code == 400
    assert "email" in response.json()["errors"]


def test_an_edit_to_another_inquirys_email_is_a_409(actors):
    InquiryFactory(tenant=actors.tenant_a, email="taken@acme.test")
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    response = actors.teammate.api().patch(
        f"/api/v1/inquiries/{inquiry.pk}/", {"email": "taken@acme.test"}, format="json"
    )
    assert response.status_code == 409


def test_editing_an_inquiry_of_another_tenant_is_404(actors):
    inquiry = InquiryFactory(tenant=actors.tenant_a)
    response = actors.outsider.api().patch(
        f"/api/v1/inquiries/{inquiry.pk}/", {"title": "x"}, format="json"
    )
    assert response.status_code == 404


def test_an_unassigned_country_code_is_refused_with_a_clear_message(actors):
    response = actors.teammate.api().post(
        "/api/v1/inquiries/", {"email": "a@b.test", "country": "XX"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["country"] == [
        '"XX" is not a country code. Use a two-letter ISO 3166-1 country code, e.g. DE, US or GB.'
    ]


def test_a_country_code_in_lower_case_is_stored_in_capitals(actors):
    response = actors.teammate.api().post(
        "/api/v1/inquiries/", {"email": "a@b.test", "country": "de"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["country"] == "DE"


def test_editing_the_country_to_an_unassigned_code_is_refused(actors):
    api = actors.teammate.api()
    created = api.post("/api/v1/inquiries/", {"email": "a@b.test", "country": "DE"}, format="json")
    response = api.patch(
        f"/api/v1/inquiries/{created.json()['id']}/", {"country": "ZZ"}, format="json"
    )
    assert response.status_code == 400
    assert "country" in response.json()["errors"]
