"""In the browser: upload a CSV, map its columns, dry run and import on a worker, the report."""

from __future__ import annotations

import csv

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from inquiries.models import CustomField, ImportJob, Inquiry
from inquiries.services import imports
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import InquiryFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]
ROWS = 40


@pytest.fixture
def imports_root(settings, tmp_path):
    settings.IMPORTS_ROOT = tmp_path / "imports"
    return settings.IMPORTS_ROOT


def trade_show_file(path) -> None:
    """Scanner export: one person already known, a 'Select' placeholder, a bad cell, a bad row."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["E-mail", "First name", "Company", "Employees", "Fleet", "Webinar"])
        for n in range(ROWS):
            employees = "Select" if n % 5 == 0 else str(50 + n)
            writer.writerow(
                [f"visitor{n}@fleet{n}.example", "Sam", f"Fleet {n}", employees, n, "2026-03-02"]
            )
        writer.writerow(["known@customer.example", "Kim", "Known Co", "900", "12", ""])
        writer.writerow(["broken@fleet.example", "Bo", "Broken", "=1+2", "3", ""])
        writer.writerow(["late(at)fleet.example", "Lee", "Late", "120", "many", "next week"])


def test_marketer_imports_a_csv_and_watches_it_finish(
    live_server, page, screenshot, csp_errors, imports_root, worker, tmp_path
):
    """Upload, map (a new custom field on the spot), dry run and import on a worker, the report."""
    tenant = TenantFactory(slug="import-browser", name="Import Co")
    marketer = make_actor(tenant, Role.MARKETER)
    InquiryFactory(tenant=tenant, email="known@customer.example", first_name="Kim")
    path = tmp_path / "trade-show.csv"
    trade_show_file(path)

    log_in(page, live_server, marketer.user.email)
    page.get_by_role("link", name="Import CSV").click()
    expect(page.get_by_test_id("imports-empty")).to_be_visible()
    screenshot("empty")
    page.get_by_test_id("import-upload-link").click()
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and read the columns").click()
    page.wait_for_load_state()

    expect(page.get_by_test_id("mapping-heading")).to_have_text("Map the columns of trade-show.csv")
    expect(page.get_by_role("status")).to_contain_text("43 rows in 6 columns")
    expect(page.get_by_label("E-mail", exact=True)).to_have_value("field:email")
    expect(page.get_by_label("Employees", exact=True)).to_have_value("field:company_size")
    expect(page.get_by_label("Webinar", exact=True)).to_have_value("activity:webinar")
    expect(page.get_by_label("Fleet", exact=True)).to_have_value("ignore")
    expect(page.get_by_label("Label for Fleet")).to_be_hidden()
    page.get_by_label("Fleet", exact=True).select_option(label="+ New custom field…")
    expect(page.get_by_label("Label for Fleet")).to_be_visible()
    page.get_by_label("Label for Fleet").fill("Fleet size")
    page.get_by_label("Kind for Fleet").select_option(label="Number")
    page.get_by_label("Save this mapping as").fill("Trade-show scanner")
    screenshot("mapping")
    page.set_viewport_size(PHONE)
    screenshot("mapping-phone")
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="Save mapping").click()
    page.wait_for_load_state()

    expect(page.get_by_role("status")).to_contain_text("Mapping saved")
    expect(page.get_by_test_id("mapping-summary")).to_contain_text("Custom field: Fleet size")
    page.get_by_role("button", name="Run a dry run").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status")).to_contain_text("Dry run queued: checking 43 rows")
    # The worker reads the file; the page polls until the counts replace the progress.
    dry_run = page.get_by_test_id("dry-run")
    expect(dry_run).to_have_attribute("data-state", "done", timeout=30_000)
    expect(page.get_by_test_id("dry-run-new")).to_have_text("41")
    expect(page.get_by_test_id("dry-run-merged")).to_have_text("1")
    expect(page.get_by_test_id("dry-run-invalid")).to_have_text("1")
    expect(page.get_by_test_id("dry-run-warnings")).to_have_text("1")
    expect(page.get_by_test_id("dry-run-errors")).to_contain_text("is not a company size")
    expect(page.get_by_test_id("dry-run-errors")).to_contain_text("Enter a valid email address.")
    screenshot("dry-run")
    with tenant_context(tenant):
        assert Inquiry.objects.count() == 1

    page.get_by_role("button", name="Import 42 valid rows, skip 1").click()
    page.wait_for_load_state()
    progress = page.get_by_test_id("import-progress")
    expect(progress).to_be_visible()
    screenshot("started")
    expect(progress).to_have_attribute("data-status", "done", timeout=30_000)
    expect(progress).to_have_attribute("data-outcome", "done_with_skipped")
    # The heading's badge follows the progress it polls: no "Queued" above a finished job.
    expect(page.get_by_test_id("import-status")).to_have_text("Done, 1 row skipped")
    expect(progress).to_contain_text("Done with 1 row skipped — imported 42 of 43 rows (97%)")
    expect(progress).to_contain_text("43 rows read = 41 new + 1 merged + 1 skipped (invalid)")
    expect(progress).to_contain_text("1 cell left out of imported rows (warnings).")
    assert page.locator("#import-progress progress").get_attribute("value") == "42"
    screenshot("done")

    page.get_by_role("link", name="See the per-row report").click()
    page.wait_for_load_state()
    report = page.get_by_test_id("report-table")
    expect(report).to_contain_text("=1+2")
    expect(report).to_contain_text("Give a date as YYYY-MM-DD")
    with page.expect_download() as download:
        page.get_by_test_id("report-download").click()
    lines = download.value.path().read_text(encoding="utf-8").splitlines()
    assert lines[0] == "row,column,value,message,severity"
    assert any(
        line.startswith("43,Employees,'=1+2,") and line.endswith(",warning") for line in lines
    )
    assert any(line.startswith("44,E-mail,late(at)fleet.example,") for line in lines)
    screenshot("report")
    page.set_viewport_size(PHONE)
    screenshot("report-phone")

    with tenant_context(tenant):
        assert Inquiry.objects.count() == 42
        assert Inquiry.objects.get(email="broken@fleet.example").company_size is None
        assert Inquiry.objects.get(email="visitor7@fleet7.example").custom == {"fleet_size": 7}
        assert CustomField.objects.get().key == "fleet_size"
        assert ImportJob.objects.get().status == "done"
    assert csp_errors == []


def names_in_the_email_column(path, rows: int = 30) -> None:
    """A file whose e-mail column holds names: not one row has a usable identity."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["E-mail", "Company", "Employees"])
        for n in range(rows):
            writer.writerow([f"Pat Buyer {n}", f"Company {n}", "51-200"])


def test_an_import_in_which_every_row_failed_is_shown_red_not_done(
    live_server, page, screenshot, csp_errors, imports_root, worker, tmp_path
):
    """The dry run offers to fix the mapping, not to start; a finished job says nothing came in."""
    tenant = TenantFactory(slug="failed-import-browser", name="Failed Import Co")
    marketer = make_actor(tenant, Role.MARKETER)
    path = tmp_path / "names-as-emails.csv"
    names_in_the_email_column(path)

    log_in(page, live_server, marketer.user.email)
    page.goto(f"{live_server.url}/inquiries/imports/new/")
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and read the columns").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Save mapping").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Run a dry run").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("dry-run")).to_have_attribute("data-state", "done", timeout=30_000)
    expect(page.get_by_test_id("dry-run-nothing")).to_contain_text(
        "No row can be imported: all 30 rows have a problem that skips it"
    )
    expect(page.get_by_test_id("dry-run-invalid")).to_have_text("30")
    expect(page.get_by_role("button", name="Start import")).to_have_count(0)
    expect(page.get_by_role("button", name="Import")).to_have_count(0)
    expect(page.get_by_test_id("dry-run-fix-mapping")).to_be_visible()
    screenshot("dry-run-nothing")
    page.set_viewport_size(PHONE)
    screenshot("dry-run-nothing-phone")
    page.set_viewport_size(DESKTOP)

    # An API client may start an import without a dry run; it ends with nothing imported.
    with tenant_context(tenant):
        job = imports.analyse_upload(
            file=SimpleUploadedFile("again.csv", path.read_bytes()),
            file_name="again.csv",
            by=marketer.principal,
        )
        job = imports.set_mapping(
            job=job, mapping=job.mapping, placeholders=[], by=marketer.principal
        )
        job = imports.start_import(job=job, by=marketer.principal)
    page.goto(f"{live_server.url}/inquiries/imports/{job.pk}/")
    progress = page.get_by_test_id("import-progress")
    # The worker runs it; the page follows until it is done.
    expect(progress).to_have_attribute("data-outcome", "nothing_imported", timeout=30_000)
    expect(page.get_by_test_id("import-status")).to_have_text("Nothing imported")
    page.get_by_role("link", name="See the per-row report").click()
    page.wait_for_load_state()
    progress = page.get_by_test_id("import-progress")
    expect(page.get_by_test_id("import-status")).to_have_text("Nothing imported")
    expect(progress).to_contain_text("Nothing imported — all 30 rows read were skipped as invalid")
    expect(progress).to_contain_text("30 rows read = 0 new + 0 merged + 30 skipped (invalid)")
    expect(progress).not_to_contain_text("100%")
    red = progress.evaluate("element => getComputedStyle(element).backgroundColor")
    assert red == "rgb(253, 236, 234)"
    expect(page.get_by_test_id("report-table")).to_contain_text("Enter a valid email address.")
    screenshot("nothing-imported")
    page.set_viewport_size(PHONE)
    screenshot("nothing-imported-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]

    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/inquiries/imports/")
    listed = page.get_by_test_id("import-table")
    expect(listed.locator(f'a[href="/inquiries/imports/{job.pk}/"]')).to_be_visible()
    expect(listed.locator('[data-outcome="nothing_imported"]')).to_have_text("Nothing imported")
    screenshot("list")
    page.set_viewport_size(PHONE)
    screenshot("list-phone")
    assert csp_errors == []


def test_a_file_that_is_not_csv_is_refused_next_to_the_field(
    live_server, page, screenshot, csp_errors, imports_root, settings, tmp_path
):
    """Too large is refused before sending; a binary file by the server; nothing is kept."""
    settings.IMPORT_MAX_BYTES = 4096
    tenant = TenantFactory(slug="bad-import-browser", name="Bad Import Co")
    marketer = make_actor(tenant, Role.MARKETER)
    large = tmp_path / "large.csv"
    large.write_text("email\n" + "someone@example.test\n" * 400)
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))

    log_in(page, live_server, marketer.user.email)
    page.goto(f"{live_server.url}/inquiries/imports/new/")
    page.get_by_label("CSV file").set_input_files(str(large))
    expect(page.get_by_text("The file is larger than the limit")).to_be_visible()
    page.get_by_role("button", name="Upload and read the columns").click()
    expect(page).to_have_url(f"{live_server.url}/inquiries/imports/new/")
    expect(page.get_by_test_id("upload-error")).to_have_count(0)

    page.get_by_label("CSV file").set_input_files(str(binary))
    expect(page.get_by_text("The file is larger than the limit")).to_be_hidden()
    page.get_by_role("button", name="Upload and read the columns").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("upload-error")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("binary")
    screenshot("refused")
    with tenant_context(tenant):
        assert not ImportJob.objects.exists()
    assert not [p for p in imports_root.rglob("*") if p.is_file()]
    assert csp_errors == []


def test_a_file_with_hundreds_of_columns_can_be_mapped(live_server, page, imports_root, tmp_path):
    """Only the columns set to a new custom field send its inputs, so Django's field cap holds."""
    tenant = TenantFactory(slug="wide-import-browser", name="Wide Co")
    marketer = make_actor(tenant, Role.MARKETER)
    path = tmp_path / "wide.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", *(f"Answer {n}" for n in range(300))])
        writer.writerow(["wide@example.test", *(str(n) for n in range(300))])

    log_in(page, live_server, marketer.user.email)
    page.goto(f"{live_server.url}/inquiries/imports/new/")
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and read the columns").click()
    page.wait_for_load_state()
    # 300 columns make 1,200 labels to name: the lookup by label takes seconds on a busy machine.
    page.get_by_label("Answer 7", exact=True).select_option(
        label="+ New custom field…", timeout=30_000
    )
    page.get_by_label("Label for Answer 7", exact=True).fill("Answer seven", timeout=30_000)
    page.get_by_role("button", name="Save mapping").click()
    page.wait_for_load_state()

    expect(page.get_by_role("status")).to_contain_text("Mapping saved")
    with tenant_context(tenant):
        mapping = ImportJob.objects.get().mapping
    assert mapping["Answer 7"] == {"to": "custom", "key": "answer_seven"}
