"""What leaves LeadFlow carries the payload and its identity only: no tenant, key or secret."""

from __future__ import annotations

from django.conf import settings
from django.core import mail

from leadflow.outbox import services
from leadflow.tenancy import services as tenancy_services
from tests.outbox.conftest import WEBHOOK_SECRET, enqueue_email

INTERNAL_NOTE = "internal: the buyer's CFO hates us"


def _internal_values(tenant, message, api_key: str) -> list[str]:
    return [
        f"tenant_id={tenant.pk}",
        f"tenant={tenant.pk}",
        tenant.slug,
        message.key,
        settings.SECRET_KEY,
        api_key,
        INTERNAL_NOTE,
    ]


def _api_key(by) -> str:
    return tenancy_services.issue_api_key(name="k", partner=None, role="admin", by=by).secret


def test_an_email_carries_no_internal_data(in_tenant_a, system_a):
    api_key = _api_key(system_a)
    message = enqueue_email(key="appointment:99:confirmation:pat@example.com:secret-key-part")
    services.dispatch_due()
    raw = mail.outbox[0].message().as_string()
    for value in _internal_values(in_tenant_a, message, api_key):
        assert value not in raw
    headers = {name.lower() for name in mail.outbox[0].message()}
    assert headers <= {
        "content-type",
        "mime-version",
        "content-transfer-encoding",
        "subject",
        "from",
        "to",
        "date",
        "message-id",
    }


def test_a_webhook_carries_no_internal_data(in_tenant_a, system_a, receiver, fixed_secret):
    api_key = _api_key(system_a)
    message = services.enqueue(
        kind="webhook",
        key="webhook:3:lead.accepted:41:secret-key-part",
        recipient=receiver.url,
        payload={"type": "lead.accepted", "data": {"lead": 41}},
    )
    services.dispatch_due()
    [(headers, body)] = receiver.requests
    everything = body.decode() + "\n".join(f"{k}: {v}" for k, v in headers.items())
    for value in [*_internal_values(in_tenant_a, message, api_key), WEBHOOK_SECRET]:
        assert value not in everything
    assert {name.lower() for name in headers} <= {
        "accept-encoding",
        "connection",
        "content-length",
        "content-type",
        "host",
        "user-agent",
        "webhook-id",
        "webhook-signature",
        "webhook-timestamp",
    }
