"""Imports and the person's identity: additional emails match, and a row's changes are shown."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from inquiries.models import Activity, Inquiry
from leadflow.tenancy.context import tenant_context
from tests.conftest import make_actor
from tests.factories import InquiryEmailFactory, InquiryFactory
from tests.inquiries.test_imports import (
    csv_bytes,
    dry_run,
    import_file,
    mapped,
    person,
    run,
    upload,
)


def merged_entries(tenant) -> list[dict]:
    with tenant_context(tenant):
        return list(
            Activity.objects.filter(kind="merged").order_by("id").values_list("details", flat=True)
        )


# --- Additional emails match -----------------------------------------------------------


def test_a_row_from_an_additional_email_merges_into_the_person(actors, path):
    dana = InquiryFactory(
        tenant=actors.tenant_a, email="d.okafor@freight.example", first_name="Dana"
    )
    InquiryEmailFactory(tenant=actors.tenant_a, inquiry=dana, email="dana@freight.example")
    rows = [person(1, Email=" DANA@freight.example ", **{"First Name": "Dana"}), person(2)]
    job = import_file(actors.owner, csv_bytes(rows))
    assert (job.new_count, job.merged_count) == (1, 1)
    with tenant_context(actors.tenant_a):
        stored = dict(Inquiry.objects.values_list("email", "pk"))
        dana.refresh_from_db()
    assert stored == {
        "d.okafor@freight.example": dana.pk,
        "buyer2@company2.example": stored["buyer2@company2.example"],
    }
    assert (dana.email, dana.company) == ("d.okafor@freight.example", "Company 1")


def test_the_dry_run_counts_a_row_from_an_additional_email_as_a_merge(actors, path):
    dana = InquiryFactory(tenant=actors.tenant_a, email="d.okafor@freight.example")
    InquiryEmailFactory(tenant=actors.tenant_a, inquiry=dana, email="dana@freight.example")
    content = csv_bytes([person(1, Email="dana@freight.example")])
    job = dry_run(actors.owner, mapped(actors.owner, upload(actors.owner, content)))
    assert (job.dry_run["new"], job.dry_run["merged"]) == (0, 1)


def matching_import(actor, matching: int) -> tuple[int, object]:
    """Import 40 rows of which ``matching`` come from additional emails; (queries, job)."""
    for n in range(40):
        owner = InquiryFactory(tenant=actor.tenant, email=f"now{n}@x.example")
        InquiryEmailFactory(tenant=actor.tenant, inquiry=owner, email=f"then{n}@x.example")
    rows = [person(n, Email=f"then{n}@x.example") for n in range(matching)]
    rows += [person(100 + n) for n in range(40 - matching)]
    job = mapped(actor, upload(actor, csv_bytes(rows)))
    with CaptureQueriesContext(connection) as captured:
        job = run(actor, job)
    return len(captured), job


def test_matching_additional_emails_adds_no_query_per_row(actors, path):
    few, job_a = matching_import(actors.owner, 1)
    many, job_b = matching_import(make_actor(actors.tenant_b, "admin"), 39)
    assert [(j.new_count, j.merged_count) for j in (job_a, job_b)] == [(39, 1), (1, 39)]
    assert few == many


# --- What a row changed is on the timeline ---------------------------------------------


def test_a_repeated_email_with_another_name_shows_the_rename_and_its_row(actors, path):
    rows = [
        person(1, Email="ann@plant.example", **{"First Name": "Ann", "Last Name": "Lee"}),
        person(2),
        person(1, Email="ann@plant.example", **{"First Name": "Anne", "Last Name": "Leigh"}),
    ]
    job = import_file(actors.owner, csv_bytes(rows))
    with tenant_context(actors.tenant_a):
        ann = Inquiry.objects.get(email="ann@plant.example")
    assert (ann.first_name, ann.last_name) == ("Anne", "Leigh")
    [entry] = merged_entries(actors.tenant_a)
    assert entry["changes"] == [
        {"row": 4, "field": "first_name", "label": "first name", "old": "Ann", "new": "Anne"},
        {"row": 4, "field": "last_name", "label": "last name", "old": "Lee", "new": "Leigh"},
    ]
    assert (entry["file"], entry["import_job"]) == ("people.csv", job.pk)


def test_a_row_renaming_a_stored_person_shows_the_change_and_its_row(actors, path):
    InquiryFactory(
        tenant=actors.tenant_a,
        email="ann@plant.example",
        first_name="Ann",
        last_name="Lee",
        company="Company 1",
    )
    rows = [
        person(2),
        person(1, Email="ann@plant.example", **{"First Name": "Anne", "Last Name": "Lee"}),
    ]
    import_file(actors.owner, csv_bytes(rows))
    [entry] = merged_entries(actors.tenant_a)
    assert entry["changes"] == [
        {"row": 3, "field": "first_name", "label": "first name", "old": "Ann", "new": "Anne"}
    ]
    assert "first_name" in entry["updated_fields"]


def test_repeated_rows_that_only_add_values_record_no_change(actors, path):
    rows = [person(1, Phone=""), person(1, Phone="+1 555 010 3000")]
    import_file(actors.owner, csv_bytes(rows))
    assert merged_entries(actors.tenant_a) == []


def test_the_inquiry_page_shows_the_change_with_its_row_and_file(client, actors):
    rows = [
        person(1, Email="ann@plant.example", **{"First Name": "Ann"}),
        person(1, Email="ann@plant.example", **{"First Name": "Anne"}),
    ]
    job = import_file(actors.owner, csv_bytes(rows))
    with tenant_context(actors.tenant_a):
        ann = Inquiry.objects.get(email="ann@plant.example")
    client.force_login(actors.teammate.user)
    content = client.get(f"/inquiries/{ann.pk}/").content.decode()
    changes = content.split('data-testid="value-changes"', 1)[1].split("</ul>", 1)[0]
    assert "First name: “Ann” → “Anne”" in changes
    assert f"row 3 of people.csv, import #{job.pk}" in changes
