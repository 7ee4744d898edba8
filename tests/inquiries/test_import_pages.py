"""The CSV import in the browser, through the Django test client: upload to report."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from inquiries.models import CustomField, ImportJob, ImportMapping, Inquiry
from inquiries.services import imports
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.conftest import make_actor
from tests.factories import PartnerFactory

HEADER = ["Email", "First Name", "Company", "Employees", "Fleet", "Webinar"]


@pytest.fixture(autouse=True)
def imports_root(settings, tmp_path):
    settings.IMPORTS_ROOT = tmp_path / "imports"
    return settings.IMPORTS_ROOT


@pytest.fixture
def marketer_client(client, actors):
    client.force_login(actors.teammate.user)
    return client


def csv_file(rows, *, header=HEADER, name="people.csv") -> SimpleUploadedFile:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


def person(n, **overrides) -> list[str]:
    row = {
        "Email": f"buyer{n}@company{n}.example",
        "First Name": "Pat",
        "Company": f"Company {n}",
        "Employees": "250",
        "Fleet": "Select",
        "Webinar": "2026-01-15",
    }
    row.update(overrides)
    return [row[h] for h in HEADER]


def uploaded(actor, rows, **kwargs) -> ImportJob:
    upload = csv_file(rows, **kwargs)
    with tenant_context(actor.tenant):
        return imports.analyse_upload(file=upload, file_name=upload.name, by=actor.principal)


def mapping_data(job, **targets) -> dict[str, str]:
    """The mapping form as the browser posts it: the suggestion, with ``targets`` by header."""
    data = {"placeholders": "Select, N/A, -", "save_as": ""}
    for n, header in enumerate(job.headers):
        spec = job.mapping.get(header, {"to": "ignore"})
        value = {
            "field": f"field:{spec.get('field')}",
            "custom": f"custom:{spec.get('key')}",
            "activity": f"activity:{spec.get('kind')}",
        }.get(spec["to"], spec["to"])
        data[f"c{n}"] = targets.get(header, value)
        data[f"c{n}_kind"] = "text"
    return data


def mapped(actor, job) -> ImportJob:
    with tenant_context(actor.tenant):
        return imports.set_mapping(
            job=job, mapping=job.mapping, placeholders=["Select"], by=actor.principal
        )


def jobs(tenant) -> int:
    with tenant_context(tenant):
        return ImportJob.objects.count()


# --- Upload --------------------------------------------------------------------------


def test_an_upload_leads_to_the_mapping_screen_with_the_columns_and_suggestions(
    marketer_client, actors
):
    response = marketer_client.post(
        "/inquiries/imports/new/", {"file": csv_file([person(1), person(2)])}
    )
    with tenant_context(actors.tenant_a):
        job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/inquiries/imports/{job.pk}/mapping/"

    page = marketer_client.get(response["Location"]).content.decode()
    for header in HEADER:
        assert f"<strong>{header}</strong>" in page
    assert '<option value="field:email" selected>' in page
    assert '<option value="field:company_size" selected>' in page
    assert '<option value="activity:webinar" selected>' in page
    assert "2 rows in 6 columns" in page
    assert "e.g. buyer1@company1.example · buyer2@company2.example" in page


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The submitted file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary"),
        (b"Email,Name\r\n", "The file has a header but no rows."),
    ],
    ids=["empty", "binary", "header-only"],
)
def test_a_bad_upload_shows_the_error_and_writes_nothing(
    marketer_client, actors, imports_root, content, message
):
    upload = SimpleUploadedFile("bad.csv", content, content_type="text/csv")
    response = marketer_client.post("/inquiries/imports/new/", {"file": upload})
    assert response.status_code == 400
    assert 'data-testid="upload-error"' in response.content.decode()
    assert message in response.content.decode()
    assert jobs(actors.tenant_a) == 0
    assert not [p for p in imports_root.rglob("*") if p.is_file()]


def test_a_file_over_the_size_limit_is_refused(marketer_client, actors, settings):
    settings.IMPORT_MAX_BYTES = 100
    upload = csv_file([person(n) for n in range(5)])
    response = marketer_client.post("/inquiries/imports/new/", {"file": upload})
    assert response.status_code == 400
    assert "The file is larger than 100\xa0bytes; split it" in response.content.decode()
    assert jobs(actors.tenant_a) == 0


# --- Mapping -------------------------------------------------------------------------


def test_a_column_can_go_to_a_new_custom_field_created_on_the_spot(marketer_client, actors):
    job = uploaded(actors.teammate, [person(1, Fleet="Large")])
    fleet = job.headers.index("Fleet")
    data = mapping_data(job, Fleet="new")
    data |= {
        f"c{fleet}_label": "Fleet size",
        f"c{fleet}_kind": "choice",
        f"c{fleet}_choices": "Small, Large",
    }
    response = marketer_client.post(f"/inquiries/imports/{job.pk}/mapping/", data)
    assert response.status_code == 302
    # A choice field's values are mapped next, one by one.
    assert response["Location"] == f"/inquiries/imports/{job.pk}/values/"
    with tenant_context(actors.tenant_a):
        field = CustomField.objects.get()
        job.refresh_from_db()
    assert (field.key, field.label, field.kind, field.choices) == (
        "fleet_size",
        "Fleet size",
        "choice",
        ["Small", "Large"],
    )
    assert job.mapping["Fleet"] == {"to": "custom", "key": "fleet_size"}
    assert job.placeholders == ["Select", "N/A", "-"]


def test_a_column_can_name_the_campaign(marketer_client, actors):
    job = uploaded(actors.teammate, [person(1, Fleet="Trade show")])
    page = marketer_client.get(f"/inquiries/imports/{job.pk}/mapping/").content.decode()
    assert '<option value="campaign">Campaign (by name)</option>' in page
    response = marketer_client.post(
        f"/inquiries/imports/{job.pk}/mapping/", mapping_data(job, Fleet="campaign")
    )
    assert response.status_code == 302
    with tenant_context(actors.tenant_a):
        job.refresh_from_db()
    assert job.mapping["Fleet"] == {"to": "campaign"}
    detail = marketer_client.get(f"/inquiries/imports/{job.pk}/").content.decode()
    assert "<td>Campaign</td>" in detail


def test_a_new_custom_field_needs_a_label(marketer_client, actors):
    job = uploaded(actors.teammate, [person(1)])
    response = marketer_client.post(
        f"/inquiries/imports/{job.pk}/mapping/", mapping_data(job, Fleet="new")
    )
    assert response.status_code == 400
    assert "Give the new custom field a label." in response.content.decode()
    with tenant_context(actors.tenant_a):
        assert not CustomField.objects.exists()


def test_a_new_custom_field_may_not_repeat_an_existing_one(marketer_client, actors):
    with tenant_context(actors.tenant_a):
        CustomField.objects.create(
            tenant=actors.tenant_a, key="fleet_size", label="Fleet size", kind="number"
        )
    job = uploaded(actors.teammate, [person(1)])
    data = mapping_data(job, Fleet="new") | {f"c{job.headers.index('Fleet')}_label": "Fleet Size"}
    response = marketer_client.post(f"/inquiries/imports/{job.pk}/mapping/", data)
    assert response.status_code == 400
    assert "A custom field “Fleet size” already exists" in response.content.decode()


def test_a_mapping_the_service_refuses_is_shown_on_the_form_and_nothing_is_saved(
    marketer_client, actors
):
    job = uploaded(actors.teammate, [person(1)])
    suggested = job.mapping
    response = marketer_client.post(
        f"/inquiries/imports/{job.pk}/mapping/", mapping_data(job, Email="ignore")
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Map at least one column to email, phone or external_id." in page
    with tenant_context(actors.tenant_a):
        job.refresh_from_db()
    assert job.mapping == suggested


def test_two_columns_into_one_field_are_marked_on_the_second_column(marketer_client, actors):
    job = uploaded(actors.teammate, [person(1)])
    response = marketer_client.post(
        f"/inquiries/imports/{job.pk}/mapping/", mapping_data(job, Company="field:email")
    )
    page = response.content.decode()
    assert response.status_code == 400
    company_row = page.split("<strong>Company</strong>")[1].split('data-testid="mapping-row"')[0]
    assert "Another column already fills email." in company_row


def test_a_saved_mapping_prefills_the_mapping_screen_of_the_next_file(marketer_client, actors):
    first = uploaded(actors.teammate, [person(1)])
    data = mapping_data(first, Company="ignore", Employees="field:company_size")
    data |= {"save_as": "Trade show scanner", "placeholders": "Select, n/a"}
    assert marketer_client.post(f"/inquiries/imports/{first.pk}/mapping/", data).status_code == 302
    with tenant_context(actors.tenant_a):
        saved = ImportMapping.objects.get(name="Trade show scanner")
    second = uploaded(actors.teammate, [person(2)], name="next.csv")
    assert second.mapping["Company"] == {"to": "field", "field": "company"}

    page = marketer_client.get(
        f"/inquiries/imports/{second.pk}/mapping/?saved={saved.pk}"
    ).content.decode()
    company_row = page.split("<strong>Company</strong>")[1].split('data-testid="mapping-row"')[0]
    assert '<option value="ignore" selected>' in company_row
    assert 'value="Select, n/a"' in page
    assert f'<option value="{saved.pk}" selected>Trade show scanner</option>' in page


def test_the_mapping_of_a_started_import_cannot_change(marketer_client, actors):
    job = mapped(actors.teammate, uploaded(actors.teammate, [person(1)]))
    with tenant_context(actors.tenant_a):
        imports.start_import(job=job, by=actors.teammate.principal)
    response = marketer_client.get(f"/inquiries/imports/{job.pk}/mapping/", follow=True)
    assert response.redirect_chain == [(f"/inquiries/imports/{job.pk}/", 302)]
    assert "its mapping can no longer change" in response.content.decode()


# --- Dry run, start, progress, cancel ------------------------------------------------


def dry_run_partial(client, job) -> str:
    return client.get(
        f"/inquiries/imports/{job.pk}/dry-run/progress/", headers={"HX-Request": "true"}
    ).content.decode()


def test_the_dry_run_button_queues_it_and_the_page_polls_its_progress(marketer_client, actors):
    job = mapped(actors.teammate, uploaded(actors.teammate, [person(1), person(2)]))
    response = marketer_client.post(f"/inquiries/imports/{job.pk}/dry-run/", follow=True)
    page = response.content.decode()
    assert "Dry run queued: checking 2 rows. Nothing is written." in page
    assert f'hx-get="/inquiries/imports/{job.pk}/dry-run/progress/"' in page
    assert "Dry run queued, waiting for a worker… 0 of 2 rows" in page
    assert "Run a dry run" not in page
    assert "Start import" not in page


def test_the_dry_run_shows_new_merged_and_invalid_counts_and_the_first_errors(
    marketer_client, actors
):
    rows = [person(1), person(2), person(1, Company="Renamed"), person(3, Email="lots")]
    job = mapped(actors.teammate, uploaded(actors.teammate, rows))
    marketer_client.post(f"/inquiries/imports/{job.pk}/dry-run/")
    with tenant_context(actors.tenant_a):
        imports.run_dry_run(job=job)
    partial = dry_run_partial(marketer_client, job)
    assert 'data-state="done"' in partial
    assert "hx-trigger" not in partial
    assert '<strong data-testid="dry-run-new">2</strong>' in partial
    assert '<strong data-testid="dry-run-merged">1</strong>' in partial
    assert '<strong data-testid="dry-run-invalid">1</strong>' in partial
    assert "Enter a valid email address." in partial
    assert "Import 3 valid rows, skip 1" in partial
    assert "Run the dry run again" in partial
    with tenant_context(actors.tenant_a):
        assert not Inquiry.objects.exists()


def test_the_dry_run_shows_how_many_rows_it_has_checked_while_it_runs(marketer_client, actors):
    job = mapped(actors.teammate, uploaded(actors.teammate, [person(n) for n in range(5)]))
    marketer_client.post(f"/inquiries/imports/{job.pk}/dry-run/")
    with tenant_context(actors.tenant_a):
        imports.run_dry_run(job=job, chunk_size=2, stop_after_chunks=1)
    partial = dry_run_partial(marketer_client, job)
    assert 'data-state="running"' in partial
    assert 'hx-trigger="every 1s"' in partial
    assert "Checking rows… 2 of 5" in partial
    assert '<progress value="2" max="5"' in partial
    assert "Start import" not in partial
    page = marketer_client.get(f"/inquiries/imports/{job.pk}/").content.decode()
    assert "Checking rows… 2 of 5" in page


def test_asking_for_a_second_dry_run_while_one_is_queued_says_so(marketer_client, actors):
    job = mapped(actors.teammate, uploaded(actors.teammate, [person(1)]))
    marketer_client.post(f"/inquiries/imports/{job.pk}/dry-run/")
    response = marketer_client.post(f"/inquiries/imports/{job.pk}/dry-run/", follow=True)
    assert "A dry run of this file is already under way." in response.content.decode()


def test_a_failed_dry_run_says_why_and_may_be_run_again(marketer_client, actors):
    job = mapped(actors.teammate, uploaded(actors.teammate, [person(1)]))
    marketer_client.post(f"/inquiries/imports/{job.pk}/dry-run/")
    imports.stored_file(job).unlink()
    with tenant_context(actors.tenant_a):
        imports.run_dry_run(job=job)
    partial = dry_run_partial(marketer_client, job)
    assert "The dry run failed" in partial
    assert "No such file" in partial
    assert "hx-trigger" not in partial
    assert "Run the dry run again" in partial
    assert "Start import" not in partial


def test_a_dry_run_whose_worker_stopped_answering_may_be_run_again(marketer_client, actors):
    job = mapped(actors.teammate, uploaded(actors.teammate, [person(n) for n in range(3)]))
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        marketer_client.post(f"/inquiries/imports/{job.pk}/dry-run/")
        with tenant_context(actors.tenant_a):
            imports.run_dry_run(job=job, chunk_size=1, stop_after_chunks=1)
    with time_machine.travel(start + timedelta(minutes=3), tick=False):
        partial = dry_run_partial(marketer_client, job)
        assert "The dry run stopped</strong> after 1 of 3 rows" in partial
        assert "hx-trigger" not in partial
        response = marketer_client.post(f"/inquiries/imports/{job.pk}/dry-run/", follow=True)
    assert "Dry run queued: checking 3 rows." in response.content.decode()


def test_the_start_button_appears_only_after_a_dry_run(marketer_client, actors):
    job = mapped(actors.teammate, uploaded(actors.teammate, [person(1)]))
    page = marketer_client.get(f"/inquiries/imports/{job.pk}/").content.decode()
    assert "Run a dry run" in page
    assert "Start import" not in page


def test_starting_queues_the_job_and_the_progress_partial_shows_the_percent(
    marketer_client, actors
):
    job = mapped(actors.teammate, uploaded(actors.teammate, [person(n) for n in range(4)]))
    response = marketer_client.post(f"/inquiries/imports/{job.pk}/start/", follow=True)
    assert "Importing 4 rows in the background." in response.content.decode()
    partial = marketer_client.get(f"/inquiries/imports/{job.pk}/progress/").content.decode()
    assert 'data-status="queued"' in partial
    assert 'hx-trigger="every 1s"' in partial

    with tenant_context(actors.tenant_a):
        imports.run_import_job(job=job, chunk_size=1, stop_after_chunks=1)
    partial = marketer_client.get(
        f"/inquiries/imports/{job.pk}/progress/", headers={"HX-Request": "true"}
    ).content.decode()
    assert '<span data-testid="import-percent">25%</span>' in partial
    assert "1 of 4 rows" in partial
    assert '<progress value="1" max="4"' in partial
    assert "Cancel import" in partial


def test_the_progress_partial_shows_the_rate_and_the_time_left(marketer_client, actors):
    job = mapped(actors.teammate, uploaded(actors.teammate, [person(n) for n in range(200)]))
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    with tenant_context(actors.tenant_a), time_machine.travel(start, tick=False):
        imports.start_import(job=job, by=actors.teammate.principal)
        imports.run_import_job(job=job, chunk_size=50, stop_after_chunks=1)
    # The worker was gone for 3 minutes; another run resumes the job.
    later = start + timedelta(minutes=3)
    with tenant_context(actors.tenant_a), time_machine.travel(later, tick=False):
        imports.run_import_job(job=job, chunk_size=50, stop_after_chunks=1)
    partial = marketer_client.get(f"/inquiries/imports/{job.pk}/progress/").content.decode()
    assert "100 of 200 rows" in partial
    assert "0.6 rows/s · about 3 min 0 s left" in partial


def test_a_finished_import_stops_polling(marketer_client, actors):
    job = mapped(actors.teammate, uploaded(actors.teammate, [person(1), person(2)]))
    with tenant_context(actors.tenant_a):
        imports.start_import(job=job, by=actors.teammate.principal)
        imports.run_import_job(job=job)
    partial = marketer_client.get(
        f"/inquiries/imports/{job.pk}/progress/", headers={"HX-Request": "true"}
    ).content.decode()
    assert 'data-status="done"' in partial
    assert "hx-trigger" not in partial
    assert "2 rows read = 2 new + 0 merged + 0 skipped (invalid)" in partial
    assert "See the per-row report" in partial


def test_cancelling_a_queued_import_stops_it(marketer_client, actors):
    job = mapped(actors.teammate, uploaded(actors.teammate, [person(1)]))
    with tenant_context(actors.tenant_a):
        imports.start_import(job=job, by=actors.teammate.principal)
    response = marketer_client.post(f"/inquiries/imports/{job.pk}/cancel/", follow=True)
    assert "Import cancelled after 0 rows." in response.content.decode()
    with tenant_context(actors.tenant_a):
        job.refresh_from_db()
    assert job.status == "cancelled"


def test_cancelling_a_finished_import_is_refused_with_a_message(marketer_client, actors):
    job = mapped(actors.teammate, uploaded(actors.teammate, [person(1)]))
    with tenant_context(actors.tenant_a):
        imports.start_import(job=job, by=actors.teammate.principal)
        imports.run_import_job(job=job)
    response = marketer_client.post(f"/inquiries/imports/{job.pk}/cancel/", follow=True)
    assert "This import is already done." in response.content.decode()


# --- The report ----------------------------------------------------------------------


@pytest.fixture
def finished_with_errors(actors):
    rows = [
        person(1),
        person(2, Email="=HYPERLINK(1)"),
        person(3, Webinar="@SUM(A1)"),
        person(4),
    ]
    job = mapped(actors.teammate, uploaded(actors.teammate, rows, name="Spring fair.csv"))
    with tenant_context(actors.tenant_a):
        imports.start_import(job=job, by=actors.teammate.principal)
        return imports.run_import_job(job=job)


def test_the_report_lists_each_bad_row_where_it_happened(marketer_client, finished_with_errors):
    page = marketer_client.get(f"/inquiries/imports/{finished_with_errors.pk}/").content.decode()
    report = page.split('data-testid="report-table"')[1]
    assert (
        '<td class="num">3</td><td>Error<span class="wide-only">: row skipped</span></td>'
        "<td>Email</td>"
        '<td class="cell-value">=HYPERLINK(1)</td>'
    ) in report
    assert (
        '<td class="num">4</td><td>Warning<span class="wide-only">: cell left out</span></td>'
        "<td>Webinar</td>"
    ) in report
    assert (
        "2 problems: 1 row skipped (errors), 1 cell left out of rows that were imported "
        "(warnings)" in report
    )
    assert 'data-testid="report-download"' in page


def test_the_report_is_paginated(marketer_client, actors):
    rows = [person(n, Employees="many") for n in range(55)]
    job = mapped(actors.teammate, uploaded(actors.teammate, rows))
    with tenant_context(actors.tenant_a):
        imports.start_import(job=job, by=actors.teammate.principal)
        imports.run_import_job(job=job)
    second = marketer_client.get(f"/inquiries/imports/{job.pk}/?page=2").content.decode()
    assert "Page 2 of 2" in second
    assert second.count('<td class="num">') == 5


def test_the_report_downloads_as_csv_with_formulas_neutralised(
    marketer_client, finished_with_errors
):
    response = marketer_client.get(f"/inquiries/imports/{finished_with_errors.pk}/report.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="spring-fair-report-{finished_with_errors.pk}.csv"'
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["row", "column", "value", "message", "severity"]
    assert rows[1][:3] == ["3", "Email", "'=HYPERLINK(1)"]
    assert rows[2][:3] == ["4", "Webinar", "'@SUM(A1)"]
    assert [rows[1][4], rows[2][4]] == ["error", "warning"]
    assert len(rows) == 3


def test_an_import_without_problems_says_so(marketer_client, actors):
    job = mapped(actors.teammate, uploaded(actors.teammate, [person(1)]))
    with tenant_context(actors.tenant_a):
        imports.start_import(job=job, by=actors.teammate.principal)
        imports.run_import_job(job=job)
    page = marketer_client.get(f"/inquiries/imports/{job.pk}/").content.decode()
    assert 'data-testid="report-empty"' in page
    assert 'data-testid="report-download"' not in page


# --- The list ------------------------------------------------------------------------


def test_the_list_without_imports_says_how_to_start(marketer_client):
    page = marketer_client.get("/inquiries/imports/").content.decode()
    assert 'data-testid="imports-empty"' in page
    assert 'href="/inquiries/imports/new/"' in page


def test_the_list_shows_each_import_with_its_status(marketer_client, actors):
    job = mapped(actors.teammate, uploaded(actors.teammate, [person(1)], name="fair.csv"))
    page = marketer_client.get("/inquiries/imports/").content.decode()
    assert f'<a href="/inquiries/imports/{job.pk}/">fair.csv</a>' in page
    assert "Awaiting mapping" in page


def test_the_nav_links_to_the_imports(marketer_client):
    assert 'href="/inquiries/imports/">Import CSV</a>' in marketer_client.get("/").content.decode()


def test_the_list_shows_only_the_tenants_own_imports(client, actors):
    uploaded(actors.teammate, [person(1)], name="ours.csv")
    client.force_login(actors.outsider.user)
    page = client.get("/inquiries/imports/").content.decode()
    assert "ours.csv" not in page
    assert 'data-testid="imports-empty"' in page


@pytest.mark.parametrize("count", [1, 8])
def test_the_list_query_count_does_not_grow_with_imports(
    marketer_client, actors, django_assert_num_queries, count
):
    for n in range(count):
        uploaded(actors.teammate, [person(n)], name=f"file{n}.csv")
    marketer_client.get("/inquiries/imports/")
    # session, user, memberships, count, page
    with django_assert_num_queries(5):
        marketer_client.get("/inquiries/imports/")


# --- Who may open what ---------------------------------------------------------------

ROUTES = [
    ("get", "/inquiries/imports/{job}/"),
    ("get", "/inquiries/imports/{job}/mapping/"),
    ("post", "/inquiries/imports/{job}/mapping/"),
    ("post", "/inquiries/imports/{job}/dry-run/"),
    ("get", "/inquiries/imports/{job}/dry-run/progress/"),
    ("post", "/inquiries/imports/{job}/start/"),
    ("post", "/inquiries/imports/{job}/cancel/"),
    ("get", "/inquiries/imports/{job}/progress/"),
    ("get", "/inquiries/imports/{job}/report.csv"),
    ("get", "/inquiries/imports/{job}/values/"),
    ("post", "/inquiries/imports/{job}/values/"),
]
ALL_ROUTES = [("get", "/inquiries/imports/"), ("get", "/inquiries/imports/new/"), *ROUTES]


@pytest.fixture
def job_a(actors):
    return mapped(actors.teammate, uploaded(actors.teammate, [person(1)]))


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_an_import_of_another_tenant_is_404(client, actors, job_a, method, path):
    client.force_login(actors.outsider.user)
    response = getattr(client, method)(path.format(job=job_a.pk))
    assert response.status_code == 404
    with tenant_context(actors.tenant_a):
        job_a.refresh_from_db()
    assert job_a.status == "analysed"


def test_a_saved_mapping_of_another_tenant_is_404(client, actors, job_a):
    with tenant_context(actors.tenant_a):
        imports.set_mapping(
            job=job_a,
            mapping=job_a.mapping,
            placeholders=[],
            save_as="Ours",
            by=actors.teammate.principal,
        )
        saved = ImportMapping.objects.get()
    theirs = uploaded(actors.outsider, [person(9)])
    client.force_login(actors.outsider.user)
    response = client.get(f"/inquiries/imports/{theirs.pk}/mapping/?saved={saved.pk}")
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "path"), ALL_ROUTES)
@pytest.mark.parametrize("who", ["rep", "partner"])
def test_reps_and_partner_users_may_not_open_the_import_pages(
    client, actors, job_a, method, path, who
):
    partner = PartnerFactory(tenant=actors.tenant_a) if who == "partner" else None
    actor = make_actor(actors.tenant_a, Role.REP, partner=partner)
    client.force_login(actor.user)
    response = getattr(client, method)(path.format(job=job_a.pk))
    assert response.status_code == 403
