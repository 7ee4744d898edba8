"""The demo's partner webhook: a disabled endpoint with a log, and no request leaving."""

from __future__ import annotations

from leadflow.outbox import services
from leadflow.outbox.endpoints.demo import seed_demo_webhooks
from leadflow.outbox.models import OutboxState, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from leadflow.tenancy.context import tenant_context
from tests.factories import PartnerFactory


def test_the_demo_seeds_a_disabled_endpoint_with_a_log_once(actors, monkeypatch):
    from leadflow.outbox import ssrf

    def no_network(*args, **kwargs):
        raise AssertionError("the demo must not send a request")

    monkeypatch.setattr(ssrf, "post", no_network)
    PartnerFactory(tenant=actors.tenant_a, name="Northwind Dealers")
    assert seed_demo_webhooks(tenant=actors.tenant_a, partner_name="Northwind Dealers") == 3
    assert seed_demo_webhooks(tenant=actors.tenant_a, partner_name="Northwind Dealers") == 0
    with tenant_context(actors.tenant_a):
        [endpoint] = WebhookEndpoint.objects.all()
        assert not endpoint.enabled and "nothing leaves" in endpoint.disabled_reason
        states = sorted(d.message.state for d in WebhookDelivery.objects.select_related("message"))
        assert states == [OutboxState.FAILED, OutboxState.SENT, OutboxState.SENT]
        assert WebhookAttempt.objects.count() == 5
        assert services.dispatch_due().claimed == 0


def test_without_the_demo_partner_the_demo_adds_nothing(actors):
    assert seed_demo_webhooks(tenant=actors.tenant_a, partner_name="Northwind Dealers") == 0
