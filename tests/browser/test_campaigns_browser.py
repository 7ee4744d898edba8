"""In the browser: the campaigns page and form, and an import creating the campaigns it names."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from inquiries.models import Campaign, Inquiry
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import CampaignFactory, InquiryFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


@pytest.fixture
def imports_root(settings, tmp_path):
    settings.IMPORTS_ROOT = tmp_path / "imports"
    return settings.IMPORTS_ROOT


def both_widths(page, screenshot, step: str) -> None:
    screenshot(f"{step}-1280")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    screenshot(f"{step}-390")
    page.set_viewport_size(DESKTOP)


def test_marketer_creates_edits_and_archives_campaigns(live_server, page, screenshot, csp_errors):
    tenant = TenantFactory(slug="campaigns-browser", name="Campaign Co", currency="EUR")
    marketer = make_actor(tenant, Role.MARKETER, user__full_name="Marco Reyes")
    webinar = CampaignFactory(
        tenant=tenant, name="Q4 Webinar — predictive maintenance", spend=Decimal("4800")
    )
    for stage in ("inquiry", "inquiry", "mql", "mql", "lead", "lead", "lead", "nurture"):
        InquiryFactory(tenant=tenant, campaign=webinar, stage=stage)

    log_in(page, live_server, marketer.user.email)
    page.get_by_role("link", name="Campaigns").click()
    row = page.get_by_test_id("campaign-row")
    expect(row).to_contain_text("Q4 Webinar — predictive maintenance")
    expect(page.get_by_test_id("campaign-spend")).to_have_text("EUR\u00a04,800.00")
    expect(page.get_by_test_id("campaign-leads")).to_have_text("3")
    expect(page.get_by_test_id("campaign-cost-per-lead")).to_have_text("EUR\u00a01,600.00")
    both_widths(page, screenshot, "list")

    page.get_by_test_id("campaign-new-link").click()
    page.get_by_label("Name").fill("q4 webinar — PREDICTIVE maintenance")
    page.get_by_label("Spend").fill("100")
    page.get_by_role("button", name="Create campaign").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("campaign-form-error")).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="already exists")).to_be_visible()
    page.get_by_label("Name").fill("Hanover trade show 2026")
    page.get_by_label("Channel").select_option(label="Event card")
    page.get_by_label("Spend").fill("-10")
    page.get_by_role("button", name="Create campaign").click()
    page.wait_for_load_state()
    expect(page.get_by_role("alert").filter(has_text="Spend cannot be negative.")).to_be_visible()
    both_widths(page, screenshot, "form-error")
    page.get_by_label("Spend").fill("12500")
    page.get_by_role("button", name="Create campaign").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status")).to_contain_text("Campaign “Hanover trade show 2026” created")

    page.get_by_role("link", name="Hanover trade show 2026", exact=True).click()
    expect(page.get_by_label("Spend")).to_have_value("12500.00")
    both_widths(page, screenshot, "form")
    page.get_by_label("Spend").fill("13250.50")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("campaign-table")).to_contain_text("EUR\u00a013,250.50")

    page.get_by_role("button", name="Archive Q4 Webinar — predictive maintenance").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("campaign-row")).to_have_count(1)
    page.get_by_test_id("campaign-archive-link").click()
    expect(page.get_by_test_id("campaign-row")).to_contain_text("Q4 Webinar")
    both_widths(page, screenshot, "archived")
    with tenant_context(tenant):
        assert Campaign.objects.get(pk=webinar.pk).archived_at is not None
    assert csp_errors == []


def test_an_import_creates_the_campaigns_its_file_names(
    live_server, page, screenshot, csp_errors, imports_root, worker, tmp_path
):
    tenant = TenantFactory(slug="import-campaigns", name="Import Co")
    marketer = make_actor(tenant, Role.MARKETER)
    CampaignFactory(tenant=tenant, name="Spring Ads")
    path = tmp_path / "webinar.csv"
    path.write_text(
        "Email,Campaign\r\n"
        "a@x.example,Q4 Webinar\r\n"
        "b@x.example,Hanover Fair\r\n"
        "c@x.example,spring ads\r\n"
        "d@x.example,q4 webinar\r\n",
        encoding="utf-8",
    )
    log_in(page, live_server, marketer.user.email)
    page.goto(live_server.url + "/inquiries/imports/new/")
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and read the columns").click()
    page.wait_for_load_state()
    expect(page.get_by_label("Campaign", exact=True)).to_have_value("campaign")
    page.get_by_role("button", name="Save mapping").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Run a dry run").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("dry-run")).to_have_attribute("data-state", "done", timeout=30_000)
    missing = page.get_by_test_id("missing-campaign")
    expect(missing).to_have_text(["Q4 Webinar", "Hanover Fair"])
    both_widths(page, screenshot, "missing")

    page.get_by_test_id("create-missing-campaigns").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status")).to_contain_text(
        "Campaigns created: “Q4 Webinar”, “Hanover Fair”."
    )
    expect(page.get_by_test_id("dry-run")).to_have_attribute("data-state", "done", timeout=30_000)
    expect(page.get_by_test_id("missing-campaigns")).to_have_count(0)
    page.get_by_test_id("import-start").click()
    expect(page.get_by_test_id("import-progress")).to_have_attribute(
        "data-status", "done", timeout=30_000
    )
    with tenant_context(tenant):
        found = dict(Inquiry.objects.values_list("email", "campaign__name"))
    assert found == {
        "a@x.example": "Q4 Webinar",
        "b@x.example": "Hanover Fair",
        "c@x.example": "Spring Ads",
        "d@x.example": "Q4 Webinar",
    }
    assert csp_errors == []
