"""In the browser: a partner's user opens Deals from the menu, submits a deal without a company
(the field shows its error, nothing saved), corrects it and registers it; a second partner's
user registering the same buyer is refused without learning who has it; 1,280 and 390 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import DealRegistration
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_every_page import serious_violations
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import PartnerFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def shoot(page, screenshot_dir, step: str) -> None:
    path = screenshot_dir / f"test_deal_registration_browser-{step}.png"
    page.screenshot(path=str(path), full_page=True)


def fill_buyer(page) -> None:
    page.get_by_label("Company web domain").fill("northbridge-precision.example")
    page.get_by_label("First name").fill("Amelia")
    page.get_by_label("Last name").fill("Okonkwo")
    page.get_by_label("Email", exact=True).fill("amelia@northbridge-precision.example")
    page.get_by_label("Country").fill("DE")
    page.get_by_label("What the buyer needs").fill("Forty forklifts for the Hamburg warehouse.")


def test_a_partner_registers_a_deal_and_a_second_partner_is_refused(
    live_server, browser, screenshot_dir
):
    tenant = TenantFactory(slug="acme-deals", name="Acme Robotics", timezone="Europe/Berlin")
    northwind = PartnerFactory(tenant=tenant, name="Northwind Dealers")
    contoso = PartnerFactory(tenant=tenant, name="Contoso Resellers")
    first = make_actor(tenant, Role.REP, partner=northwind, user__full_name="Nora North")
    second = make_actor(tenant, Role.REP, partner=contoso, user__full_name="Carl Cont")

    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, live_server, first.user.email)
        page.get_by_role("link", name="Deals").first.click()
        expect(page.get_by_role("heading", name="Deals", level=1)).to_be_visible()
        expect(page.get_by_test_id("registrations-empty")).to_be_visible()
        assert serious_violations(page) == []

        fill_buyer(page)
        page.get_by_test_id("register-button").click()
        expect(page.get_by_test_id("register-errors")).to_be_visible()
        expect(page.get_by_text("Give the company.")).to_be_visible()
        expect(page.get_by_label("Email", exact=True)).to_have_value(
            "amelia@northbridge-precision.example"
        )
        assert serious_violations(page) == []
        with tenant_context(tenant):
            assert not DealRegistration.objects.exists()

        # Keyboard: type the company and submit with Enter.
        page.get_by_label("Company (required)").focus()
        page.keyboard.type("Northbridge Precision GmbH")
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text(
            "Northbridge Precision GmbH is registered"
        )
        row = page.get_by_test_id("registration-row")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Registered")
        expect(row).to_contain_text("by Nora North")
        assert serious_violations(page) == []
        shoot(page, screenshot_dir, "registered-desktop")
        page.set_viewport_size(PHONE)
        page.reload()
        shoot(page, screenshot_dir, "registered-phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert serious_violations(page) == []
    finally:
        context.close()

    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, live_server, second.user.email)
        page.goto(f"{live_server.url}/deals/")
        page.get_by_label("Company (required)").fill("Northbridge Precision")
        fill_buyer(page)
        page.get_by_label("Email", exact=True).fill("buyer@northbridge-precision.example")
        page.get_by_test_id("register-button").click()
        expect(page.locator(".message.error")).to_contain_text(
            "This buyer is already being worked; it cannot be registered."
        )
        expect(page.get_by_test_id("registration-row")).to_contain_text("Refused")
        assert "Northwind" not in page.content() and "Nora" not in page.content()
        shoot(page, screenshot_dir, "refused-phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert serious_violations(page) == []
    finally:
        context.close()
    with tenant_context(tenant):
        stored = sorted(DealRegistration.objects.values_list("partner_id", "status"))
    assert stored == sorted([(northwind.pk, "registered"), (contoso.pk, "refused")])
