"""The browser session: log in, switch tenant, log out, wrong password."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from leadflow.tenancy.models import Role
from tests.conftest import make_actor, transactional_databases
from tests.factories import MembershipFactory, TenantFactory

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def log_in(page, live_server, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_member_logs_in_and_sees_their_tenant_on_home(live_server, page, screenshot):
    """A member who logs in with email and password lands on home, headed with their tenant."""
    tenant = TenantFactory(slug="acme-browser", name="Acme Browser Co")
    actor = make_actor(tenant, Role.MARKETER)

    log_in(page, live_server, actor.user.email)

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_test_id("home-heading")).to_have_text("Acme Browser Co")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    screenshot("home")


def test_user_in_two_tenants_switches_tenant_with_the_switcher(live_server, page, screenshot):
    """A user with memberships in two tenants switches with the switcher; the heading follows."""
    first = TenantFactory(slug="first-browser", name="First Tenant")
    second = TenantFactory(slug="second-browser", name="Second Tenant")
    actor = make_actor(first, Role.MANAGER)
    MembershipFactory(tenant=second, user=actor.user, role=Role.MARKETER)

    log_in(page, live_server, actor.user.email)
    heading = page.get_by_test_id("home-heading")
    expect(heading).to_be_visible()
    start = heading.inner_text().strip()
    assert start in {"First Tenant", "Second Tenant"}
    other = "Second Tenant" if start == "First Tenant" else "First Tenant"

    page.locator(".tenant-menu > summary").click()  # the switcher folds under the tenant's name
    switcher = page.get_by_test_id("tenant-switcher")
    switcher.locator("select[name=tenant]").select_option(label=other)
    switcher.get_by_role("button", name="Switch").click()
    page.wait_for_load_state()

    expect(page).to_have_url(f"{live_server.url}/")
    expect(heading).to_have_text(other)
    expect(switcher.locator("select[name=tenant] option:checked")).to_have_text(other)
    expect(page.get_by_role("status")).to_contain_text(f"Switched to {other}.")
    screenshot("switched")


def test_logging_out_lands_on_login_and_home_then_requires_login(live_server, page, screenshot):
    """Log out (header button, POST /logout/) lands on the login page; / then redirects to login."""
    tenant = TenantFactory(slug="logout-browser", name="Logout Tenant")
    actor = make_actor(tenant, Role.REP)
    log_in(page, live_server, actor.user.email)
    expect(page.get_by_test_id("home-heading")).to_have_text("Logout Tenant")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()

    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/login/"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)

    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/login/\?next=/$"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    screenshot("logged-out")


def test_wrong_password_shows_an_error_and_does_not_log_in(live_server, page, screenshot):
    """A wrong password re-shows the login page with an error; the user is not logged in."""
    tenant = TenantFactory(slug="wrong-browser", name="Wrong Password Tenant")
    actor = make_actor(tenant, Role.ADMIN)

    log_in(page, live_server, actor.user.email, password="not the password")

    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/login/"))
    expect(page.get_by_role("alert")).to_contain_text(
        re.compile(r"Please enter a correct .+ and password")
    )
    expect(page.get_by_label("Email")).to_have_value(actor.user.email)
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    screenshot("wrong-password")

    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/login/\?next=/$"))
