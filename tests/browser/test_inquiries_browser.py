"""In the browser: edit and sign a lead definition; book an appointment from an inquiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inquiries.models import Inquiry, LeadDefinition
from inquiries.services import definitions as definition_services
from leadflow import outbox
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Appointment, Lead
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import ActivityFactory, InquiryFactory, LeadDefinitionFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()


def seed_history(tenant) -> None:
    """Ninety days of inquiries, most of them fitting the template, a few not at all."""
    now = timezone.now()
    for n in range(36):
        created = now - timedelta(days=2 + n * 2.4)
        fits = n % 4 != 0
        inquiry = InquiryFactory(
            tenant=tenant,
            created_at=created,
            title="VP Operations" if n % 3 == 0 else "Director of Operations",
            company_size=250 if fits else 8,
            industry="manufacturing" if fits else "retail",
            timeline="0-3m" if fits else "unknown",
        )
        ActivityFactory(tenant=tenant, inquiry=inquiry, kind="webinar", occurred_at=created)


def test_marketer_edits_a_draft_and_two_managers_sign_it(live_server, page, screenshot, csp_errors):
    """A marketer raises the draft's threshold; a manager signs for marketing, another for sales."""
    tenant = TenantFactory(slug="signing-browser", name="Signing Co")
    marketer = make_actor(tenant, Role.MARKETER)
    marketing_manager = make_actor(tenant, Role.MANAGER)
    sales_manager = make_actor(tenant, Role.MANAGER)
    LeadDefinitionFactory(tenant=tenant, version=1, name="Agreed last year")
    seed_history(tenant)
    with tenant_context(tenant):
        draft = definition_services.create_draft(
            values={"name": "Spring review"}, by=marketer.principal
        )

    log_in(page, live_server, marketer.user.email)
    page.get_by_role("link", name="Lead definition").click()
    expect(page.get_by_test_id("definition-table")).to_contain_text("Spring review")
    screenshot("definition-list")
    page.get_by_role("link", name="v2 · Spring review").click()
    expect(page.get_by_test_id("definition-heading")).to_have_text("v2 · Spring review")
    expect(page.get_by_test_id("what-if-table")).to_be_attached()
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('what-if-chart'))"
    )
    screenshot("editor")

    page.get_by_label("MQL threshold (points)").fill("70")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status")).to_contain_text("Version 2 saved")
    expect(page.get_by_test_id("definition-threshold")).to_have_text("70")
    expect(page.get_by_label("MQL threshold (points)")).to_have_value("70")
    screenshot("saved")
    with tenant_context(tenant):
        assert LeadDefinition.objects.get(pk=draft.pk).mql_threshold == 70

    page.get_by_label("MQL threshold (points)").fill("0")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_load_state()
    expect(page.get_by_text("Nothing was saved")).to_be_visible()
    expect(page.get_by_text("Ensure this value is greater than or equal to 1.")).to_be_visible()
    with tenant_context(tenant):
        assert LeadDefinition.objects.get(pk=draft.pk).mql_threshold == 70
    log_out(page)

    log_in(page, live_server, marketing_manager.user.email)
    page.goto(f"{live_server.url}/definitions/{draft.pk}/")
    page.get_by_role("button", name="Sign for marketing").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status")).to_contain_text("You signed version 2 for Marketing")
    expect(page.get_by_test_id("sign-off-marketing")).to_contain_text(marketing_manager.user.email)
    expect(page.get_by_role("button", name="Sign for sales")).to_have_count(0)
    screenshot("signed-marketing")
    log_out(page)

    log_in(page, live_server, sales_manager.user.email)
    page.goto(f"{live_server.url}/definitions/{draft.pk}/")
    page.get_by_role("button", name="Sign for sales").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("sign-off-sales")).to_contain_text(sales_manager.user.email)
    expect(page.get_by_role("button", name="Activate version 2")).to_be_visible()
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('what-if-chart'))"
    )
    screenshot("signed-both")
    page.set_viewport_size(PHONE)
    screenshot("signed-both-phone")
    with tenant_context(tenant):
        sides = set(
            LeadDefinition.objects.get(pk=draft.pk).sign_offs.values_list("side", flat=True)
        )
    assert sides == {"marketing", "sales"}
    assert csp_errors == []


def test_qualifier_books_an_appointment_from_the_inquiry_page(
    live_server, page, screenshot, csp_errors
):
    """A qualifier books the decision-maker's meeting; the inquiry becomes a lead for sales."""
    # The confirmations are written to the outbox with the booking; nothing
    # here waits on a worker, so the test reads the outbox instead.
    tenant = TenantFactory(slug="booking-browser", name="Booking Co")
    tenant.timezone = "America/New_York"
    tenant.save()
    qualifier = make_actor(tenant, Role.QUALIFIER)
    rep = make_actor(tenant, Role.REP, user__full_name="Riley Rep")
    definition = LeadDefinitionFactory(tenant=tenant, version=1)
    inquiry = InquiryFactory(
        tenant=tenant,
        first_name="Dana",
        last_name="Okafor",
        company="Freight Co",
        stage="mql",
        score=75,
        fit_score=60,
        engagement_score=15,
        behaviour_level="mql",
        definition=definition,
        score_breakdown=[
            {"rule": "Title: director", "kind": "fit", "points": 15},
            {"rule": "Company size 50–5,000", "kind": "fit", "points": 15},
            {"rule": "Target vertical", "kind": "fit", "points": 10},
            {"rule": "Target geography", "kind": "fit", "points": 5},
            {"rule": "Timeline: within 3 months", "kind": "fit", "points": 15},
            {"rule": "Webinars", "kind": "engagement", "points": 10},
            {"rule": "Downloads", "kind": "engagement", "points": 5},
        ],
    )
    ActivityFactory(tenant=tenant, inquiry=inquiry, kind="webinar", details={"title": "Q3 demo"})
    ActivityFactory(tenant=tenant, inquiry=inquiry, kind="download", details={"asset": "Guide"})

    log_in(page, live_server, qualifier.user.email)
    page.get_by_role("link", name="Inquiries", exact=True).click()
    page.get_by_role("link", name="Dana Okafor").click()
    expect(page.get_by_test_id("inquiry-stage")).to_have_text("MQL")
    expect(page.get_by_test_id("score-breakdown")).to_contain_text("Timeline: within 3 months")
    screenshot("detail")
    page.set_viewport_size(PHONE)
    screenshot("detail-phone")
    page.set_viewport_size(DESKTOP)

    booking = page.get_by_test_id("booking")
    booking.get_by_label("Starts").fill("2031-03-04T14:30")
    booking.get_by_label("Duration (minutes)").fill("45")
    booking.get_by_label("Sales rep").select_option(label="Riley Rep (Sales rep)")
    booking.get_by_label("Location").fill("Video call")
    booking.get_by_role("button", name="Book appointment").click()
    page.wait_for_load_state()

    expect(page.get_by_role("status")).to_contain_text(
        "Appointment booked for 4 Mar 2031 14:30 EST: Dana Okafor is now lead"
    )
    expect(page.get_by_test_id("inquiry-stage")).to_have_text("Lead")
    expect(page.get_by_test_id("lead-card")).to_contain_text("Riley Rep")
    expect(page.get_by_test_id("timeline")).to_contain_text("Appointment booked")
    expect(page.get_by_test_id("booking")).to_have_count(0)
    screenshot("booked")
    with tenant_context(tenant):
        appointment = Appointment.objects.get(inquiry=inquiry)
        assert Lead.objects.get(inquiry=inquiry).rep_id == rep.user.pk
        assert Inquiry.objects.get(pk=inquiry.pk).stage == "lead"
    # 14:30 in New York in March 2031 (EST, before the DST change) is 19:30 UTC.
    assert appointment.starts_at == datetime(2031, 3, 4, 19, 30, tzinfo=UTC)
    with tenant_context(tenant):
        queued = outbox.messages_for(("appointment", appointment.pk))
        assert {message.state for message in queued} == {"pending"}
        assert queued.count() >= 1
    assert csp_errors == []


def test_a_booking_in_the_past_is_refused_on_the_page(live_server, page, screenshot):
    """A time already gone is refused with a message next to the field; nothing is booked."""
    tenant = TenantFactory(slug="past-browser", name="Past Co")
    qualifier = make_actor(tenant, Role.QUALIFIER)
    inquiry = InquiryFactory(tenant=tenant, first_name="Sam", last_name="Late")

    log_in(page, live_server, qualifier.user.email)
    page.goto(f"{live_server.url}/inquiries/{inquiry.pk}/")
    page.get_by_label("Starts").fill("2020-01-01T09:00")
    page.get_by_role("button", name="Book appointment").click()
    page.wait_for_load_state()
    expect(page.get_by_role("alert")).to_have_text("The appointment must be in the future.")
    expect(page.get_by_label("Starts")).to_have_value("2020-01-01T09:00")
    screenshot("refused")
    with tenant_context(tenant):
        assert not Appointment.objects.exists()
