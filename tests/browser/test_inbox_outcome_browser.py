"""In the browser: a marketer selects inquiries in the inbox and sets their outcome in bulk.

A lead among them is left alone and named. Screenshots at 1,280 and 390 px; axe-core finds
no serious or critical problem on the inbox with its bulk bar.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inquiries.models import Inquiry
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.browser.conftest import DESKTOP
from tests.browser.test_every_page import serious_violations
from tests.browser.test_session import log_in
from tests.browser.test_tokens_browser import both_widths
from tests.conftest import make_actor, transactional_databases
from tests.factories import InquiryFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def test_a_marketer_marks_selected_inquiries_won_and_the_lead_is_named(
    live_server, browser, page, screenshot, csp_errors
):
    tenant = TenantFactory(slug="outcome-browser", name="Outcome Co")
    marketer = make_actor(tenant, Role.MARKETER, user__full_name="Marco Reyes")
    now = timezone.now()
    ada, ben, cleo = (
        InquiryFactory(
            tenant=tenant,
            first_name=name,
            last_name="Buyer",
            company=f"{name} Ltd",
            stage=stage,
            created_at=now - timedelta(hours=n),
        )
        for n, (name, stage) in enumerate([("Ada", "inquiry"), ("Ben", "lead"), ("Cleo", "mql")])
    )

    log_in(page, live_server, marketer.user.email)
    page.goto(f"{live_server.url}/inquiries/")
    expect(page.get_by_test_id("inbox-row")).to_have_count(3)
    for person in (ada, ben, cleo):
        page.get_by_label(f"Select {person.display_name}").check()
    page.get_by_label("Outcome", exact=True).select_option("won")
    page.get_by_label("Closed on (optional)").fill("2026-11-30")
    page.get_by_label("Value in USD (optional)").fill("4500")
    both_widths(page, screenshot, "outcome-chosen")
    page.get_by_test_id("bulk-outcome-submit").click()

    notice = page.get_by_text("2 inquiries marked won.")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Left alone (leads — sales records their outcome): Ben Buyer.")
    both_widths(page, screenshot, "outcome-set")
    with tenant_context(tenant):
        won = dict(Inquiry.objects.values_list("first_name", "outcome"))
    assert won == {"Ada": "won", "Ben": "", "Cleo": "won"}

    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    try:
        tab = context.new_page()
        log_in(tab, live_server, marketer.user.email)
        tab.goto(f"{live_server.url}/inquiries/")
        assert serious_violations(tab) == []
        tab.set_viewport_size({"width": 390, "height": 844})
        assert serious_violations(tab) == []
    finally:
        context.close()
    assert csp_errors == []
