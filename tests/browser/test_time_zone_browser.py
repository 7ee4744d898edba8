"""In the browser: a person in another zone than their tenant's reads every time in theirs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from leadflow.tenancy.models import Role, User
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import ActivityFactory, InquiryFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]

# 18:41 UTC: 19:41 in Berlin (the tenant), 13:41 in New York (the person).
MOMENT = datetime(2026, 12, 5, 18, 41, tzinfo=UTC)


def test_a_person_picks_their_zone_and_reads_times_in_it_with_the_zone_named(
    live_server, page, screenshot, csp_errors
):
    tenant = TenantFactory(slug="zones-browser", name="Zones Co", timezone="Europe/Berlin")
    qualifier = make_actor(tenant, Role.QUALIFIER, user__full_name="Quinn Albright")
    inquiry = InquiryFactory(
        tenant=tenant, first_name="Dana", last_name="Okafor", created_at=MOMENT
    )
    ActivityFactory(tenant=tenant, inquiry=inquiry, kind="webinar", occurred_at=MOMENT)

    log_in(page, live_server, qualifier.user.email)
    page.goto(f"{live_server.url}/inquiries/{inquiry.pk}/")
    expect(page.get_by_test_id("timeline")).to_contain_text("5 Dec 2026 19:41 CET")
    screenshot("tenant-zone")

    page.get_by_test_id("who").click()
    expect(page.get_by_label("Time zone")).to_have_value("")
    page.get_by_label("Time zone").select_option("America/New_York")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status")).to_contain_text("Your settings are saved.")
    screenshot("settings")
    assert User.objects.get(pk=qualifier.user.pk).timezone == "America/New_York"

    page.goto(f"{live_server.url}/inquiries/{inquiry.pk}/")
    expect(page.get_by_test_id("timeline")).to_contain_text("5 Dec 2026 13:41 EST")
    expect(page.get_by_text("5 Dec 2026 13:41 EST").first).to_have_attribute(
        "title", "America/New_York"
    )
    page.get_by_role("link", name="Inquiries", exact=True).click()
    expect(page.get_by_test_id("inbox-row").first).to_contain_text("5 Dec 2026 13:41 EST")
    screenshot("own-zone")
    assert "19:41" not in page.content()
    assert csp_errors == []
