"""The lead detail page in the browser: a rep accepts a lead and qualifies it, accessibly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Lead
from leads.services.booking import book_appointment
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_every_page import serious_violations, sideways_overflow
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import InquiryFactory, TenantFactory, TouchFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


@pytest.fixture
def setup():
    tenant = TenantFactory(slug="acme-leads", name="Acme Robotics", timezone="Europe/Berlin")
    rep = make_actor(tenant, Role.REP, user__full_name="Riley Rep")
    qualifier = make_actor(tenant, Role.QUALIFIER, user__full_name="Quinn Qualifier")
    inquiry = InquiryFactory(
        tenant=tenant,
        stage="mql",
        first_name="Amelia",
        last_name="Okonkwo-Richardson",
        title="VP Operations",
        company="Northbridge Precision Manufacturing",
        email="amelia@northbridge.example",
        phone="+44 20 7946 0018",
        score=81,
        score_breakdown=[{"rule": "title is VP", "points": 40}, {"rule": "webinar", "points": 41}],
    )
    with tenant_context(tenant):
        lead = book_appointment(
            inquiry=inquiry,
            starts_at=timezone.now() + timedelta(days=3),
            duration_minutes=45,
            rep=rep.user,
            location="https://meet.example/acme/northbridge",
            by=qualifier.principal,
        )
    TouchFactory(tenant=tenant, lead=lead, user=rep.user, note="Left a voicemail")
    return tenant, rep, lead


def test_a_rep_accepts_then_qualifies_a_lead_from_its_page(
    live_server, browser, setup, screenshot_dir
):
    tenant, rep, lead = setup
    # axe is injected as an inline script, which the app's CSP refuses, rightly.
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    try:
        log_in(page, live_server, rep.user.email)
        page.goto(f"{live_server.url}/leads/{lead.pk}/")
        expect(page.get_by_test_id("lead-name")).to_have_text("Amelia Okonkwo-Richardson")
        expect(page.get_by_test_id("lead-stage")).to_have_text("Awaiting acceptance")
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshot_dir / "lead-detail-awaiting-1280.png"), full_page=True)

        page.get_by_role("button", name="Accept lead").click()
        expect(page.get_by_test_id("lead-stage")).to_have_text("Accepted (SAL)")
        expect(page.get_by_test_id("lead-timeline")).to_contain_text("Riley Rep accepted the lead")

        qualify = page.get_by_test_id("action-qualify")
        qualify.get_by_label("Budget").fill("€50k this year")
        qualify.get_by_label("Authority").fill("VP Operations signs")
        qualify.get_by_role("button", name="Mark sales-qualified").click()
        # Need and timeline missing: the form says so, nothing changed.
        expect(page.get_by_test_id("action-qualify").locator(".field-error").first).to_be_visible()
        expect(page.get_by_test_id("lead-stage")).to_have_text("Accepted (SAL)")
        assert serious_violations(page) == []

        qualify = page.get_by_test_id("action-qualify")
        qualify.get_by_label("Need").fill("Track 120 machines across 3 plants")
        qualify.get_by_label("Timeline").fill("Decision in Q3")
        qualify.get_by_role("button", name="Mark sales-qualified").click()
        expect(page.get_by_test_id("lead-stage")).to_have_text("Sales qualified")
        expect(page.get_by_test_id("lead-sql")).to_contain_text("Track 120 machines")
        expect(page.get_by_test_id("touch-count")).to_have_text("1 of 8")
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshot_dir / "lead-detail-sql-1280.png"), full_page=True)

        page.set_viewport_size(PHONE)
        page.reload()
        assert sideways_overflow(page) <= 0
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshot_dir / "lead-detail-sql-390.png"), full_page=True)
    finally:
        context.close()
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).stage == "sql"
