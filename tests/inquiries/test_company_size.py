"""Every door takes a company size as spreadsheets write it, and scoring rules on bands hold."""

from __future__ import annotations

import uuid

import pytest

from inquiries.models import Inquiry
from leadflow.tenancy.context import tenant_context
from tests.factories import LeadDefinitionFactory
from tests.inquiries.test_imports import csv_bytes, import_file, person, problems

FORMS = [
    ("1-10", 1),
    ("51-200", 51),
    ("1000+", 1000),
    ("1,000", 1000),
    ("1.000", 1000),
    ("10 000", 10000),
    ("approx 50", 50),
    ("1–10", 1),
    ("200 employees", 200),
]
LOTS = (
    '"lots" is not a company size: give a number of employees (250, 1,000) or a range '
    "(51-200, 1000+)."
)


def sizes(tenant) -> dict[str, int | None]:
    with tenant_context(tenant):
        return dict(Inquiry.objects.values_list("email", "company_size"))


def test_an_import_stores_each_usual_size_as_its_head_count_or_lower_bound(actors, path):
    rows = [person(n, Employees=text) for n, (text, _size) in enumerate(FORMS)]
    job = import_file(actors.owner, csv_bytes(rows))
    assert (job.new_count, job.invalid_count, job.warning_count) == (len(FORMS), 0, 0)
    assert sizes(actors.tenant_a) == {
        f"buyer{n}@company{n}.example": size for n, (_text, size) in enumerate(FORMS)
    }


def test_an_imported_cell_that_is_no_size_is_left_out_with_a_warning(actors, path):
    job = import_file(actors.owner, csv_bytes([person(1, Employees="lots")]))
    assert (job.new_count, job.invalid_count, job.warning_count) == (1, 0, 1)
    assert sizes(actors.tenant_a) == {"buyer1@company1.example": None}
    assert problems(actors.owner, job) == [(2, "Employees", "lots", LOTS, "warning")]


def test_an_imported_band_is_scored_by_the_size_rule(actors, path):
    # The starting definition gives 15 points for a company size of 50–5,000.
    LeadDefinitionFactory(tenant=actors.tenant_a)
    rows = [person(1, Employees="51-200"), person(2, Employees="11-50")]
    import_file(actors.owner, csv_bytes(rows))
    with tenant_context(actors.tenant_a):
        rules = {
            inquiry.email: [line["rule"] for line in inquiry.score_breakdown]
            for inquiry in Inquiry.objects.all()
        }
    assert "Company size 50–5,000" in rules["buyer1@company1.example"]
    assert "Company size 50–5,000" not in rules["buyer2@company2.example"]


@pytest.mark.parametrize(("text", "size"), FORMS)
def test_the_api_takes_each_usual_size(actors, text, size):
    response = actors.teammate.api().post(
        "/api/v1/inquiries/", {"email": "a@b.test", "company_size": text}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["company_size"] == size


def test_the_api_still_takes_a_number(actors):
    response = actors.teammate.api().post(
        "/api/v1/inquiries/", {"email": "a@b.test", "company_size": 250}, format="json"
    )
    assert (response.status_code, response.json()["company_size"]) == (201, 250)


def test_the_api_refuses_what_is_no_size_with_the_imports_message(actors):
    response = actors.teammate.api().post(
        "/api/v1/inquiries/", {"email": "a@b.test", "company_size": "lots"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["company_size"] == [LOTS]
    assert sizes(actors.tenant_a) == {}


def test_a_size_is_corrected_through_the_api_as_a_band(actors):
    api = actors.teammate.api()
    created = api.post("/api/v1/inquiries/", {"email": "a@b.test"}, format="json").json()
    response = api.patch(
        f"/api/v1/inquiries/{created['id']}/", {"company_size": "201-500"}, format="json"
    )
    assert (response.status_code, response.json()["company_size"]) == (200, 201)


def public_post(client, actors, size: str):
    address = {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9"}
    return client.post(
        f"/f/{actors.tenant_a.slug}/",
        {"email": "buyer@plant.test", "timeline": "0-3m", "company_size": size},
        **address,
    )


@pytest.mark.parametrize(("text", "size"), FORMS)
def test_the_public_form_takes_each_usual_size(client, actors, text, size):
    response = public_post(client, actors, text)
    assert b"Thank you" in response.content
    assert sizes(actors.tenant_a) == {"buyer@plant.test": size}


def test_the_public_form_refuses_what_is_no_size_next_to_the_field(client, actors):
    response = public_post(client, actors, "lots")
    assert response.status_code == 400
    assert "is not a company size" in response.content.decode()
    assert sizes(actors.tenant_a) == {}
