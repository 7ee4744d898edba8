"""Reads of partner webhooks: whose endpoints a caller sees, the delivery log, failure rates."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from leadflow.outbox.models import OutboxState, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS

#: The window of the managers' failure rate.
HEALTH_WINDOW = timedelta(days=7)


def endpoints_for(principal: Principal) -> QuerySet[WebhookEndpoint]:
    """A partner's own endpoints; every partner's for managers; none for anyone else."""
    rows = WebhookEndpoint.objects.select_related("partner").order_by("created_at", "id")
    if principal.is_partner:
        assert principal.partner is not None
        return rows.filter(partner_id=principal.partner.pk)
    if principal.has_role(*MANAGERS):
        return rows
    return rows.none()


def deliveries_for(principal: Principal) -> QuerySet[WebhookDelivery]:
    """The deliveries of the endpoints ``principal`` sees, newest first, with their message."""
    rows = WebhookDelivery.objects.select_related("message", "endpoint").order_by(
        "-created_at", "-id"
    )
    if principal.is_partner:
        assert principal.partner is not None
        return rows.filter(endpoint__partner_id=principal.partner.pk)
    if principal.has_role(*MANAGERS):
        return rows
    return rows.none()


def failing() -> Q:
    """Deliveries that failed for good, or whose last attempt failed and that wait to retry."""
    return Q(message__state=OutboxState.FAILED) | Q(
        message__state=OutboxState.PENDING, message__attempts__gt=0
    )


def deliveries_of(
    endpoint: WebhookEndpoint, *, failed_only: bool = False
) -> QuerySet[WebhookDelivery]:
    rows = WebhookDelivery.objects.filter(endpoint_id=endpoint.pk).select_related("message")
    if failed_only:
        rows = rows.filter(failing())
    return rows.order_by("-created_at", "-id")


def attempts_of(delivery_ids: list[int]) -> dict[int, list[WebhookAttempt]]:
    """Each delivery's attempts, oldest first, in one query."""
    found: dict[int, list[WebhookAttempt]] = {pk: [] for pk in delivery_ids}
    for attempt in WebhookAttempt.objects.filter(delivery_id__in=delivery_ids).order_by(
        "attempted_at", "id"
    ):
        found[attempt.delivery_id].append(attempt)
    return found


def with_health(rows: QuerySet[WebhookEndpoint]) -> QuerySet[WebhookEndpoint]:
    """Endpoints annotated with ``recent_attempts`` and ``recent_failures`` (last 7 days)."""
    since = timezone.now() - HEALTH_WINDOW
    return rows.annotate(
        recent_attempts=Count("attempts", filter=Q(attempts__attempted_at__gte=since)),
        recent_failures=Count(
            "attempts",
            filter=Q(attempts__attempted_at__gte=since, attempts__succeeded=False),
        ),
    )


def failure_rate(endpoint: WebhookEndpoint) -> float | None:
    """Failed share of the annotated recent attempts; None with no attempt."""
    attempts = getattr(endpoint, "recent_attempts", 0)
    if not attempts:
        return None
    return float(getattr(endpoint, "recent_failures", 0)) / attempts
