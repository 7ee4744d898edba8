"""In the browser: a partner adds a webhook endpoint, keeps its secret, and sends a test event.

The endpoint points at a local receiver (the development setting on); the
receiver's answer shows on the page and the event verifies with the secret the
page showed once, using the Standard Webhooks reference library. The pages
pass axe and fit a 390 px phone; screenshots land in ``test-output/screenshots/``.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect
from standardwebhooks import Webhook

from leadflow.outbox import services as outbox_services
from leadflow.outbox.endpoints import services as endpoint_services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_every_page import serious_violations
from tests.browser.test_session import log_in
from tests.conftest import make_actor, transactional_databases
from tests.factories import PartnerFactory, TenantFactory
from tests.outbox.conftest import make_endpoint, make_partner_side, receiver  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def test_a_partner_creates_an_endpoint_and_sends_a_test_event(
    live_server,
    browser,
    screenshot_dir,
    receiver,  # noqa: F811
):
    receiver.status = 200
    receiver.body = b'{"received": true}'
    tenant = TenantFactory(slug="webhooks-browser", name="Acme Robotics")
    partner = PartnerFactory(tenant=tenant, name="Northwind Dealers")
    nora = make_actor(tenant, Role.REP, partner=partner, user__full_name="Nora Lindqvist")
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        log_in(page, live_server, nora.user.email)
        page.get_by_role("link", name="Webhooks").first.click()
        expect(page.get_by_test_id("no-endpoints")).to_be_visible()
        assert serious_violations(page) == []
        page.get_by_label("Endpoint URL").fill(receiver.url)
        page.get_by_label("lead.offered").check()
        page.get_by_label("lead.assigned").check()
        page.get_by_label("Description").fill("Northwind CRM")
        page.screenshot(path=str(screenshot_dir / "webhooks-new-1280.png"), full_page=True)
        page.get_by_role("button", name="Add endpoint").click()

        secret_box = page.get_by_test_id("webhook-secret")
        expect(secret_box).to_be_visible()
        secret = secret_box.input_value()
        assert secret.startswith("whsec_")
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshot_dir / "webhooks-secret-1280.png"), full_page=True)
        page.get_by_role("button", name="Done, to the endpoint").click()

        expect(page.get_by_test_id("endpoint-status")).to_have_text("Enabled")
        page.get_by_test_id("send-test").click()
        expect(page.get_by_test_id("test-status")).to_have_text("200")
        expect(page.get_by_test_id("test-body")).to_contain_text('"received": true')
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshot_dir / "webhooks-test-1280.png"), full_page=True)

        [(headers, body)] = receiver.requests
        assert Webhook(secret).verify(body, headers)["type"] == "webhook.test"
        assert json.loads(body)["data"]["sent_by"] == nora.user.email
        page.get_by_role("link", name="Failed only").click()
        expect(page.get_by_test_id("no-deliveries")).to_be_visible()
        page.get_by_role("link", name="All", exact=True).click()
        expect(page.locator("[data-delivery]")).to_have_count(1)
        assert secret not in page.content()
    finally:
        context.close()


def test_the_webhook_pages_fit_a_phone_and_pass_axe(
    live_server,
    browser,
    screenshot_dir,
    receiver,  # noqa: F811
):
    tenant = TenantFactory(slug="webhooks-phone", name="Acme Robotics")
    side = make_partner_side(tenant, "Northwind")
    manager = make_actor(tenant, Role.MANAGER, user__full_name="Morgan Ellis")
    endpoint, _ = make_endpoint(side, receiver.url, events=["lead.offered", "lead.reminder"])
    make_endpoint(make_partner_side(tenant, "Contoso"), "https://crm.contoso.example/hooks/lf")
    with tenant_context(tenant):
        endpoint_services.publish(side.partner, "lead.offered", {"lead": {"id": 7}}, "a")
        outbox_services.dispatch_due()
        receiver.status = 503
        receiver.body = b"Service Unavailable: the CRM is restarting"
        endpoint_services.publish(side.partner, "lead.reminder", {"week": "2026-W50"}, "b")
        outbox_services.dispatch_due()
    for who, paths in (
        (side.actor, ["/partner/webhooks/", f"/partner/webhooks/{endpoint.pk}/"]),
        (manager, ["/webhooks/", f"/partner/webhooks/{endpoint.pk}/?failed=1"]),
    ):
        for viewport, width in ((PHONE, 390), (DESKTOP, 1280)):
            context = browser.new_context(viewport=viewport, bypass_csp=True)
            context.set_default_timeout(10_000)
            page = context.new_page()
            try:
                log_in(page, live_server, who.user.email)
                for path in paths:
                    page.goto(f"{live_server.url}{path}")
                    page.wait_for_load_state("networkidle")
                    for summary in page.locator("details.delivery > summary").all():
                        summary.click()
                    name = path.strip("/").replace("/", "-").replace("?failed=1", "-failed")
                    page.screenshot(
                        path=str(screenshot_dir / f"webhooks-{name}-{width}.png"), full_page=True
                    )
                    overflow = page.evaluate(
                        "document.documentElement.scrollWidth"
                        " - document.documentElement.clientWidth"
                    )
                    assert overflow <= 0, f"{path} scrolls sideways by {overflow} px at {width}"
                    assert serious_violations(page) == [], path
            finally:
                context.close()
