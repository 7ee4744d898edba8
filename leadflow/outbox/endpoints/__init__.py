"""Partner webhook endpoints (issue 18): who receives which events, signed how, and the log.

Each event for each subscribed endpoint is one outbox message of kind
``webhook`` (leadflow/outbox/webhooks.py sends it, Standard Webhooks 1.0);
this package keeps the endpoints and their secrets, writes the deliveries,
and records every attempt the sender reports. Callers publish with::

    from leadflow.outbox.endpoints.services import publish

    publish(partner, "lead.assigned", {"lead": {...}}, business_key=f"lead:{pk}:assigned:{n}")

docs/architecture.md, "Partner webhooks".
"""

from __future__ import annotations


def connect() -> None:
    """Give the webhook sender its secret resolver and attempt listener (``AppConfig.ready``)."""
    from leadflow.outbox import senders, webhooks
    from leadflow.outbox.endpoints import services

    webhooks.set_secret_resolver(services.resolve_target)
    webhooks.set_attempt_listener(services.record_attempt)
    senders.set_preparer("webhook", services.prepare_deliveries)
