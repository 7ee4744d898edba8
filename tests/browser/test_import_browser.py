"""In the browser: upload a CSV, map its columns, dry run and import on a worker, the report."""

from __future__ import annotations

import csv

import pytest
from playwright.sync_api import expect

from inquiries.models import CustomField, ImportJob, Inquiry
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
    """Scanner export: one person already known, a 'Select' placeholder, two bad rows."""
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
        writer.writerow(["late@fleet.example", "Lee", "Late", "120", "many", "next week"])


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
    expect(page.get_by_test_id("dry-run-new")).to_have_text("40")
    expect(page.get_by_test_id("dry-run-merged")).to_have_text("1")
    expect(page.get_by_test_id("dry-run-invalid")).to_have_text("2")
    expect(page.get_by_test_id("dry-run-errors")).to_contain_text("A valid integer is required.")
    screenshot("dry-run")
    with tenant_context(tenant):
        assert Inquiry.objects.count() == 1

    page.get_by_role("button", name="Start import of 43 rows").click()
    page.wait_for_load_state()
    progress = page.get_by_test_id("import-progress")
    expect(progress).to_be_visible()
    screenshot("started")
    expect(page.get_by_test_id("import-percent")).to_have_text("100%", timeout=30_000)
    expect(progress).to_have_attribute("data-status", "done")
    expect(progress).to_contain_text("40 new, 1 merged, 2 invalid")
    assert page.locator("#import-progress progress").get_attribute("value") == "43"
    screenshot("done")

    page.get_by_role("link", name="See the per-row report").click()
    page.wait_for_load_state()
    report = page.get_by_test_id("report-table")
    expect(report).to_contain_text("=1+2")
    expect(report).to_contain_text("Give a date as YYYY-MM-DD")
    with page.expect_download() as download:
        page.get_by_test_id("report-download").click()
    lines = download.value.path().read_text(encoding="utf-8").splitlines()
    assert lines[0] == "row,column,value,message"
    assert any(line.startswith("43,Employees,'=1+2,") for line in lines)
    screenshot("report")
    page.set_viewport_size(PHONE)
    screenshot("report-phone")

    with tenant_context(tenant):
        assert Inquiry.objects.count() == 41
        assert Inquiry.objects.get(email="visitor7@fleet7.example").custom == {"fleet_size": 7}
        assert CustomField.objects.get().key == "fleet_size"
        assert ImportJob.objects.get().status == "done"
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
    page.get_by_label("Answer 7", exact=True).select_option(label="+ New custom field…")
    page.get_by_label("Label for Answer 7", exact=True).fill("Answer seven")
    page.get_by_role("button", name="Save mapping").click()
    page.wait_for_load_state()

    expect(page.get_by_role("status")).to_contain_text("Mapping saved")
    with tenant_context(tenant):
        mapping = ImportJob.objects.get().mapping
    assert mapping["Answer 7"] == {"to": "custom", "key": "answer_seven"}
