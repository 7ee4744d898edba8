"""In the browser: booking keeps internal notes apart; the public form's custom-field switches."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from inquiries.models import CustomField
from inquiries.services.custom_fields import define_custom_field
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role
from leads.models import Appointment
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import InquiryFactory, LeadDefinitionFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]

INTERNAL_NOTE = "Decision-maker confirmed; wants welding cell demo."
MESSAGE = "Please bring the floor plan of hall 2."


def section_shot(locator, screenshot_dir, name: str) -> None:
    """A PNG of one part of the page, next to the full-page screenshots."""
    locator.screenshot(path=str(screenshot_dir / f"{name}.png"))


def test_qualifier_books_with_a_message_to_the_buyer_and_internal_notes(
    live_server, page, screenshot, screenshot_dir, csp_errors
):
    """Both texts are labelled apart; the lead card shows them, who is invited and the .ics."""
    tenant = TenantFactory(slug="privacy-booking", name="Acme Robotics")
    tenant.timezone = "Europe/Berlin"
    tenant.save()
    qualifier = make_actor(tenant, Role.QUALIFIER, user__full_name="Quinn Qualifier")
    make_actor(tenant, Role.MANAGER, user__full_name="Dana Whitfield")
    inquiry = InquiryFactory(
        tenant=tenant,
        first_name="Kim",
        last_name="Weld",
        company="Weld Works",
        email="kim@weldworks.example",
        stage="mql",
        definition=LeadDefinitionFactory(tenant=tenant, version=1),
    )

    log_in(page, live_server, qualifier.user.email)
    page.goto(f"{live_server.url}/inquiries/{inquiry.pk}/")
    booking = page.get_by_test_id("booking")
    expect(booking.get_by_label("Internal notes — never sent to the buyer")).to_be_visible()
    expect(booking.get_by_label("Message to the buyer")).to_be_visible()
    booking.get_by_label("Starts").fill("2031-03-04T14:30")
    booking.get_by_label("Message to the buyer").fill(MESSAGE)
    booking.get_by_label("Internal notes — never sent to the buyer").fill(INTERNAL_NOTE)
    section_shot(booking, screenshot_dir, "privacy-booking-form-desktop")
    page.set_viewport_size(PHONE)
    section_shot(booking, screenshot_dir, "privacy-booking-form-phone")
    screenshot("form-phone")
    page.set_viewport_size(DESKTOP)
    booking.get_by_role("button", name="Book appointment").click()
    page.wait_for_load_state()

    card = page.get_by_test_id("lead-card")
    expect(card.get_by_test_id("internal-notes")).to_contain_text(INTERNAL_NOTE)
    expect(card.get_by_test_id("message-to-buyer")).to_have_text(MESSAGE)
    expect(card.get_by_test_id("invited")).to_contain_text("Dana Whitfield (Acme Robotics)")
    expect(card.get_by_test_id("invited")).to_contain_text("Quinn Qualifier (Acme Robotics)")
    link = card.get_by_test_id("ics-download")
    expect(link).to_have_attribute("href", f"/inquiries/{inquiry.pk}/appointment.ics")
    section_shot(card, screenshot_dir, "privacy-booked-card-desktop")
    screenshot("booked-desktop")
    page.set_viewport_size(PHONE)
    section_shot(card, screenshot_dir, "privacy-booked-card-phone")
    screenshot("booked-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)

    with page.expect_download() as download:
        link.click()
    content = Path(download.value.path()).read_text(encoding="utf-8")
    assert "BEGIN:VCALENDAR" in content
    assert "floor plan" in content
    assert "welding cell" not in content
    with tenant_context(tenant):
        appointment = Appointment.objects.get(inquiry=inquiry)
    assert (appointment.notes, appointment.message_to_buyer) == (INTERNAL_NOTE, MESSAGE)
    assert csp_errors == []


def test_marketer_puts_a_custom_field_on_the_public_form(
    live_server, page, screenshot, screenshot_dir, csp_errors
):
    """Fields from an import start off the form; one switch puts a field on it."""
    tenant = TenantFactory(slug="privacy-fields", name="Acme Robotics")
    marketer = make_actor(tenant, Role.MARKETER)
    with tenant_context(tenant):
        for key, label, kind, choices in (
            ("employee_band", "Employee band", "text", None),
            ("import_notes", "Import notes", "text", None),
            ("fleet_size", "Fleet size", "number", None),
            ("plan", "Buying plan", "choice", ["Buy", "Lease", "Rent"]),
        ):
            define_custom_field(
                key=key, label=label, kind=kind, choices=choices, by=marketer.principal
            )

    log_in(page, live_server, marketer.user.email)
    page.get_by_role("link", name="Inquiries", exact=True).click()
    page.get_by_test_id("custom-fields-link").click()
    expect(page.get_by_role("heading", name="Custom fields")).to_be_visible()
    expect(page.get_by_test_id("on-form-count")).to_have_text("0 of 4 on the public form.")
    page.get_by_role("button", name="Put on form: Fleet size").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status")).to_contain_text("“Fleet size” is now asked on")
    expect(page.get_by_test_id("on-form-count")).to_have_text("1 of 4 on the public form.")
    expect(page.get_by_role("button", name="Take off the public form: Fleet size")).to_be_visible()
    table = page.get_by_test_id("custom-field-table")
    section_shot(table, screenshot_dir, "privacy-custom-fields-table-desktop")
    screenshot("desktop")
    page.set_viewport_size(PHONE)
    screenshot("phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)

    page.get_by_test_id("public-form-link").click()
    page.wait_for_load_state()
    expect(page.get_by_label("Fleet size")).to_be_visible()
    expect(page.get_by_text("Employee band")).to_have_count(0)
    expect(page.get_by_text("Import notes")).to_have_count(0)
    with tenant_context(tenant):
        assert list(CustomField.objects.filter(on_public_form=True).values_list("key", flat=True))
        assert AuditEvent.objects.filter(action="custom_field.public_form_changed").count() == 1
    assert csp_errors == []
