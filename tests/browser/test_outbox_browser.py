"""In the browser: an admin finds a failed webhook from the start page and retries it; the
worker then delivers it. Screenshots at 1,280 and 390 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from leadflow.outbox import services
from leadflow.outbox.endpoints import services as endpoint_services
from leadflow.outbox.models import OutboxState
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Role
from tests.browser.test_session import log_in
from tests.browser.test_tokens_browser import both_widths
from tests.conftest import make_actor, transactional_databases, wait_until
from tests.factories import TenantFactory
from tests.outbox.conftest import make_partner_side, reload
from tests.outbox.conftest import receiver as webhook_receiver

# The local webhook endpoint of the outbox tests, as a fixture of this module too.
receiver = webhook_receiver

pytestmark = [
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=transactional_databases()),
]


def test_an_admin_retries_a_failed_webhook_and_the_worker_delivers_it(
    live_server, page, screenshot, csp_errors, receiver, worker
):
    tenant = TenantFactory(slug="outbox-browser", name="Acme Robotics")
    admin = make_actor(tenant, Role.ADMIN, user__full_name="Dana Whitfield")
    northwind = make_partner_side(tenant, "Northwind")
    receiver.status = 410
    with tenant_context(tenant):
        endpoint = endpoint_services.create_endpoint(
            partner=northwind.partner,
            url=receiver.url,
            events=["lead.assigned"],
            by=northwind.principal,
        ).endpoint
        (delivery,) = endpoint_services.publish(
            northwind.partner, "lead.assigned", {"lead": {"id": 41}}, "lead:41:assigned:1"
        )
        services.dispatch_due()
        message = delivery.message
        # The running worker may claim it first (the publish kicks it after commit).
        assert wait_until(lambda: reload(message).state == OutboxState.FAILED, seconds=20)
        # The 410 disabled the endpoint; the partner fixes its receiver and enables it again.
        endpoint.refresh_from_db()
        endpoint_services.update_endpoint(endpoint=endpoint, enabled=True, by=northwind.principal)

    log_in(page, live_server, admin.user.email)
    page.get_by_role("link", name="Failed messages").first.click()
    table = page.get_by_test_id("failed-messages")
    expect(table).to_contain_text("the endpoint answered HTTP 410")
    both_widths(page, screenshot, "failed")

    receiver.status = 204
    page.get_by_role("button", name=f"Retry the webhook to {receiver.url}").click()
    expect(page.get_by_role("status")).to_contain_text("will be sent again")
    expect(page.get_by_test_id("no-failed-messages")).to_be_visible()
    both_widths(page, screenshot, "retried")
    assert wait_until(lambda: reload(message).state == OutboxState.SENT, seconds=10)
    assert csp_errors == []
