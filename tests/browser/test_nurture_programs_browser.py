"""In the browser: a manager reads the nurture dashboard's per-program table and follows a
program's figure to its people (as many as the figure), at 1,280 and 390 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_every_page import serious_violations
from tests.browser.test_session import log_in
from tests.conftest import transactional_databases
from tests.factories import TenantFactory
from tests.reporting.test_nurture_programs import build_programs

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]
MARCH = "from=2026-03-01&to=2026-03-31"


def shoot(page, screenshot_dir, step: str) -> None:
    page.screenshot(
        path=str(screenshot_dir / f"test_nurture_programs_browser-{step}.png"), full_page=True
    )


def test_manager_follows_a_programs_figure_to_its_people(live_server, browser, screenshot_dir):
    data = build_programs(TenantFactory(slug="acme-programs", name="Acme Programs"))
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, live_server, data.manager.user.email)
        page.goto(f"{live_server.url}/reports/nurture/?{MARCH}")
        table = page.get_by_test_id("report-table-1")
        spring = table.get_by_role("row", name="Spring")
        expect(spring).to_contain_text("33.3%")
        assert serious_violations(page) == []
        shoot(page, screenshot_dir, "nurture-desktop")
        spring.get_by_test_id("figure").first.click()
        expect(page.get_by_test_id("rows-count")).to_contain_text("3 rows")
        assert page.get_by_test_id("rows-table").locator("tbody tr").count() == 3
        page.set_viewport_size(PHONE)
        page.goto(f"{live_server.url}/reports/nurture/?{MARCH}")
        expect(page.get_by_test_id("report-table-1")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        shoot(page, screenshot_dir, "nurture-phone")
    finally:
        context.close()
