"""In the browser: the appointment panel on the inquiry page — reschedule, cancel, no-show.

Screenshots at 1,280 and 390 px; axe-core finds no serious or critical problem.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Appointment, Lead
from leads.services.booking import book_appointment
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

BERLIN = ZoneInfo("Europe/Berlin")


def axe_problems(browser, live_server, email: str, path: str) -> list[str]:
    """axe-core on the page, in a context of its own that lets axe's script in."""
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    try:
        tab = context.new_page()
        log_in(tab, live_server, email)
        tab.goto(f"{live_server.url}{path}")
        for details in tab.locator("[data-testid=appointment-actions] details").all():
            details.locator("summary").click()
        return serious_violations(tab)
    finally:
        context.close()


def booked(tenant, qualifier, rep, first_name: str):
    inquiry = InquiryFactory(
        tenant=tenant,
        first_name=first_name,
        last_name="Okafor",
        email=f"{first_name.lower()}@freight.example",
        company="Freight Co",
        stage="mql",
    )
    with tenant_context(tenant):
        return book_appointment(
            inquiry=inquiry,
            starts_at=(timezone.now() + timedelta(days=3)).replace(microsecond=0),
            duration_minutes=45,
            rep=rep.user,
            location="Freight Co, Hamburg",
            notes="Budget approved.",
            by=qualifier.principal,
        )


def test_a_manager_reschedules_and_then_cancels_the_meeting(
    live_server, browser, page, screenshot, csp_errors
):
    tenant = TenantFactory(
        slug="appointment-browser", name="Acme Robotics", timezone="Europe/Berlin"
    )
    qualifier = make_actor(tenant, Role.QUALIFIER, user__full_name="Quinn Qualifier")
    manager = make_actor(tenant, Role.MANAGER, user__full_name="Morgan Manager")
    rep = make_actor(tenant, Role.REP, user__full_name="Riley Rep")
    lead = booked(tenant, qualifier, rep, "Dana")

    log_in(page, live_server, manager.user.email)
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    panel = page.get_by_test_id("appointment-actions")
    expect(panel.get_by_test_id("appointment-state")).to_have_text("Upcoming")
    panel.get_by_test_id("appointment-messages").locator("summary").click()
    expect(panel.get_by_test_id("appointment-messages")).to_contain_text("Reminder")
    panel.get_by_test_id("appointment-reschedule").locator("summary").click()
    both_widths(page, screenshot, "panel")
    path = f"/leads/{lead.pk}/"
    assert axe_problems(browser, live_server, manager.user.email, path) == []

    day = (datetime.now(BERLIN) + timedelta(days=5)).date()
    form = panel.get_by_test_id("appointment-reschedule")
    form.get_by_label("Starts").fill(f"{day.isoformat()}T15:00")
    form.get_by_label("Location").fill("Video call")
    form.get_by_role("button", name="Reschedule and send the update").click()
    expect(page.get_by_role("status")).to_contain_text("Rescheduled to")
    with tenant_context(tenant):
        appointment = Appointment.objects.get(pk=lead.appointment_id)
    assert appointment.starts_at == datetime(day.year, day.month, day.day, 15, 0, tzinfo=BERLIN)
    assert appointment.sequence == 1

    panel = page.get_by_test_id("appointment-actions")
    panel.get_by_test_id("appointment-cancel").locator("summary").click()
    panel.get_by_label("Why is it cancelled?").fill("The buyer's budget review moved")
    panel.get_by_role("button", name="Cancel the meeting").click()
    expect(page.get_by_test_id("appointment-state")).to_have_text("Cancelled")
    both_widths(page, screenshot, "cancelled")
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).is_open
    assert csp_errors == []


def test_a_manager_marks_a_no_show_and_the_person_goes_back_to_the_qualifier(
    live_server, browser, page, screenshot, csp_errors
):
    tenant = TenantFactory(slug="no-show-browser", name="Acme Robotics", timezone="Europe/Berlin")
    qualifier = make_actor(tenant, Role.QUALIFIER, user__full_name="Quinn Qualifier")
    manager = make_actor(tenant, Role.MANAGER, user__full_name="Morgan Manager")
    rep = make_actor(tenant, Role.REP, user__full_name="Riley Rep")
    lead = booked(tenant, qualifier, rep, "Sam")
    with tenant_context(tenant):
        Appointment.objects.filter(pk=lead.appointment_id).update(
            starts_at=timezone.now() - timedelta(hours=1)
        )

    log_in(page, live_server, manager.user.email)
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    expect(page.get_by_test_id("appointment-state")).to_have_text("Started: held or no-show?")
    both_widths(page, screenshot, "due")
    path = f"/leads/{lead.pk}/"
    assert axe_problems(browser, live_server, manager.user.email, path) == []
    page.get_by_role("button", name="No-show").click()
    expect(page.get_by_role("status")).to_contain_text("back in the qualifier's queue")
    expect(page.get_by_test_id("lead-stage")).to_have_text("No-show")
    page.goto(f"{live_server.url}/inquiries/{lead.inquiry_id}/")
    expect(page.get_by_test_id("inquiry-stage")).to_have_text("MQL")
    both_widths(page, screenshot, "after-no-show")
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).stage == "no_show"
    assert csp_errors == []
