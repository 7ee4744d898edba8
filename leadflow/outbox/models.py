"""One row per message that leaves LeadFlow, written in the transaction that caused it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from leadflow.tenancy.models import TenantOwnedModel


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
