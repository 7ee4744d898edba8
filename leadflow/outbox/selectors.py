"""Reads of the outbox for the failed-messages page, the API and the pages of a message's cause."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.utils import timezone

from leadflow.outbox.models import OutboxMessage, OutboxState


def due_now() -> Q:
    """What a dispatcher may claim now: due pending messages, and sending ones out of lease."""
    now = timezone.now()
    return Q(state=OutboxState.PENDING, due_at__lte=now) | Q(
        state=OutboxState.SENDING, lease_until__lt=now
    )


def has_due_messages() -> bool:
    """Whether the current tenant has a message to dispatch now (the beat's cheap probe)."""
    return OutboxMessage.objects.filter(due_now()).exists()


def failed_messages() -> QuerySet[OutboxMessage]:
    """The current tenant's failed messages, the latest failure first (one query, no joins)."""
    return OutboxMessage.objects.filter(state=OutboxState.FAILED).order_by("-failed_at", "-id")


def messages_for(cause: tuple[str, object]) -> QuerySet[OutboxMessage]:
    """The current tenant's messages caused by one thing, oldest first, for that thing's page."""
    cause_type, cause_id = cause
    return OutboxMessage.objects.filter(cause_type=cause_type, cause_id=str(cause_id)).order_by(
        "created_at", "id"
    )


def messages_for_each(cause_type: str, cause_ids: Iterable[object]) -> QuerySet[OutboxMessage]:
    """The current tenant's messages caused by any of several things of one type (a page's list).

    One query for a whole list, where :func:`messages_for` would be one per row.
    """
    return OutboxMessage.objects.filter(
        cause_type=cause_type, cause_id__in=[str(cause_id) for cause_id in cause_ids]
    ).order_by("created_at", "id")
