"""In the browser: a manager opens last week's report from the More menu, follows a rep's "Lost"
figure to the leads behind it and opens one; the report and the list at 1280 and 390 px."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leadflow.lib import weeks
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from reporting.weekly.services import generate_weekly_report
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_every_page import serious_violations, sideways_overflow
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import InquiryFactory, LeadFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def shoot(page, screenshot_dir, step: str) -> None:
    page.screenshot(
        path=str(screenshot_dir / f"test_weekly_report_browser-{step}.png"), full_page=True
    )


def test_manager_follows_a_figure_of_last_weeks_report_to_its_leads(
    live_server, browser, screenshot_dir
):
    tenant = TenantFactory(slug="acme-weekly", name="Acme Robotics", timezone="UTC")
    manager = make_actor(tenant, Role.MANAGER, user__full_name="Morgan Lee")
    riley = make_actor(tenant, Role.REP, user__full_name="Riley Rep").user
    sam = make_actor(tenant, Role.REP, user__full_name="Sam Seller").user
    last_monday = weeks.week_of(timezone.now().date()) - timedelta(weeks=1)
    start, _ = weeks.week_bounds(last_monday, timezone.get_current_timezone())
    midweek = start + timedelta(days=2, hours=10)
    with tenant_context(tenant):
        lost = LeadFactory(
            tenant=tenant,
            rep=riley,
            stage="lost",
            lost_reason="no budget",
            closed_at=midweek,
            inquiry=InquiryFactory(
                tenant=tenant, first_name="Pat", last_name="Buyer", company="Buyer Inc"
            ),
        )
        LeadFactory(tenant=tenant, rep=riley, stage="won", value=Decimal("1200"), closed_at=midweek)
        LeadFactory(tenant=tenant, rep=sam, stage="won", value=Decimal("800"), closed_at=midweek)
        generate_weekly_report(week=last_monday, by=Principal.system(tenant, "tests"), send=False)

    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, live_server, manager.user.email)
        page.get_by_text("More", exact=True).first.click()
        page.get_by_role("link", name="Weekly report").first.click()
        label = weeks.week_label(last_monday)
        expect(page.get_by_role("heading", name=f"Weekly report {label}", level=1)).to_be_visible()
        riley_row = page.get_by_test_id(f"line-rep-{riley.pk}")
        expect(riley_row.get_by_test_id("figure-won-value")).to_have_text("1200.00")
        expect(
            page.get_by_test_id("line-tenant-all").get_by_test_id("figure-won-value")
        ).to_have_text("2000.00")
        assert serious_violations(page) == []
        shoot(page, screenshot_dir, "report-1280")
        page.set_viewport_size(PHONE)
        page.reload()
        assert sideways_overflow(page) <= 0
        assert serious_violations(page) == []
        shoot(page, screenshot_dir, "report-390")
        page.set_viewport_size(DESKTOP)

        page.get_by_test_id(f"line-rep-{riley.pk}").get_by_test_id("figure-lost").click()
        expect(page.get_by_role("heading", name=f"Lost: Riley Rep, {label}")).to_be_visible()
        rows = page.get_by_test_id("figure-lead")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Buyer Inc")
        assert serious_violations(page) == []
        shoot(page, screenshot_dir, "leads-1280")
        page.set_viewport_size(PHONE)
        page.reload()
        assert sideways_overflow(page) <= 0
        shoot(page, screenshot_dir, "leads-390")

        page.get_by_role("link", name=f"#{lost.pk}").click()
        expect(page).to_have_url(f"{live_server.url}/leads/{lost.pk}/")
    finally:
        context.close()
