"""In the browser: a partner user's portal — My week with an offer to accept, at both widths.

The offer shows the buyer's company and need but not who they are until the
partner accepts; the lagging partner reads its warning; the page passes axe
and fits a 390 px phone. Screenshots land in ``test-output/screenshots/``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leadflow.lib import times
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Lead
from leads.selectors.weekly import current_week
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_every_page import serious_violations
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import (
    InquiryFactory,
    LeadFactory,
    PartnerFactory,
    TenantFactory,
    WeeklyUpdateFactory,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def lead_for(tenant, partner, name, stage, assigned_at):
    inquiry = InquiryFactory(
        tenant=tenant,
        stage="lead",
        first_name=name,
        last_name="Okafor",
        email=f"{name.lower()}@freight.example",
        company=f"{name} Freight",
        interest="Fleet tracking for 120 trucks",
    )
    profile = {"first_name": name, "last_name": "Okafor", "company": f"{name} Freight"}
    profile["interest"] = "Fleet tracking for 120 trucks"
    return LeadFactory(
        tenant=tenant,
        inquiry=inquiry,
        partner=partner,
        stage=stage,
        profile=profile,
        score=72,
        assigned_at=assigned_at,
        accepted_at=None if stage == "awaiting_acceptance" else assigned_at + timedelta(hours=2),
        acceptance_due_at=(
            timezone.now() + timedelta(hours=20) if stage == "awaiting_acceptance" else None
        ),
    )


def seed_portal(tenant, partner):
    """An offer (Dana), and two accepted leads: Ada reported up to the week before last, Ben
    never missed a week; the partner missed last week's update on Ada (warned)."""
    tz = times.zone(tenant.timezone)
    week = current_week(tz)
    # The Sunday before the week before last: both closed weeks since owe an update.
    assigned = datetime.combine(week - timedelta(weeks=2, days=1), time(12), tzinfo=tz)
    offer = lead_for(tenant, partner, "Dana", "awaiting_acceptance", timezone.now())
    ada = lead_for(tenant, partner, "Ada", "accepted", assigned)
    ben = lead_for(tenant, partner, "Ben", "accepted", assigned)
    for monday in (week - timedelta(weeks=2), week - timedelta(weeks=1)):
        WeeklyUpdateFactory(tenant=tenant, lead=ben, week=monday, partner=partner)
    WeeklyUpdateFactory(tenant=tenant, lead=ada, week=week - timedelta(weeks=2), partner=partner)
    return offer


def test_a_partner_user_accepts_an_offer_from_my_week(live_server, browser, screenshot_dir):
    tenant = TenantFactory(slug="portal-browser", name="Acme Robotics", timezone="Europe/Berlin")
    partner = PartnerFactory(tenant=tenant, name="Northwind Dealers")
    nora = make_actor(tenant, Role.REP, partner=partner, user__full_name="Nora Lindqvist")
    offer = seed_portal(tenant, partner)
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        log_in(page, live_server, nora.user.email)
        expect(page.get_by_test_id("tile-leads.partner_compliance")).to_contain_text(
            "update missing — report by Friday or new leads pause"
        )
        page.screenshot(path=str(screenshot_dir / "portal-home-1280.png"), full_page=True)
        page.get_by_role("link", name="My week").first.click()
        offers = page.get_by_test_id("awaiting")
        expect(offers).to_contain_text("Dana Freight")
        expect(offers).to_contain_text("Fleet tracking")
        expect(offers).not_to_contain_text("Okafor")
        expect(page.get_by_test_id("compliance")).to_be_visible()
        page.screenshot(path=str(screenshot_dir / "portal-my-week-1280.png"), full_page=True)
        assert serious_violations(page) == []

        page.get_by_role("button", name="Accept the offer from Dana Freight").click()
        expect(page.get_by_text("Lead accepted")).to_be_visible()
        expect(page.get_by_test_id("awaiting")).to_have_count(0)
        expect(page.get_by_test_id("week-rows")).to_contain_text("Dana Okafor")
        page.screenshot(
            path=str(screenshot_dir / "portal-my-week-1280-accepted.png"), full_page=True
        )
        with tenant_context(tenant):
            assert Lead.objects.get(pk=offer.pk).stage == "accepted"

        page.get_by_role("link", name="Dana Okafor").click()
        expect(page.get_by_test_id("lead-name")).to_have_text("Dana Okafor")
        expect(page.get_by_test_id("meeting")).to_be_visible()
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshot_dir / "portal-lead-1280.png"), full_page=True)
    finally:
        context.close()


def test_the_portals_my_week_fits_a_phone_and_passes_axe(live_server, browser, screenshot_dir):
    tenant = TenantFactory(slug="portal-phone", name="Acme Robotics", timezone="Europe/Berlin")
    partner = PartnerFactory(tenant=tenant, name="Northwind Dealers")
    nora = make_actor(tenant, Role.REP, partner=partner, user__full_name="Nora Lindqvist")
    offer = seed_portal(tenant, partner)
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        log_in(page, live_server, nora.user.email)
        for path, name in (
            ("/leads/week/", "portal-my-week-390"),
            (f"/leads/{offer.pk}/", "portal-offer-390"),
            ("/partner/keys/", "portal-keys-390"),
            ("/", "portal-home-390"),
        ):
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow} px"
            assert serious_violations(page) == [], path
        page.goto(f"{live_server.url}/leads/{offer.pk}/")
        expect(page.get_by_test_id("contact-hidden")).to_be_visible()
        expect(page.locator("main")).not_to_contain_text("Okafor")
    finally:
        context.close()
