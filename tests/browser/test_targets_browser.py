"""In the browser: a manager opens Targets from the More menu, types a refused value (the row
shows its error, nothing saved), corrects it, saves, and moves to the next quarter; 390 px."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Target
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
    path = screenshot_dir / f"test_targets_browser-{step}.png"
    page.screenshot(path=str(path), full_page=True)


def test_manager_corrects_a_row_and_saves_the_quarters_targets(
    live_server, browser, screenshot_dir
):
    tenant = TenantFactory(slug="acme-targets", name="Acme Robotics", currency="EUR")
    manager = make_actor(tenant, Role.MANAGER, user__full_name="Morgan Lee")
    rep = make_actor(tenant, Role.REP, user__full_name="Riley Rep").user
    PartnerFactory(tenant=tenant, name="Dealer One")

    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, live_server, manager.user.email)
        page.get_by_text("More", exact=True).first.click()
        page.get_by_role("link", name="Targets").first.click()
        expect(page.get_by_role("heading", name="Targets for", level=1)).to_be_visible()
        assert serious_violations(page) == []

        page.get_by_label("Value for Riley Rep (EUR)").fill("12500")
        page.get_by_label("Won leads for Riley Rep").fill("5")
        page.get_by_label("Won leads for Dealer One").fill("lots")
        page.get_by_test_id("save-targets").click()
        expect(page.get_by_test_id("targets-errors")).to_be_visible()
        expect(page.get_by_test_id("row-error")).to_contain_text("whole number")
        expect(page.get_by_label("Value for Riley Rep (EUR)")).to_have_value("12500")
        assert serious_violations(page) == []
        shoot(page, screenshot_dir, "refused")
        with tenant_context(tenant):
            assert not Target.objects.exists()

        # Keyboard: the count field is reached with Tab from the value field.
        page.get_by_label("Value for Dealer One (EUR)").focus()
        page.keyboard.press("Tab")
        page.keyboard.press("Control+A")
        page.keyboard.type("3")
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text("2 targets for")
        expect(page.get_by_label("Value for Riley Rep (EUR)")).to_have_value("12500.00")

        page.get_by_test_id("next-quarter").click()
        expect(page.get_by_label("Value for Riley Rep (EUR)")).to_have_value("")
        page.set_viewport_size(PHONE)
        page.reload()
        shoot(page, screenshot_dir, "next-quarter-phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert serious_violations(page) == []
    finally:
        context.close()
    with tenant_context(tenant):
        stored = {(t.rep_id, t.partner_id): (t.value, t.count) for t in Target.objects.all()}
    partner_id = next(key[1] for key in stored if key[1])
    assert stored == {(rep.pk, None): (Decimal("12500.00"), 5), (None, partner_id): (None, 3)}
