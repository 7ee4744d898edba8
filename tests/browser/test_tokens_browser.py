"""In the browser: a person creates an API token, copies it once, and revokes one after confirming;
an admin revokes a member's token. Screenshots at 1,280 and 390 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import AuditEvent, Role, UserToken
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import TenantFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def sideways_overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def both_widths(page, screenshot, step: str) -> None:
    """Photograph the page at desktop and phone width; at 390 px nothing scrolls sideways."""
    page.set_viewport_size(DESKTOP)
    screenshot(f"{step}-1280")
    page.set_viewport_size(PHONE)
    assert sideways_overflow(page) <= 0, f"{step} scrolls sideways at 390 px"
    screenshot(f"{step}-390")
    page.set_viewport_size(DESKTOP)


def test_a_person_creates_a_token_sees_it_once_and_revokes_it(
    live_server, page, screenshot, csp_errors
):
    tenant = TenantFactory(slug="tokens-browser", name="Acme Robotics")
    marketer = make_actor(tenant, Role.MARKETER, user__full_name="Marco Reyes")

    log_in(page, live_server, marketer.user.email)
    page.get_by_test_id("who").click()
    page.get_by_test_id("tokens-link").click()
    expect(page.get_by_role("heading", name="API tokens", exact=True)).to_be_visible()
    page.get_by_label("Token name").fill("Zapier — weekly campaign export")
    page.get_by_role("button", name="Create token").click()

    secret = page.get_by_test_id("token-secret").input_value()
    assert re.fullmatch(r"lfu_\d+_[A-Za-z0-9_-]{43}", secret)
    expect(page.get_by_test_id("token-created")).to_contain_text("only time it is shown")
    both_widths(page, screenshot, "created")

    page.get_by_role("button", name="Done, back to your tokens").click()
    table = page.get_by_test_id("your-tokens")
    expect(table).to_contain_text("Zapier — weekly campaign export")
    assert secret not in page.content()
    both_widths(page, screenshot, "list")

    page.get_by_role("link", name=re.compile(r"^Revoke Zapier")).click()
    expect(page.get_by_role("heading")).to_contain_text("Revoke token “Zapier")
    both_widths(page, screenshot, "confirm")
    page.get_by_test_id("confirm-revoke").get_by_role("button", name="Revoke token").click()
    expect(page.get_by_role("status")).to_contain_text("is revoked")
    with tenant_context(tenant):
        assert UserToken.objects.get(name__startswith="Zapier").revoked_at is not None
    both_widths(page, screenshot, "revoked")
    assert csp_errors == []


def test_an_admin_revokes_a_members_token_from_the_tokens_page(live_server, page, screenshot):
    tenant = TenantFactory(slug="tokens-admin-browser", name="Acme Robotics")
    admin = make_actor(tenant, Role.ADMIN, user__full_name="Dana Whitfield")
    make_actor(tenant, Role.QUALIFIER, user__full_name="Quinn Albright")

    log_in(page, live_server, admin.user.email)
    page.goto(f"{live_server.url}/settings/tokens/")
    members = page.get_by_test_id("member-tokens")
    expect(members).to_contain_text("Quinn Albright")
    both_widths(page, screenshot, "admin-list")
    members.get_by_role("link", name=re.compile("Quinn Albright")).click()
    page.get_by_role("button", name="Revoke token").click()

    expect(page.get_by_role("status")).to_contain_text("of Quinn Albright is revoked")
    expect(page.get_by_test_id("no-member-tokens")).to_be_visible()
    with tenant_context(tenant):
        event = AuditEvent.objects.get(action="user_token.revoked")
    assert event.actor_id == admin.user.pk
