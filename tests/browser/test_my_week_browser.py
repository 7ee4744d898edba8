"""In the browser: a rep clears their week by keyboard only; the page passes axe at both widths."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Lead, WeeklyUpdate
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_every_page import serious_violations
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import InquiryFactory, LeadFactory, TenantFactory, TouchFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]

NAMES = ["Ada", "Ben", "Cleo", "Dev", "Eve", "Finn", "Gia", "Hal", "Ivy", "Jo"]


def seed_week(tenant, rep) -> list[Lead]:
    now = timezone.now()
    leads = []
    for n, name in enumerate(NAMES):
        inquiry = InquiryFactory(
            tenant=tenant,
            stage="lead",
            first_name=name,
            last_name="Buyer",
            company=f"{name} Freight",
            created_at=now - timedelta(days=60),
        )
        lead = LeadFactory(
            tenant=tenant,
            inquiry=inquiry,
            rep=rep.user,
            stage="sql" if n % 3 == 0 else "accepted",
            assigned_at=now - timedelta(days=12),
            accepted_at=now - timedelta(days=11),
            next_step_on=(now + timedelta(days=n)).date() if n % 2 == 0 else None,
            next_step="Send the ROI figures" if n % 2 == 0 else "",
        )
        TouchFactory.create_batch(n % 5, tenant=tenant, lead=lead, user=rep.user)
        leads.append(lead)
    return leads


def test_a_rep_clears_ten_leads_by_keyboard_only(live_server, browser, screenshot_dir):
    tenant = TenantFactory(slug="week-browser", name="Week Co")
    rep = make_actor(tenant, Role.REP, user__full_name="Riley Chen")
    leads = seed_week(tenant, rep)
    # axe is injected as an inline script, which the app's CSP refuses, rightly.
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        log_in(page, live_server, rep.user.email)
        page.get_by_role("link", name="My week").first.click()
        counter = page.get_by_test_id("week-counter")
        expect(counter).to_contain_text("0 of 10 reported")
        expect(page.locator("#week-rows [data-row]")).to_have_count(10)
        page.screenshot(path=str(screenshot_dir / "my-week-1280.png"), full_page=True)
        assert serious_violations(page) == []

        page.keyboard.press("?")
        expect(page.get_by_test_id("week-help")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.get_by_test_id("week-help")).to_be_hidden()

        page.keyboard.press("j")
        page.keyboard.press("k")
        for done in range(1, 10):
            page.keyboard.press("p")
            page.keyboard.press("t")
            page.keyboard.press("Escape")
            page.keyboard.press("n")
            page.keyboard.type(f"Call {done}: talked budget")
            page.keyboard.press("Enter")
            expect(counter).to_contain_text(f"{done} of 10 reported")
        # The last one is won: w opens the value, Enter reports it.
        page.keyboard.press("w")
        page.keyboard.type("4800")
        page.keyboard.press("Enter")
        expect(counter).to_contain_text("10 of 10 reported")
        expect(page.locator("#week-rows [data-row]")).to_have_count(0)
        expect(page.get_by_test_id("done-list").locator("li")).to_have_count(10)
        page.screenshot(path=str(screenshot_dir / "my-week-1280-done.png"), full_page=True)

        with tenant_context(tenant):
            assert WeeklyUpdate.objects.filter(lead__in=leads).count() == 10
            assert Lead.objects.filter(stage="won").count() == 1

        page.reload()
        expect(counter).to_contain_text("10 of 10 reported")
        expect(page.get_by_test_id("all-done")).to_be_visible()
    finally:
        context.close()


def test_my_week_fits_a_phone_and_passes_axe(live_server, browser, screenshot_dir):
    tenant = TenantFactory(slug="week-phone", name="Week Phone Co")
    rep = make_actor(tenant, Role.REP, user__full_name="Riley Chen")
    seed_week(tenant, rep)
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    try:
        log_in(page, live_server, rep.user.email)
        page.goto(f"{live_server.url}/leads/week/")
        expect(page.get_by_test_id("week-counter")).to_contain_text("0 of 10 reported")
        page.locator("#week-rows [data-row]").first.get_by_label("Outcome").select_option("lost")
        page.screenshot(path=str(screenshot_dir / "my-week-390.png"), full_page=True)
        page.screenshot(path=str(screenshot_dir / "my-week-390-top.png"))
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        assert serious_violations(page) == []
    finally:
        context.close()
