"""In the browser: a marketer builds a three-step program with a branch and previews its email.

Email, wait, branch (a click within a day goes back to the wait); the email is
previewed at desktop and phone width; the steps are reordered by keyboard-reachable
buttons and by dragging. Screenshots at 1,280 and 390 px; axe-core finds no
serious or critical problem on the builder page at either width.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from nurture.models import NurtureProgram, NurtureStep
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_every_page import serious_violations
from tests.browser.test_session import log_in
from tests.browser.test_tokens_browser import both_widths
from tests.conftest import make_actor, transactional_databases
from tests.factories import InquiryFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def axe_at(browser, live_server, email: str, path: str, viewport) -> list[str]:
    """axe-core on the page, in a context of its own that lets axe's script in."""
    context = browser.new_context(viewport=viewport, bypass_csp=True)
    try:
        tab = context.new_page()
        log_in(tab, live_server, email)
        tab.goto(f"{live_server.url}{path}")
        return serious_violations(tab)
    finally:
        context.close()


def add_step(page, kind: str, **fields) -> None:
    form = page.get_by_test_id("add-step-form")
    form.get_by_label("Kind").select_option(kind)
    for label, value in fields.items():
        field = form.get_by_label(label, exact=True)
        if label == "On a click, go to step":
            field.select_option(label=value)
        else:
            field.fill(value)
    form.get_by_role("button", name="Add step").click()
    page.wait_for_load_state()


def test_a_marketer_builds_a_program_with_a_branch_and_previews_its_email(
    live_server, browser, page, screenshot, screenshot_dir, csp_errors
):
    tenant = TenantFactory(slug="builder-browser", name="Harbour Freight")
    marketer = make_actor(tenant, Role.MARKETER, user__full_name="Mina Torres")
    InquiryFactory(
        tenant=tenant, first_name="Dana", company="Freight Co", stage="nurture", source="webinar"
    )
    log_in(page, live_server, marketer.user.email)

    page.goto(f"{live_server.url}/nurture/")
    page.get_by_test_id("new-program").click()
    page.get_by_label("Name").fill("Webinar follow-up")
    # The live count follows the ticks (nothing saved): Dana came from a webinar.
    expect(page.get_by_test_id("audience-count")).to_contain_text("1 person in nurture")
    page.get_by_label("Event card").check()
    expect(page.get_by_test_id("audience-count")).to_contain_text("0 people")
    page.get_by_label("Event card").uncheck()
    page.get_by_label("Webinar").check()
    expect(page.get_by_test_id("audience-count")).to_contain_text("1 person in nurture")
    page.get_by_role("button", name="Create program").click()
    expect(page.get_by_role("heading", name="Build: Webinar follow-up")).to_be_visible()

    add_step(
        page,
        "email",
        Subject="{{ first_name }}, your webinar recording",
        Body="Hello {{ first_name }},\n\nThe recording is here.\n\n"
        "Unsubscribe: {{ unsubscribe_url }}",
    )
    add_step(page, "wait", Days="2")
    # A branch with no target is refused with the reason; nothing is added.
    add_step(page, "branch", Days="1")
    expect(page.get_by_text("A branch needs a step to go to on a click.")).to_be_visible()
    add_step(page, "branch", Days="1", **{"On a click, go to step": "Step 2"})
    steps = page.get_by_test_id("builder-step")
    expect(steps).to_have_count(3)
    expect(steps.nth(2)).to_contain_text("→ step 2")
    both_widths(page, screenshot, "builder")

    # The ↑ button (a plain form): the wait first; the branch still goes to the wait.
    page.get_by_role("button", name="Move step 2 up").click()
    expect(steps.nth(0)).to_contain_text("Wait")
    expect(steps.nth(2)).to_contain_text("→ step 1")
    # Dragging the email back to the top.
    steps.nth(1).drag_to(steps.nth(0))
    expect(steps.nth(0)).to_contain_text("Send email")
    expect(steps.nth(2)).to_contain_text("→ step 2")
    with tenant_context(tenant):
        program = NurtureProgram.objects.get(name="Webinar follow-up")
        stored = list(NurtureStep.objects.filter(program=program).order_by("position"))
    assert [(s.kind, s.branch_to) for s in stored] == [
        ("email", None),
        ("wait", None),
        ("branch", 1),
    ]

    page.get_by_role("button", name="Edit & preview step 1").click()
    desktop = page.frame_locator("[data-testid=preview-desktop]")
    expect(desktop.get_by_text("Hello Dana,")).to_be_visible()  # the newest inquiry in nurture
    expect(desktop.get_by_role("link", name="Unsubscribe")).to_be_visible()
    phone = page.get_by_test_id("preview-phone")
    assert phone.bounding_box()["width"] == pytest.approx(375, abs=2)
    expect(
        page.frame_locator("[data-testid=preview-phone]").get_by_text("Hello Dana,")
    ).to_be_visible()
    both_widths(page, screenshot, "preview")
    page.get_by_test_id("email-preview").screenshot(
        path=str(screenshot_dir / "nurture-builder-preview-frames-1280.png")
    )
    page.get_by_role("button", name="Send a test to me").click()
    expect(page.get_by_text(f"A test is on its way to {marketer.user.email}.")).to_be_visible()
    assert csp_errors == []

    path = f"/nurture/builder/{program.pk}/"
    assert axe_at(browser, live_server, marketer.user.email, path, DESKTOP) == []
    assert axe_at(browser, live_server, marketer.user.email, path, PHONE) == []
