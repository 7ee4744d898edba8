"""In the browser: a manager opens Lead settings from the More menu, saves a refused list of
lost reasons (the error shows, nothing saved), corrects it and saves; desktop and 390 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import LeadSettings
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_every_page import serious_violations
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def shoot(page, screenshot_dir, step: str) -> None:
    path = screenshot_dir / f"test_lead_settings_browser-{step}.png"
    page.screenshot(path=str(path), full_page=True)


def test_manager_corrects_the_lost_reasons_and_saves(live_server, browser, screenshot_dir):
    tenant = TenantFactory(slug="acme-settings", name="Acme Robotics")
    manager = make_actor(tenant, Role.MANAGER, user__full_name="Morgan Lee")

    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, live_server, manager.user.email)
        page.get_by_text("More", exact=True).first.click()
        page.get_by_role("link", name="Lead settings").first.click()
        expect(page.get_by_role("heading", name="Lead settings", level=1)).to_be_visible()
        assert serious_violations(page) == []
        shoot(page, screenshot_dir, "defaults")

        page.get_by_label("Acceptance window (business days)").fill("3")
        page.get_by_label("Lost reasons").fill("no budget\nwent quiet")
        page.get_by_label("To nurture").check()
        page.get_by_test_id("save-settings").click()
        expect(page.get_by_test_id("settings-errors")).to_be_visible()
        expect(page.locator(".field-error")).to_contain_text("buyer declined")
        assert serious_violations(page) == []
        shoot(page, screenshot_dir, "refused")
        with tenant_context(tenant):
            assert not LeadSettings.objects.exists()

        page.get_by_label("Lost reasons").fill("buyer declined\nno budget\nwent quiet")
        page.get_by_test_id("save-settings").click()
        expect(page.get_by_role("status")).to_contain_text("The lead settings are saved.")
        expect(page.get_by_label("Acceptance window (business days)")).to_have_value("3")
        expect(page.get_by_label("To nurture")).to_be_checked()
        page.set_viewport_size(PHONE)
        page.reload()
        shoot(page, screenshot_dir, "saved-phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert serious_violations(page) == []
    finally:
        context.close()
    with tenant_context(tenant):
        stored = LeadSettings.objects.get()
    assert stored.acceptance_business_days == 3 and stored.postponed_to_nurture is True
    assert stored.lost_reasons == ["buyer declined", "no budget", "went quiet"]
