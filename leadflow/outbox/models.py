"""One row per message that leaves LeadFlow, written in the transaction that caused it."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from leadflow.tenancy.models import TenantOwnedModel, tenant_foreign_key


class OutboxState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class OutboxMessage(TenantOwnedModel):
    """A message to send once: its sender (``kind``), where to, what, when, and how it went.

    ``key`` is the business key (``appointment:12:confirmation:pat@example.com``),
    unique in the tenant: enqueueing it again returns this row. The email's
    ``Message-ID`` and the webhook's ``webhook-id`` derive from it, so a
    receiver can drop the one repeat a crash between send and mark may cause.
    A ``sending`` row belongs to the dispatcher run named by ``claim_token``
    until ``lease_until``; after that another run may claim it again.
    """

    kind = models.CharField(max_length=30)
    key = models.CharField(max_length=255)
    recipient = models.CharField(max_length=2000)
    payload = models.JSONField(default=dict)
    due_at = models.DateTimeField(default=now)
    state = models.CharField(
        max_length=10, choices=OutboxState.choices, default=OutboxState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # What caused the message (``appointment`` 12), shown where that thing is shown.
    cause_type = models.CharField(max_length=50, blank=True)
    cause_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["created_at", "id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "key"], name="outbox_message_tenant_key"),
        ]
        indexes = [
            # The dispatcher's claim: due pending rows, oldest first.
            models.Index(
                fields=["tenant", "due_at"],
                name="outbox_message_due_idx",
                condition=Q(state="pending"),
            ),
            # Rows whose dispatcher died: a lease that ran out.
            models.Index(
                fields=["tenant", "lease_until"],
                name="outbox_message_lease_idx",
                condition=Q(state="sending"),
            ),
            # The failed-messages page, newest failure first.
            models.Index(
                fields=["tenant", "failed_at"],
                name="outbox_message_failed_idx",
                condition=Q(state="failed"),
            ),
            models.Index(
                fields=["tenant", "cause_type", "cause_id"], name="outbox_message_cause_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


# --- Partner webhooks (issue 18) ------------------------------------------------------------


class WebhookEvent(models.TextChoices):
    """The events a partner's endpoint may subscribe to (docs/api.md, "Webhooks")."""

    LEAD_OFFERED = "lead.offered", "A lead is offered to the partner"
    LEAD_ASSIGNED = "lead.assigned", "A lead is assigned to the partner"
    LEAD_REASSIGNED = "lead.reassigned", "A lead of the partner went to someone else"
    LEAD_RECALLED = "lead.recalled", "A lead was taken back from the partner"
    LEAD_REMINDER = "lead.reminder", "Weekly reminder: lead updates are missing"
    PARTNER_SUSPENDED = "partner.suspended", "The partner is suspended"
    PARTNER_REINSTATED = "partner.reinstated", "The partner is reinstated"
    PARTNER_WARNING = "partner.warning", "The partner is warned"


#: The event a "send test event" sends; no endpoint subscribes to it.
TEST_EVENT = "webhook.test"


class WebhookEndpoint(TenantOwnedModel):
    """A partner's URL that receives its events, signed with its secret (``whsec_…``).

    During a rotation ``previous_secret`` signs too until ``previous_secret_until``,
    so the receiver can switch at its pace. ``failing_since`` is the first failed
    attempt with no success after it: five days of that disables the endpoint.
    """

    partner = tenant_foreign_key("tenancy.Partner", on_delete=models.CASCADE, related_name="+")
    url = models.CharField(max_length=2000)
    events = models.JSONField(default=list)
    description = models.CharField(max_length=300, blank=True)
    enabled = models.BooleanField(default=True)
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["tenant", "partner"], name="outbox_endpoint_partner_idx")]

    def __str__(self) -> str:
        return self.url

    def secrets(self, at: datetime) -> list[str]:
        """What signs a message sent at ``at``: the secret, and the previous one in overlap."""
        signing = [self.secret]
        if self.previous_secret and self.previous_secret_until and at < self.previous_secret_until:
            signing.append(self.previous_secret)
        return signing


class WebhookDelivery(TenantOwnedModel):
    """One event for one endpoint: its outbox message (which carries the state) and its attempts."""

    endpoint = tenant_foreign_key(
        "outbox.WebhookEndpoint", on_delete=models.CASCADE, related_name="deliveries"
    )
    message = tenant_foreign_key("outbox.OutboxMessage", on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=50)
    webhook_id = models.CharField(max_length=60)
    created_at = models.DateTimeField(default=now)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            *TenantOwnedModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "message"], name="outbox_delivery_message"),
        ]
        indexes = [
            models.Index(fields=["tenant", "endpoint", "created_at"], name="outbox_delivery_ep_idx")
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id}"


class WebhookAttempt(TenantOwnedModel):
    """One try of a delivery: exactly what was sent, and what came back (capped)."""

    delivery = tenant_foreign_key(
        "outbox.WebhookDelivery", on_delete=models.CASCADE, related_name="attempts"
    )
    endpoint = tenant_foreign_key(
        "outbox.WebhookEndpoint", on_delete=models.CASCADE, related_name="attempts"
    )
    attempted_at = models.DateTimeField(default=now)
    url = models.CharField(max_length=2000)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField()
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["attempted_at", "id"]
        indexes = [
            models.Index(fields=["tenant", "delivery"], name="outbox_attempt_delivery_idx"),
            models.Index(
                fields=["tenant", "endpoint", "attempted_at"], name="outbox_attempt_ep_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.attempted_at}"
