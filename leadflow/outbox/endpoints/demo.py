"""The demo's partner webhook: one endpoint of the demo partner with a few deliveries logged.

Nothing leaves the machine: the endpoint points at an ``.example`` host and
is left **disabled** (saying why), and its deliveries' attempts are recorded
as a receiver would have answered them (a 200, a 503 then a 200, a 410 Gone
would disable it, so not that one), without a request. Enable it with a
local receiver (and ``WEBHOOKS_ALLOW_PRIVATE_TARGETS=1``) to try it for real.
Keyed, so a second run adds nothing.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from leadflow.outbox.endpoints import services
from leadflow.outbox.models import OutboxMessage, OutboxState, WebhookEndpoint
from leadflow.outbox.webhooks import Attempt, build_request
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Partner, Tenant
from leadflow.tenancy.principal import Principal

DEMO_URL = "https://crm.northwind.example/hooks/leadflow"
DISABLED = "Demo endpoint: nothing leaves this machine. Point it at your receiver, then enable it."
EVENTS = ["lead.offered", "lead.assigned", "lead.recalled", "lead.reminder", "partner.warning"]

# (event, data, answers): each answer one attempt (status, body), oldest first.
DELIVERIES = [
    (
        "lead.offered",
        {"lead": {"id": 1001, "stage": "awaiting_acceptance", "company": "Volga Robotics"}},
        [(200, '{"received": true}')],
    ),
    (
        "lead.assigned",
        {"lead": {"id": 1002, "stage": "accepted", "company": "Hartley Fabrication"}},
        [(503, "upstream CRM is restarting"), (200, '{"received": true}')],
    ),
    (
        "lead.reminder",
        {"week": "2026-W49", "leads": [{"id": 1002}, {"id": 1003}]},
        [(500, "Internal Server Error"), (500, "Internal Server Error")],
    ),
]


def seed_demo_webhooks(*, tenant: Tenant, partner_name: str) -> int:
    """The demo partner's endpoint and its logged deliveries; returns how many are new."""
    with tenant_context(tenant):
        partner = Partner.objects.filter(name=partner_name).first()
        if partner is None or WebhookEndpoint.objects.filter(partner_id=partner.pk).exists():
            return 0
        by = Principal.system(tenant, "demo")
        with transaction.atomic():
            endpoint = services.create_endpoint(
                partner=partner,
                url=DEMO_URL,
                events=EVENTS,
                description="Northwind CRM (demo)",
                by=by,
            ).endpoint
            for n, (event, data, answers) in enumerate(DELIVERIES):
                [delivery] = services.publish(partner, event, data, f"demo:{n}")
                message = OutboxMessage.objects.get(pk=delivery.message_id)
                # Kept from the dispatcher: the log below is what it would have recorded.
                OutboxMessage.objects.filter(pk=message.pk).update(
                    due_at=timezone.now() + timedelta(days=365)
                )
                for status, body in answers:
                    headers, sent = build_request(
                        message, secrets=[endpoint.secret], now=time.time()
                    )
                    services.record_attempt(
                        message,
                        Attempt(
                            url=endpoint.url,
                            headers=headers,
                            body=sent,
                            status=status,
                            excerpt=body,
                            error="" if status < 300 else f"the endpoint answered HTTP {status}",
                            duration_ms=80 + 40 * n,
                        ),
                    )
                succeeded = answers[-1][0] < 300
                OutboxMessage.objects.filter(pk=message.pk).update(
                    attempts=len(answers),
                    state=OutboxState.SENT if succeeded else OutboxState.FAILED,
                    sent_at=timezone.now() if succeeded else None,
                    failed_at=None if succeeded else timezone.now(),
                    last_error="" if succeeded else "the endpoint answered HTTP 500",
                )
            services.update_endpoint(endpoint=endpoint, enabled=False, by=by)
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                disabled_reason=DISABLED, failing_since=None
            )
        return len(DELIVERIES)
