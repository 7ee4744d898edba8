"""In the browser: a qualifier works an MQL from the queue to a booked appointment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inquiries.models import Inquiry, InquiryNote, LeadDefinition
from inquiries.services import definitions as definition_services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from leads.models import Lead, Touch
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import ActivityFactory, InquiryFactory, LeadDefinitionFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def test_a_qualifier_works_an_mql_from_the_queue_to_a_booked_appointment(
    live_server, page, screenshot, csp_errors
):
    """Take the oldest MQL, log calls by keyboard, note, set a task, book by mouse."""
    tenant = TenantFactory(slug="desk-browser", name="Desk Co")
    tenant.timezone = "America/Chicago"
    tenant.save()
    qualifier = make_actor(tenant, Role.QUALIFIER, user__full_name="Quinn Qualifier")
    make_actor(tenant, Role.REP, user__full_name="Sam Rep")
    definition = LeadDefinitionFactory(tenant=tenant, version=1)
    dana = InquiryFactory(
        tenant=tenant,
        first_name="Dana",
        last_name="Okafor",
        title="VP Logistics",
        company="Freight Co",
        stage="mql",
        score=75,
        definition=definition,
        created_at=timezone.now() - timedelta(days=6),
    )
    InquiryFactory(tenant=tenant, first_name="Lee", last_name="Newer", stage="mql", score=70)
    ActivityFactory(tenant=tenant, inquiry=dana, kind="webinar", details={"title": "Q3 demo"})

    log_in(page, live_server, qualifier.user.email)
    page.get_by_role("link", name="Queue", exact=True).click()
    page.wait_for_load_state()
    queue = page.get_by_test_id("mql-queue")
    expect(queue.locator("tbody tr").first).to_contain_text("Dana Okafor")  # oldest first
    screenshot("queue")
    page.get_by_role("button", name="Take Dana Okafor").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("assigned-to")).to_have_text("with Quinn Qualifier")
    expect(page.get_by_test_id("touch-progress")).to_contain_text("0 of 8 touches")

    # Two calls logged by keyboard: the result chosen with the arrow keys, the note typed,
    # the form sent with Enter.
    touch_form = page.get_by_test_id("inquiry-touch-form")
    for presses, outcome in ((1, "No answer"), (2, "Left a message")):
        touch_form.get_by_label("Result").focus()
        for _ in range(presses):
            page.keyboard.press("ArrowDown")
        expect(touch_form.get_by_label("Result")).to_have_value(
            {"No answer": "no_answer", "Left a message": "left_message"}[outcome]
        )
        touch_form.get_by_label("Note").focus()
        page.keyboard.type(f"{outcome} on the main line")
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        touch_form = page.get_by_test_id("inquiry-touch-form")
    expect(page.get_by_test_id("touch-progress")).to_contain_text("2 of 8 touches")
    history = page.get_by_test_id("history")
    expect(history).to_contain_text("Quinn Qualifier logged a call — left a message")

    # A note by keyboard, a task by mouse.
    page.get_by_label("Note", exact=True).first.focus()
    page.keyboard.type("Decision maker is the COO; budget approved.")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.get_by_test_id("notes")).to_contain_text("budget approved")
    task_form = page.get_by_test_id("task-form")
    task_form.get_by_label("Due").fill(
        timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT10:00")
    )
    task_form.get_by_label("What to do").fill("Call back about the demo")
    task_form.get_by_role("button", name="Set task").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("tasks")).to_contain_text("Call back about the demo")
    screenshot("worked")
    page.set_viewport_size(PHONE)
    screenshot("worked-phone")
    page.set_viewport_size(DESKTOP)

    booking = page.get_by_test_id("booking")
    booking.get_by_label("Starts").fill("2031-03-04T10:00")
    booking.get_by_label("Sales rep").select_option(label="Sam Rep (Sales rep)")
    booking.get_by_role("button", name="Book appointment").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("inquiry-stage")).to_have_text("Lead")
    expect(page.get_by_test_id("history")).to_contain_text(
        "Appointment booked for Tue 4 Mar 10:00 (Chicago) with Sam Rep"
    )
    screenshot("booked")
    with tenant_context(tenant):
        assert Inquiry.objects.get(pk=dana.pk).stage == "lead"
        assert Lead.objects.filter(inquiry=dana).exists()
        assert Touch.objects.filter(inquiry=dana, lead__isnull=True).count() == 2
        assert InquiryNote.objects.filter(inquiry=dana).count() == 1
    assert not csp_errors


def test_a_marketer_builds_a_rule_without_typing_json(live_server, page, screenshot, csp_errors):
    """Pick a field, the operator its type allows, a value the data holds, points; save."""
    tenant = TenantFactory(slug="builder-browser", name="Builder Co")
    marketer = make_actor(tenant, Role.MARKETER)
    LeadDefinitionFactory(tenant=tenant, version=1, name="Agreed last year")
    for industry in ("Logistics", "Logistics", "Retail"):
        InquiryFactory(tenant=tenant, industry=industry)
    with tenant_context(tenant):
        draft = definition_services.create_draft(values={"name": "Spring"}, by=marketer.principal)

    log_in(page, live_server, marketer.user.email)
    page.goto(f"{live_server.url}/definitions/{draft.pk}/")
    page.get_by_test_id("open-rule-builder").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("rule-builder-heading")).to_contain_text("v2")
    rows = page.get_by_test_id("fit-row")
    blank = rows.nth(rows.count() - 2)
    blank.get_by_label("field", exact=False).first.select_option(label="Company size")
    operator = blank.locator("select.rule-op")
    # A number offers no "contains" nor "is one of"; a range shows its two bounds.
    expect(operator.locator("option[value=contains]")).to_be_disabled()
    operator.select_option(label="is between")
    blank.locator("input[name$='-low']").fill("100")
    blank.locator("input[name$='-high']").fill("2000")
    blank.locator("input[name$='-points']").fill("25")

    second = rows.nth(rows.count() - 1)
    second.locator("select.rule-field").select_option(label="Industry")
    expect(second.locator("input.rule-value")).to_have_attribute("list", "values-industry")
    expect(page.locator("#values-industry option").first).to_have_attribute("value", "Logistics")
    second.locator("select.rule-op").select_option(label="is one of")
    second.locator("input.rule-value").fill("Logistics")
    second.locator("input[name$='-points']").fill("10")

    engagement = page.get_by_test_id("engagement-row").nth(
        page.get_by_test_id("engagement-row").count() - 2
    )
    engagement.locator("select").select_option(label="Chat")
    engagement.locator("input[name$='-points']").fill("4")
    engagement.locator("input[name$='-half_life_days']").fill("14")
    screenshot("filled")
    page.get_by_role("button", name="Save rules").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status")).to_contain_text("rules saved")
    screenshot("saved")
    page.set_viewport_size(PHONE)
    screenshot("saved-phone")
    with tenant_context(tenant):
        saved = LeadDefinition.objects.get(pk=draft.pk)
    assert {"field": "company_size", "op": "range", "value": [100, 2000], "points": 25} in (
        saved.fit_rules
    )
    assert {"field": "industry", "op": "in", "value": ["Logistics"], "points": 10} in (
        saved.fit_rules
    )
    assert {"activity": "chat", "points": 4, "half_life_days": 14} in saved.engagement_rules
    assert not csp_errors
