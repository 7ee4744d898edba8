"""In the browser: an admin invites a colleague, the colleague accepts from the emailed
link in a browser of their own, and appears on the members page by name."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from leadflow.outbox.models import OutboxMessage, OutboxState
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases, wait_until
from tests.factories import PartnerFactory, TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]

LINK = re.compile(r"https?://\S+/invitations/\S+/")


def invitation_email_sent(tenant) -> bool:
    with tenant_context(tenant):
        return OutboxMessage.objects.filter(kind="invitation", state=OutboxState.SENT).exists()


def test_admin_invites_a_member_who_accepts_from_the_email(
    live_server, browser, page, screenshot, screenshot_dir, csp_errors, worker
):
    tenant = TenantFactory(slug="acme-members", name="Acme Robotics", timezone="Europe/Berlin")
    PartnerFactory(tenant=tenant, name="Northwind Dealers")
    admin = make_actor(
        tenant, Role.ADMIN, user__full_name="Dana Whitfield", user__email="dana@acme.example"
    )
    make_actor(tenant, Role.MARKETER, user__full_name="Marco Reyes")

    log_in(page, live_server, admin.user.email)
    # The tenant's setup pages are under "More" in the top bar.
    page.locator("details.more-menu > summary").click()
    page.locator("details.more-menu").get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members", level=1)).to_be_visible()
    page.get_by_label("Email").fill("quinn.albright@acme.example")
    page.get_by_role("combobox", name="Role").select_option(label="Qualifier")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text("Invited quinn.albright@acme.example")
    expect(page.get_by_test_id("invitation-table")).to_contain_text("quinn.albright@acme.example")
    screenshot("invited")
    page.set_viewport_size(PHONE)
    screenshot("invited-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)

    # The worker sends the email; its link is absolute.
    assert wait_until(lambda: any("quinn.albright@acme.example" in m.to for m in mail.outbox))
    [message] = [m for m in mail.outbox if "quinn.albright@acme.example" in m.to]
    link = LINK.search(message.body).group(0)
    assert link.startswith(live_server.url)

    # The members page shows that the email went out (the outbox's state of the link).
    assert wait_until(lambda: invitation_email_sent(tenant))
    page.reload()
    expect(page.get_by_test_id("invitation-email")).to_contain_text("Sent")
    screenshot("invitation-sent")
    page.set_viewport_size(PHONE)
    expect(page.get_by_test_id("invitation-email-narrow")).to_contain_text("Sent")
    screenshot("invitation-sent-phone")
    page.set_viewport_size(DESKTOP)

    # Quinn opens it in a browser of their own, sets a name and a password.
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(10_000)
    quinn = context.new_page()
    try:
        quinn.goto(link)
        expect(quinn.get_by_role("heading", name="Join Acme Robotics")).to_be_visible()
        quinn.screenshot(
            path=str(screenshot_dir / "test_admin_invites_a_member-accept-phone.png"),
            full_page=True,
        )
        assert quinn.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        quinn.get_by_label("Your name").fill("Quinn Albright")
        quinn.get_by_label("Password", exact=True).fill("weld cells at dawn")
        quinn.get_by_label("Password again").fill("weld cells at dawn")
        quinn.get_by_role("button", name="Join Acme Robotics").click()
        expect(quinn.get_by_role("status")).to_contain_text("Welcome to Acme Robotics")
        quinn.set_viewport_size(DESKTOP)
        expect(quinn.get_by_test_id("who")).to_contain_text("Quinn Albright")
        expect(quinn.get_by_test_id("role")).to_have_text("Qualifier")
        quinn.screenshot(
            path=str(screenshot_dir / "test_admin_invites_a_member-joined.png"), full_page=True
        )
        # The link is used up.
        quinn.goto(link)
        expect(
            quinn.get_by_role("heading", name="This invitation was already used")
        ).to_be_visible()
    finally:
        context.close()

    # Back on the admin's page, Quinn is a member, shown by name.
    page.reload()
    table = page.get_by_test_id("member-table")
    expect(table).to_contain_text("Quinn Albright")
    expect(table.get_by_role("row", name=re.compile("Quinn Albright"))).to_contain_text("Qualifier")
    expect(page.get_by_test_id("invitation-table")).to_have_count(0)
    screenshot("member-appears")
    page.set_viewport_size(PHONE)
    screenshot("member-appears-phone")
    assert csp_errors == []


def test_the_last_admin_is_told_why_they_cannot_step_down(live_server, page, screenshot):
    tenant = TenantFactory(slug="acme-last-admin", name="Acme Robotics")
    admin = make_actor(
        tenant, Role.ADMIN, user__full_name="Dana Whitfield", user__email="dana@acme.example"
    )
    log_in(page, live_server, admin.user.email)
    page.goto(f"{live_server.url}/members/{admin.membership.pk}/")
    page.get_by_role("combobox", name="Role").select_option(label="Manager")
    page.get_by_role("button", name="Change role").click()
    expect(page.get_by_role("alert")).to_contain_text("last active admin of Acme Robotics")
    screenshot("last-admin")
    page.set_viewport_size(PHONE)
    screenshot("last-admin-phone")
