"""In the browser: a manager opens each dashboard (its charts render), follows the MQL figure
to its rows (as many as the figure says), and reads the dashboards on a 390 px phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_every_page import serious_violations
from tests.browser.test_session import log_in
from tests.conftest import transactional_databases
from tests.factories import TenantFactory
from tests.reporting.dashboard_data import build

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]
MARCH = "from=2026-03-01&to=2026-03-31"
BOARDS = ("funnel", "roi", "accountability", "nurture")


def shoot(page, screenshot_dir, step: str) -> None:
    page.screenshot(
        path=str(screenshot_dir / f"test_dashboards_browser-{step}.png"), full_page=True
    )


def test_manager_opens_each_dashboard_and_follows_a_figure_to_its_rows(
    live_server, browser, screenshot_dir
):
    data = build(TenantFactory(slug="acme-dashboards", name="Acme Robotics"))
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, live_server, data.manager.user.email)
        page.get_by_text("More", exact=True).first.click()
        # The menu's last entry, reached with the keyboard (the open menu runs past the fold).
        page.get_by_role("link", name="Reports").first.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Funnel", level=1)).to_be_visible()
        for board in BOARDS:
            page.goto(f"{live_server.url}/reports/{board}/?{MARCH}")
            charts = page.get_by_test_id("chart")
            expect(charts.first).to_be_visible()
            assert charts.first.bounding_box()["width"] > 200
            assert page.locator("svg.chart rect.bar").count() > 0
            assert serious_violations(page) == []
            shoot(page, screenshot_dir, f"{board}-desktop")

        page.goto(f"{live_server.url}/reports/funnel/?{MARCH}")
        mqls = page.get_by_test_id("report-table-0").get_by_role("row", name="MQL")
        mqls.get_by_test_id("figure").click()
        expect(page.get_by_test_id("rows-count")).to_contain_text("5 rows")
        assert page.get_by_test_id("rows-table").locator("tbody tr").count() == 5
        assert serious_violations(page) == []
        shoot(page, screenshot_dir, "rows-desktop")

        page.set_viewport_size(PHONE)
        for board in ("funnel", "accountability"):
            page.goto(f"{live_server.url}/reports/{board}/?{MARCH}")
            expect(page.get_by_test_id("chart").first).to_be_visible()
            box = page.get_by_test_id("chart").first.bounding_box()
            assert box["width"] <= PHONE["width"]
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
            shoot(page, screenshot_dir, f"{board}-phone")
    finally:
        context.close()
