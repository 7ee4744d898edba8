"""The seeded start page in the browser: a demo login sees what needs doing, and follows a tile."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from leadflow.tenancy.demo import DEMO_PASSWORD
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_session import log_in
from tests.conftest import transactional_databases

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


@pytest.fixture
def demo(small_demo):
    """The small demo: the tiles' checks hold for it, and it seeds in seconds, not a minute."""
    call_command("seed_demo", stdout=StringIO())


def count_of(page, key: str) -> int:
    text = page.get_by_test_id(f"tile-{key}").get_by_test_id("tile-count").inner_text()
    return int(text.rstrip("+"))


def sideways_overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_demo_qualifier_sees_the_mql_queue_and_opens_it(live_server, page, demo, screenshot):
    log_in(page, live_server, "qualifier@acme.example", DEMO_PASSWORD)
    expect(page.get_by_test_id("home-heading")).to_have_text("Acme Robotics")
    for key in ("inquiries.new", "inquiries.mql", "inquiries.mql_mine", "inquiries.duplicates"):
        expect(page.get_by_test_id(f"tile-{key}")).to_be_visible()
    assert count_of(page, "inquiries.new") > 0
    mqls = count_of(page, "inquiries.mql")
    assert mqls > 0
    page.set_viewport_size(DESKTOP)
    screenshot("desktop")
    page.set_viewport_size(PHONE)
    assert sideways_overflow(page) <= 0
    screenshot("phone")

    page.set_viewport_size(DESKTOP)
    page.get_by_test_id("tile-inquiries.mql").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/inquiries/\?stage=mql&sort=score$"))
    expect(page.locator("#inbox")).to_contain_text("MQL")


def test_demo_rep_sees_the_leads_awaiting_their_acceptance(live_server, page, demo, screenshot):
    log_in(page, live_server, "rep@acme.example", DEMO_PASSWORD)
    tile = page.get_by_test_id("tile-leads.awaiting_mine")
    expect(tile).to_be_visible()
    assert count_of(page, "leads.awaiting_mine") > 0
    expect(tile.locator(".tile-items li").first).to_contain_text("meeting")
    page.set_viewport_size(PHONE)
    assert sideways_overflow(page) <= 0
    screenshot("phone")
    page.set_viewport_size(DESKTOP)
    screenshot("desktop")
