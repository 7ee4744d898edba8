"""One bad optional cell does not drop the person: the row is imported and the cell reported."""

from __future__ import annotations

import csv
import io

from inquiries.models import Activity, Inquiry
from inquiries.services.custom_fields import define_custom_field
from leadflow.tenancy.context import tenant_context
from tests.inquiries.test_imports import (
    MAPPING,
    csv_bytes,
    dry_run,
    import_file,
    mapped,
    person,
    problems,
    upload,
)

DATE_MESSAGE = "Give a date as YYYY-MM-DD, or a date and time as YYYY-MM-DD HH:MM."


def test_a_bad_activity_date_leaves_the_activity_out_and_imports_the_person(actors, path):
    rows = [person(1, Webinar="2026-03-02"), person(2, Webinar="31/13/2026")]
    job = import_file(actors.owner, csv_bytes(rows))
    assert (job.new_count, job.merged_count, job.invalid_count) == (2, 0, 0)
    assert job.warning_count == 1
    assert problems(actors.owner, job) == [(3, "Webinar", "31/13/2026", DATE_MESSAGE, "warning")]
    with tenant_context(actors.tenant_a):
        second = Inquiry.objects.get(email="buyer2@company2.example")
        assert (second.first_name, second.company, second.company_size) == (
            "Pat",
            "Company 2",
            250,
        )
        assert not Activity.objects.filter(inquiry=second, kind="webinar").exists()
        assert Activity.objects.filter(kind="webinar").count() == 1


def test_an_unparsable_optional_number_is_left_out_with_a_warning(actors, path):
    with tenant_context(actors.tenant_a):
        define_custom_field(key="fleet", label="Fleet", kind="number", by=actors.owner.principal)
    header = ["Email", "Fleet", "Company"]
    mapping = {
        "Email": MAPPING["Email"],
        "Fleet": {"to": "custom", "key": "fleet"},
        "Company": MAPPING["Company"],
    }
    content = csv_bytes([["a@b.example", "many", "Plant"]], header=header)
    job = import_file(actors.owner, content, mapping)
    assert (job.new_count, job.invalid_count, job.warning_count) == (1, 0, 1)
    assert problems(actors.owner, job) == [
        (2, "Fleet", "many", "'many' is not a number.", "warning")
    ]
    with tenant_context(actors.tenant_a):
        assert list(Inquiry.objects.values_list("email", "company", "custom")) == [
            ("a@b.example", "Plant", {})
        ]


def test_a_bad_optional_cell_does_not_clear_what_a_known_person_has(actors, path):
    import_file(actors.owner, csv_bytes([person(1, Country="DE")]))
    job = import_file(actors.owner, csv_bytes([person(1, Country="Atlantis", Company="New Co")]))
    assert (job.merged_count, job.warning_count) == (1, 1)
    with tenant_context(actors.tenant_a):
        inquiry = Inquiry.objects.get()
    assert (inquiry.country, inquiry.company) == ("DE", "New Co")


def test_the_dry_run_counts_the_warnings_apart_from_the_invalid_rows(actors):
    rows = [person(1, Webinar="31/13/2026"), person(2, Email="bad"), person(3)]
    job = dry_run(actors.owner, mapped(actors.owner, upload(actors.owner, csv_bytes(rows))))
    counts = {k: job.dry_run[k] for k in ("new", "merged", "invalid", "warnings")}
    assert counts == {"new": 2, "merged": 0, "invalid": 1, "warnings": 1}
    assert [(e["row"], e["severity"]) for e in job.dry_run["errors"]] == [
        (2, "warning"),
        (3, "error"),
    ]


def test_the_dry_run_shows_the_first_errors_even_behind_many_warnings(actors):
    rows = [person(n, Webinar="31/13/2026") for n in range(25)] + [person(99, Email="bad")]
    job = dry_run(actors.owner, mapped(actors.owner, upload(actors.owner, csv_bytes(rows))))
    shown = [(e["row"], e["severity"]) for e in job.dry_run["errors"]]
    assert len(shown) == 20
    assert shown[-1] == (27, "error")
    assert shown[:19] == [(n, "warning") for n in range(2, 21)]


def test_the_report_csv_lists_the_warning_with_its_row_column_and_reason(actors):
    job = import_file(actors.owner, csv_bytes([person(1, Webinar="31/13/2026")]))
    response = actors.owner.api().get(f"/api/v1/inquiries/imports/{job.pk}/report/")
    report = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert report == [
        ["row", "column", "value", "message", "severity"],
        ["2", "Webinar", "31/13/2026", DATE_MESSAGE, "warning"],
    ]


def test_the_api_shows_the_warnings_count_and_each_warning(actors):
    job = import_file(actors.owner, csv_bytes([person(1, Webinar="31/13/2026"), person(2)]))
    api = actors.owner.api()
    body = api.get(f"/api/v1/inquiries/imports/{job.pk}/").json()
    assert (body["new_count"], body["invalid_count"], body["warning_count"]) == (2, 0, 1)
    assert body["outcome"] == "done"
    errors = api.get(f"/api/v1/inquiries/imports/{job.pk}/errors/").json()["results"]
    assert errors == [
        {
            "row": 2,
            "column": "Webinar",
            "value": "31/13/2026",
            "message": DATE_MESSAGE,
            "severity": "warning",
        }
    ]


def test_the_import_page_shows_the_warnings(client, actors):
    job = import_file(actors.owner, csv_bytes([person(1, Webinar="31/13/2026"), person(2)]))
    client.force_login(actors.teammate.user)
    page = client.get(f"/inquiries/imports/{job.pk}/").content.decode()
    assert "1 cell left out of imported rows (warnings)." in page
    assert (
        '<td class="num">2</td><td>Warning<span class="wide-only">: cell left out</span></td>'
        "<td>Webinar</td>"
    ) in page
