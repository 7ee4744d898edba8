"""The demo's outbox: a few delivered emails and one webhook that failed, for the admin page.

Called by ``seed_demo_people`` (``leadflow/tenancy/demo.py``) per demo tenant;
enqueued and dispatched through the services like any message, so the emails
land where the demo's mail goes (``var/mail/``) and the webhook, to an
endpoint whose signing secret LeadFlow does not know, fails for that reason.
Keyed, so a second run adds nothing.
"""

from __future__ import annotations

from django.db import transaction

from leadflow.outbox import services
from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant

DIGEST_ROLES = ("manager", "marketer", "rep")


def seed_demo_messages(*, tenant: Tenant) -> int:
    """Enqueue and dispatch the demo's messages of ``tenant``; returns how many are new."""
    with tenant_context(tenant):
        before = OutboxMessage.objects.filter(key__startswith="demo:").count()
        with transaction.atomic():
            for role in DIGEST_ROLES:
                services.enqueue(
                    kind="email",
                    key=f"demo:digest:2026-w49:{role}",
                    recipient=f"{role}@{tenant.slug}.example",
                    payload={
                        "subject": f"{tenant.name}: your weekly lead digest",
                        "text": "3 new MQLs, 2 appointments booked, 1 lead waiting for "
                        "acceptance. Open LeadFlow to see them.",
                    },
                    cause=("digest", "2026-w49"),
                )
            services.enqueue(
                kind="webhook",
                key="demo:webhook:crm:lead.accepted",
                recipient=f"https://crm.{tenant.slug}.example/hooks/leadflow",
                payload={"type": "lead.accepted", "data": {"lead": "demo"}},
                cause=("webhook-endpoint", "crm"),
            )
        services.dispatch_due()
        return OutboxMessage.objects.filter(key__startswith="demo:").count() - before
