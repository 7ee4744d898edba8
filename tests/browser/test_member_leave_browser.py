"""In the browser: an admin sets a rep's leave and capacity on the rep's page, saves, and the
members list shows the "On leave until …" badge and the capacity, at 1,280 and 390 px; axe
finds no serious or critical problem on the member page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import dateformat
from playwright.sync_api import expect

from leadflow.tenancy import services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Membership, Role
from tests.browser.conftest import DESKTOP
from tests.browser.test_every_page import serious_violations
from tests.browser.test_session import log_in
from tests.browser.test_tokens_browser import both_widths
from tests.conftest import make_actor, transactional_databases
from tests.factories import PartnerFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def axe_problems(browser, live_server, email: str, path: str) -> list[str]:
    """axe-core on the page, in a context of its own that lets axe's script in."""
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    try:
        tab = context.new_page()
        log_in(tab, live_server, email)
        tab.goto(f"{live_server.url}{path}")
        return serious_violations(tab)
    finally:
        context.close()


def test_an_admin_sets_a_reps_leave_and_sees_the_badge_on_the_list(
    live_server, browser, page, screenshot, csp_errors
):
    tenant = TenantFactory(slug="leave-browser", name="Acme Robotics", timezone="Europe/Berlin")
    admin = make_actor(tenant, Role.ADMIN, user__full_name="Dana Whitfield")
    rep = make_actor(tenant, Role.REP, user__full_name="Robin Castillo")
    today = services.tenant_today(tenant)
    until = today + timedelta(days=4)

    log_in(page, live_server, admin.user.email)
    page.goto(f"{live_server.url}/members/")
    page.get_by_role("link", name="Robin Castillo").click()
    expect(page.get_by_role("heading", name="Availability", level=2)).to_be_visible()
    page.get_by_label("On leave from").fill(today.isoformat())
    page.get_by_label("Until (included)").fill(until.isoformat())
    page.get_by_label("Capacity (open leads)").fill("25")
    page.get_by_label("Time zone").select_option("America/Chicago")
    both_widths(page, screenshot, "member-availability-form")
    page.get_by_role("button", name="Save availability").click()
    expect(page.get_by_role("status")).to_contain_text("The availability of Robin Castillo")

    short = dateformat.format(until, "j M" if until.year == today.year else "j M Y")
    short = short.replace(" ", "\u00a0")
    expect(page.get_by_test_id("leave-badge")).to_have_text(f"On leave until {short}")
    with tenant_context(tenant):
        stored = Membership.objects.select_related("user").get(pk=rep.membership.pk)
    assert (stored.leave_from, stored.leave_until, stored.capacity) == (today, until, 25)
    assert stored.user.timezone == "America/Chicago"

    page.get_by_role("link", name="← Members").click()
    row = page.get_by_test_id("member-table").get_by_role("row").filter(has_text="Robin Castillo")
    expect(row.get_by_test_id("leave-badge").first).to_have_text(f"On leave until {short}")
    expect(row.get_by_test_id("member-capacity")).to_have_text("25 open leads")
    both_widths(page, screenshot, "members-list-leave-badge")

    # A refused value is shown on its field and nothing changes.
    page.goto(f"{live_server.url}/members/{rep.membership.pk}/")
    page.get_by_label("Until (included)").fill((today - timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Save availability").click()
    expect(page.get_by_role("alert").first).to_contain_text("cannot be before its first day")
    both_widths(page, screenshot, "member-availability-error")
    assert csp_errors == []
    assert (
        axe_problems(browser, live_server, admin.user.email, f"/members/{rep.membership.pk}/") == []
    )
    assert axe_problems(browser, live_server, admin.user.email, "/members/") == []


def test_a_manager_sets_a_partners_tier_and_the_lead_settings_fit_a_phone(
    live_server, browser, page, screenshot, csp_errors
):
    tenant = TenantFactory(slug="tier-browser", name="Acme Robotics", timezone="Europe/Berlin")
    manager = make_actor(tenant, Role.MANAGER, user__full_name="Morgan Lee")
    partner = PartnerFactory(tenant=tenant, name="Northwind Dealers")

    log_in(page, live_server, manager.user.email)
    page.goto(f"{live_server.url}/partners/{partner.pk}/")
    page.get_by_label("Tier").select_option(label="Gold — 3 turns for a rep's 1")
    page.get_by_label("Capacity (open leads)").fill("40")
    page.get_by_role("button", name="Save routing").click()
    expect(page.get_by_role("status")).to_contain_text("Northwind Dealers is now Gold")
    expect(page.get_by_test_id("partner-tier")).to_have_text("Gold — 3 turns for a rep's 1")
    expect(page.get_by_test_id("partner-capacity")).to_have_text("40 open leads")
    both_widths(page, screenshot, "partner-tier")

    page.goto(f"{live_server.url}/settings/leads/")
    page.get_by_label("Recall idle leads after (days)").fill("21")
    page.get_by_label("Cost per lead (USD)").fill("180.50")
    page.get_by_label("The organisation's time zone").select_option("America/Chicago")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("The lead settings are saved")
    expect(page.get_by_label("Cost per lead (USD)")).to_have_value("180.50")
    both_widths(page, screenshot, "lead-settings-recall-cost-zone")
    assert csp_errors == []
    for path in (f"/partners/{partner.pk}/", "/partners/", "/settings/leads/"):
        assert axe_problems(browser, live_server, manager.user.email, path) == [], path
