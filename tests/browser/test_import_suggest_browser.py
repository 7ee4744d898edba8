"""In the browser: a real CRM export from upload to a signed definition suggested by its outcomes.

No file edited by hand: lead numbers become external ids, "Converted" 0/1 the
outcome, country names codes, "Select" empty, a category the custom field has
not seen a new choice (on the value step), and the outcomes suggest a draft
that a marketing and a sales manager sign.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from inquiries.models import CustomField, Inquiry, LeadDefinition
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_inquiries_browser import log_out
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]
EXPORT = Path(__file__).parent.parent / "inquiries" / "data" / "crm_export.csv"


@pytest.fixture
def imports_root(settings, tmp_path):
    settings.IMPORTS_ROOT = tmp_path / "imports"
    return settings.IMPORTS_ROOT


def test_a_crm_export_goes_from_upload_to_a_signed_suggested_definition(
    live_server, page, screenshot, csp_errors, imports_root, worker
):
    tenant = TenantFactory(slug="crm-export", name="Export Co")
    marketer = make_actor(tenant, Role.MARKETER)
    marketing_manager = make_actor(tenant, Role.MANAGER)
    sales_manager = make_actor(tenant, Role.MANAGER)

    log_in(page, live_server, marketer.user.email)
    page.get_by_role("link", name="Import CSV").click()
    page.get_by_test_id("import-upload-link").click()
    page.get_by_label("CSV file").set_input_files(str(EXPORT))
    page.get_by_role("button", name="Upload and read the columns").click()
    page.wait_for_load_state()

    # The suggestion recognises the export's id, outcome, source and country columns.
    expect(page.get_by_label("Lead Number", exact=True)).to_have_value("field:external_id")
    expect(page.get_by_label("Converted", exact=True)).to_have_value("outcome")
    expect(page.get_by_label("Lead Source", exact=True)).to_have_value("field:source")
    expect(page.get_by_label("Country", exact=True)).to_have_value("field:country")
    page.get_by_label("Specialization", exact=True).select_option(label="+ New custom field…")
    page.get_by_label("Label for Specialization").fill("Specialization")
    page.get_by_label("Kind for Specialization").select_option(label="Choice")
    page.get_by_label("Choices for Specialization").fill(
        "Finance Management, Marketing Management, IT Projects"
    )
    page.get_by_label("Save this mapping as").fill("Our CRM")
    page.get_by_role("button", name="Save mapping").click()
    page.wait_for_load_state()

    # The value step: each value found, with its count and the first guess.
    expect(page.get_by_test_id("values-heading")).to_have_text("Map the values of crm_export.csv")
    row = page.locator('[data-testid="value-row"][data-value="United Arab Emirates"]')
    expect(row.get_by_role("combobox")).to_have_value("AE")
    converted = page.locator('[data-testid="value-column"][data-header="Converted"]')
    expect(converted.locator('[data-value="1"]').get_by_role("combobox")).to_have_value("won")
    expect(converted.locator('[data-value="0"]').get_by_role("combobox")).to_have_value("lost")
    page.get_by_label("Peru", exact=True).select_option(label="+ New choice “Peru”")
    page.get_by_label("Google", exact=True).select_option(label="Web form")
    page.get_by_label("Reference", exact=True).select_option(label="Partner referral")
    screenshot("values")
    page.set_viewport_size(PHONE)
    screenshot("values-phone")
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="Save values").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status")).to_contain_text("Values mapped")

    page.get_by_role("button", name="Run a dry run").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("dry-run")).to_have_attribute("data-state", "done", timeout=60_000)
    expect(page.get_by_test_id("dry-run-new")).to_have_text("400")
    expect(page.get_by_test_id("dry-run-invalid")).to_have_text("0")
    screenshot("dry-run")
    page.get_by_test_id("import-start").click()
    page.wait_for_load_state()
    progress = page.get_by_test_id("import-progress")
    expect(progress).to_have_attribute("data-status", "done", timeout=60_000)
    with tenant_context(tenant):
        assert Inquiry.objects.count() == 400
        assert Inquiry.objects.filter(outcome="won").count() == 155
        assert Inquiry.objects.filter(country="AE").exists()
        assert "Peru" in CustomField.objects.get(key="specialization").choices

    page.get_by_role("link", name="Lead definition").click()
    page.get_by_role("button", name="Suggest from outcomes").click()
    # The fit runs in the worker; its page polls the progress and opens the draft when done.
    page.wait_for_load_state()
    screenshot("suggesting")  # the progress, or already the draft when the worker was quick
    expect(page.get_by_role("status")).to_contain_text("suggested from outcomes", timeout=120_000)
    with tenant_context(tenant):
        draft = LeadDefinition.objects.get(status="draft")
    assert "Wins among the top 10%" in draft.notes
    assert draft.fit_rules
    screenshot("suggested")
    log_out(page)

    for manager, side in ((marketing_manager, "marketing"), (sales_manager, "sales")):
        log_in(page, live_server, manager.user.email)
        page.goto(f"{live_server.url}/definitions/{draft.pk}/")
        page.get_by_role("button", name=f"Sign for {side}").click()
        page.wait_for_load_state()
        expect(page.get_by_test_id(f"sign-off-{side}")).to_contain_text(manager.user.email)
        log_out(page)
    with tenant_context(tenant):
        sides = set(draft.sign_offs.values_list("side", flat=True))
    assert sides == {"marketing", "sales"}
