"""In the browser: a qualifier triages the inbox with the keyboard (j/k/x and bulk shortcuts)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inquiries.models import DisqualifyReason, Inquiry
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.browser.conftest import PHONE
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import InquiryFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def stage_of(tenant, pk) -> str:
    with tenant_context(tenant):
        return Inquiry.objects.get(pk=pk).stage


def test_qualifier_triages_the_inbox_with_the_keyboard(live_server, page, screenshot, csp_errors):
    """j/k move, x selects, n nurtures the selection, d + Enter disqualifies with a reason."""
    tenant = TenantFactory(slug="inbox-browser", name="Inbox Co")
    qualifier = make_actor(tenant, Role.QUALIFIER)
    now = timezone.now()
    people = [
        InquiryFactory(
            tenant=tenant,
            first_name=name,
            last_name="Buyer",
            company=f"{name} Ltd",
            score=score,
            created_at=now - timedelta(hours=n),
        )
        for n, (name, score) in enumerate(
            [("Ada", 70), ("Ben", 20), ("Cleo", 45), ("Dev", 5), ("Eve", 60)]
        )
    ]
    with tenant_context(tenant):
        DisqualifyReason.objects.create(tenant=tenant, label="Student")

    log_in(page, live_server, qualifier.user.email)
    page.get_by_role("link", name="Inquiries", exact=True).click()
    expect(page.get_by_test_id("inbox-row")).to_have_count(5)
    screenshot("inbox")

    # Sort by score without a page reload: Ada 70, Eve 60, Cleo 45, Ben 20, Dev 5.
    page.evaluate("window.__sameDocument = true")
    page.get_by_label("Sort").select_option("score")
    expect(page.get_by_test_id("inbox-row").nth(1)).to_contain_text("Eve Buyer")
    expect(page).to_have_url(f"{live_server.url}/inquiries/?sort=score")  # can be shared
    assert page.evaluate("window.__sameDocument") is True

    # The swap has settled (its rows got their keyboard state) before any key is pressed.
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )
    expect(page.get_by_test_id("inbox-row").nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    # Escape leaves the sort box; j j j x selects Ben (20), j x selects Dev (5).
    page.keyboard.press("Escape")
    for key in ["j", "j", "j", "x", "j", "x"]:
        page.keyboard.press(key)
    rows = page.get_by_test_id("inbox-row")
    expect(rows.nth(3)).to_have_class(re.compile(r"\bselected\b"))
    expect(rows.nth(4)).to_have_class(re.compile(r"\bcurrent\b"))
    expect(page.get_by_test_id("bulk-bar")).to_contain_text("2 selected")
    expect(page.get_by_role("button", name="Merge selected")).to_be_visible()
    screenshot("selected")

    page.keyboard.press("n")
    expect(page.get_by_test_id("inbox-notice")).to_have_text("2 inquiries marked for nurture.")
    assert stage_of(tenant, people[1].pk) == "nurture"  # Ben 20
    assert stage_of(tenant, people[3].pk) == "nurture"  # Dev 5
    assert stage_of(tenant, people[2].pk) == "inquiry"
    screenshot("nurtured")

    # After the action the list starts over on the first row: j k returns to Ada, x selects her.
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("x")
    page.keyboard.press("d")
    expect(page.get_by_label("Disqualify reason")).to_be_focused()
    page.get_by_label("Disqualify reason").select_option(label="Student")
    page.get_by_label("Disqualify reason").press("Enter")
    expect(page.get_by_test_id("inbox-notice")).to_have_text("1 inquiry disqualified.")
    assert stage_of(tenant, people[0].pk) == "disqualified"
    screenshot("disqualified")

    # The stage tabs carry their counts and filter in place.
    page.get_by_test_id("stage-tab-nurture").click()
    expect(page.get_by_test_id("inbox-row")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"stage=nurture"))
    assert page.evaluate("window.__sameDocument") is True
    expect(page.locator("#inbox-filters select[name=stage]")).to_have_value("nurture")

    page.set_viewport_size(PHONE)
    screenshot("phone")
    assert csp_errors == [], csp_errors


@pytest.mark.redis
@pytest.mark.postgres
def test_marketer_nurtures_all_matching_and_watches_the_background_job_finish(
    live_server, page, screenshot, csp_errors, worker, monkeypatch
):
    """Over the in-request limit, "all matching" is a job; the inbox polls its progress bar."""
    from inquiries.services import triage

    monkeypatch.setattr(triage, "INLINE_LIMIT", 3)
    monkeypatch.setattr(triage, "JOB_BATCH", 2)
    tenant = TenantFactory(slug="bulk-browser", name="Bulk Co")
    marketer = make_actor(tenant, Role.MARKETER)
    people = [InquiryFactory(tenant=tenant, stage="inquiry") for _ in range(8)]
    InquiryFactory(tenant=tenant, stage="lead")

    log_in(page, live_server, marketer.user.email)
    page.goto(f"{live_server.url}/inquiries/?stage=inquiry")
    expect(page.get_by_test_id("inbox-row")).to_have_count(8)
    page.keyboard.press("x")
    page.get_by_test_id("all-matching").check()
    page.get_by_role("button", name="Nurture").click()

    job = page.get_by_test_id("bulk-job")
    expect(job).to_be_visible()
    screenshot("queued")
    expect(job).to_have_attribute("data-status", "done", timeout=30_000)
    expect(job).to_contain_text("8 inquiries marked for nurture")
    # The rows reload by themselves: none of the eight is an inquiry any more.
    expect(page.get_by_test_id("inbox-row")).to_have_count(0)
    expect(page.get_by_test_id("inbox-empty-filtered")).to_be_visible()
    expect(job).to_be_visible()
    screenshot("done")
    assert {stage_of(tenant, p.pk) for p in people} == {"nurture"}
    assert csp_errors == [], csp_errors
