"""In the browser: a qualifier finds a duplicate pair, reviews the merge and confirms it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inquiries.models import Inquiry
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import ActivityFactory, InquiryFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def test_qualifier_merges_a_duplicate_from_the_duplicates_list(live_server, page, screenshot):
    tenant = TenantFactory(slug="merge-browser", name="Merge Co")
    qualifier = make_actor(tenant, Role.QUALIFIER)
    week_ago = timezone.now() - timedelta(days=7)
    older = InquiryFactory(
        tenant=tenant,
        first_name="Dana",
        last_name="Okafor",
        email="dana@freight.example",
        company="Freight Co",
        title="VP Logistics",
        consent="opted_in",
        created_at=week_ago,
        updated_at=week_ago,
    )
    newer = InquiryFactory(
        tenant=tenant,
        first_name="Dana",
        last_name="Okafor",
        email="d.okafor@freight.example",
        company="Freight Co",
        title="",
        consent="opted_out",
    )
    ActivityFactory(tenant=tenant, inquiry=older, kind="webinar")
    ActivityFactory(tenant=tenant, inquiry=newer, kind="download")

    log_in(page, live_server, qualifier.user.email)
    page.get_by_text("More", exact=True).first.click()  # the setup pages' menu
    page.get_by_role("link", name="Duplicates", exact=True).click()
    expect(page.get_by_test_id("duplicate-pairs")).to_contain_text("same name and company")
    screenshot("duplicates")
    page.get_by_role("button", name="Review merge").click()
    preview = page.get_by_test_id("merge-preview")
    expect(preview.locator('tr[data-field="consent"] mark')).to_have_text("Opted out")
    expect(preview.locator('tr[data-field="title"] mark')).to_have_text("VP Logistics")
    screenshot("preview")
    page.get_by_test_id("confirm-merge").click()

    expect(page.get_by_role("status")).to_contain_text("Merged 2 inquiries")
    expect(page.get_by_test_id("timeline")).to_contain_text("Merged response")
    screenshot("survivor")
    with tenant_context(tenant):
        survivor = Inquiry.objects.get()
    assert (survivor.pk, survivor.consent) == (newer.pk, "opted_out")
    assert survivor.title == "VP Logistics"
