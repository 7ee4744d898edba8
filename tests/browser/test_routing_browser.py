"""In the browser: a manager opens Routing from the More menu, edits a rule's country (a bad
code is refused on its field, nothing saved), saves, and asks the tester which owner gets a lead
— the rep on leave is skipped; desktop and 390 px, with axe."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import PartnerTier, Role
from leads.models import RoutingRule
from leads.services import teams as routing
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
    path = screenshot_dir / f"test_routing_browser-{step}.png"
    page.screenshot(path=str(path), full_page=True)


def test_manager_edits_a_rules_country_and_the_tester_names_the_owner(
    live_server, browser, screenshot_dir
):
    from django.utils import timezone

    tenant = TenantFactory(slug="acme-routing", name="Acme Robotics", timezone="Europe/Berlin")
    manager = make_actor(tenant, Role.MANAGER, user__full_name="Morgan Lee")
    away = make_actor(tenant, Role.REP, user__full_name="Jonas Weber")
    here = make_actor(tenant, Role.REP, user__full_name="Riley Chen")
    partner = PartnerFactory(tenant=tenant, name="Northwind Dealers", tier=PartnerTier.GOLD)
    today = timezone.localdate()
    with tenant_context(tenant):
        away.membership.leave_from = today - timedelta(days=1)
        away.membership.leave_until = today + timedelta(days=10)
        away.membership.save(update_fields=["leave_from", "leave_until"])
        dach = routing.save_team(
            team=None,
            name="DACH",
            members=[(away.membership, None), (here.membership, 2)],
            by=manager.principal,
        )
        channel = routing.save_team(
            team=None, name="Channel", members=[(partner, None)], by=manager.principal
        )
        routing.create_rule(
            name="Germany", team=dach, countries=["DE"], industries=[], by=manager.principal
        )
        routing.create_rule(
            name="Partners abroad", team=channel, countries=["FR"], by=manager.principal
        )

    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, live_server, manager.user.email)
        page.get_by_text("More", exact=True).first.click()
        page.get_by_role("link", name="Routing").first.click()
        expect(page.get_by_role("heading", name="Routing", level=1)).to_be_visible()
        expect(page.get_by_test_id("on-leave")).to_have_count(1)
        assert serious_violations(page) == []
        shoot(page, screenshot_dir, "overview")

        page.get_by_role("button", name="Edit Germany").click()
        expect(page.get_by_role("heading", name="Rule 1: Germany", level=1)).to_be_visible()
        page.get_by_label("Countries").fill("DE, XX")
        page.get_by_test_id("rule-save").click()
        expect(page.get_by_test_id("rule-errors")).to_be_visible()
        expect(page.locator(".field-error")).to_contain_text('"XX" is not a country code')
        assert serious_violations(page) == []
        shoot(page, screenshot_dir, "refused")
        with tenant_context(tenant):
            assert RoutingRule.objects.get(name="Germany").countries == ["DE"]

        page.get_by_label("Countries").fill("de, at")
        page.get_by_test_id("rule-save").click()
        expect(page.get_by_role("status").first).to_contain_text("The rule “Germany” is saved.")
        expect(page.get_by_label("Countries")).to_have_value("DE, AT")

        # The tester on the rule's page starts from a lead the rule catches (DE); try Austria.
        page.get_by_test_id("tester-form").get_by_label("Country").fill("AT")
        page.get_by_test_id("tester-run").click()
        result = page.get_by_test_id("tester-result")
        expect(result).to_contain_text("Rule “Germany” → team DACH → Riley Chen")
        expect(result).to_contain_text("skipped: Jonas Weber on leave")
        assert serious_violations(page) == []
        shoot(page, screenshot_dir, "tester")

        page.set_viewport_size(PHONE)
        page.reload()
        expect(page.get_by_test_id("tester-result")).to_contain_text("Riley Chen")
        shoot(page, screenshot_dir, "tester-phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert serious_violations(page) == []

        page.get_by_role("link", name="← Routing").click()
        page.get_by_role("button", name="Move up: Partners abroad").click()
        expect(page.get_by_test_id("rule-row").first).to_contain_text("Partners abroad")
        shoot(page, screenshot_dir, "moved-phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()
    with tenant_context(tenant):
        rules = list(RoutingRule.objects.order_by("position").values_list("name", "countries"))
    assert rules == [("Partners abroad", ["FR"]), ("Germany", ["DE", "AT"])]
