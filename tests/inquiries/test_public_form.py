"""The public, embeddable inquiry form."""

import uuid

import pytest

from inquiries.models import Inquiry
from inquiries.services.custom_fields import define_custom_field
from leadflow.tenancy.context import tenant_context

GOOD = {"email": "buyer@plant.test", "company": "Plant", "timeline": "0-3m", "consent": "on"}


@pytest.fixture
def url(actors):
    return f"/f/{actors.tenant_a.slug}/"


@pytest.fixture
def fresh_address():
    """Each test posts from its own address, so rate limits never leak between tests."""
    return {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"}


def inquiries(tenant) -> list[Inquiry]:
    with tenant_context(tenant):
        return list(Inquiry.objects.all())


def test_form_is_served_and_may_be_framed_by_any_site(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    assert "frame-ancestors *" in response["Content-Security-Policy"]


def test_form_shows_the_tenants_own_qualifiers(client, url, actors, system_a):
    with tenant_context(actors.tenant_a):
        define_custom_field(
            key="fleet", label="Fleet size", kind="number", on_public_form=True, by=system_a
        )
    assert b"Fleet size" in client.get(url).content


def test_submission_records_an_inquiry_with_consent(client, url, actors, fresh_address):
    response = client.post(url, GOOD, **fresh_address)
    assert b"Thank you" in response.content
    [inquiry] = inquiries(actors.tenant_a)
    assert (inquiry.email, inquiry.source, inquiry.consent) == (
        "buyer@plant.test",
        "web_form",
        "opted_in",
    )


def test_honeypot_submission_is_thanked_and_dropped(client, url, actors, fresh_address):
    response = client.post(url, {**GOOD, "website": "http://spam.test"}, **fresh_address)
    assert b"Thank you" in response.content
    assert inquiries(actors.tenant_a) == []


def test_invalid_email_is_shown_and_nothing_written(client, url, actors, fresh_address):
    response = client.post(url, {**GOOD, "email": "nope"}, **fresh_address)
    assert response.status_code == 400
    assert b"valid email" in response.content
    assert inquiries(actors.tenant_a) == []


def test_an_unassigned_country_code_is_shown_and_nothing_written(
    client, url, actors, fresh_address
):
    response = client.post(url, {**GOOD, "country": "XX"}, **fresh_address)
    assert response.status_code == 400
    assert b"is not a country code" in response.content
    assert inquiries(actors.tenant_a) == []


def test_a_country_code_in_lower_case_is_stored_in_capitals(client, url, actors, fresh_address):
    client.post(url, {**GOOD, "country": "gb"}, **fresh_address)
    [inquiry] = inquiries(actors.tenant_a)
    assert inquiry.country == "GB"


@pytest.mark.redis
def test_too_many_submissions_from_one_address_are_refused(client, url, actors, fresh_address):
    for n in range(10):
        client.post(url, {**GOOD, "email": f"b{n}@plant.test"}, **fresh_address)
    response = client.post(url, {**GOOD, "email": "b11@plant.test"}, **fresh_address)
    assert response.status_code == 429
    assert len(inquiries(actors.tenant_a)) == 10


def test_unknown_tenant_is_404(db, client):
    assert client.get("/f/no-such-tenant/").status_code == 404


def test_submission_lands_only_in_its_tenant(client, url, actors, fresh_address):
    client.post(url, GOOD, **fresh_address)
    assert inquiries(actors.tenant_b) == []
