"""Writes of partner webhooks: endpoints, secrets, publishing, test, resend, the attempt log.

Every change by a person or key is checked and audited here; the API and the
portal pages call these functions. The outbox sends (``kind="webhook"``);
:func:`resolve_target` tells the sender where and with which secrets, and
:func:`record_attempt` logs what each attempt sent and got and keeps the
endpoint's health: a 410 disables it at once, five days of failures with no
success in between disable it too, and its partner and the managers are told.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import secrets as random_secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.outbox import services as outbox_services
from leadflow.outbox import ssrf
from leadflow.outbox.models import (
    TEST_EVENT,
    OutboxMessage,
    OutboxState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from leadflow.outbox.senders import PermanentFailure
from leadflow.outbox.webhooks import SECRET_PREFIX, Attempt, Target, webhook_id
from leadflow.tenancy.models import Membership, Partner
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leadflow.tenancy.services import record_audit

logger = logging.getLogger(__name__)

CAUSE = "webhook-endpoint"
#: How long the previous secret keeps signing after a rotation.
ROTATION_OVERLAP = timedelta(hours=24)
#: Failing this long with no success in between disables an endpoint.
FAILING_DAYS_LIMIT = timedelta(days=5)
MAX_ENDPOINTS_PER_PARTNER = 10
EVENTS = frozenset(str(event) for event in WebhookEvent)


@dataclass
class IssuedEndpoint:
    """An endpoint and its new secret, shown this once (create and rotate-secret)."""

    endpoint: WebhookEndpoint
    secret: str


def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes (the spec asks for at least 24)."""
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(32)).decode()


def _allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_TARGETS", False))


def clean_url(url: str) -> str:
    """The URL as stored, or RuleViolation: https only, a host, no private address literal.

    A DNS name is resolved and checked when each webhook is sent, not here:
    its answer may change after saving.
    """
    url = (url or "").strip()
    if not url or len(url) > 2000:
        raise RuleViolation(field="url", code="invalid", message="Enter a URL up to 2000 chars.")
    try:
        _scheme, host, _port, _path = ssrf.check_url(url, allow_private=_allow_private())
    except ssrf.Refused as refused:
        raise RuleViolation(field="url", code="refused", message=f"{refused}.") from None
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        reason = ssrf.forbidden_reason(literal, allow_loopback=_allow_private())
        if reason:
            raise RuleViolation(field="url", code="refused", message=f"The URL points at {reason}.")
    elif host == "localhost" and not _allow_private():
        raise RuleViolation(field="url", code="refused", message="The URL points at loopback.")
    return url


def clean_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(str(event) for event in events))
    unknown = [event for event in chosen if event not in EVENTS]
    if unknown:
        raise RuleViolation(
            field="events", code="invalid", message=f"Unknown event(s): {', '.join(unknown)}."
        )
    if not chosen:
        raise RuleViolation(field="events", code="required", message="Choose at least one event.")
    return [str(event) for event in WebhookEvent if str(event) in chosen]


def _check_may_manage(partner: Partner, by: Principal) -> None:
    if by.is_partner:
        if by.partner is None or by.partner.pk != partner.pk:
            raise RuleViolation(
                field="partner", code="forbidden", message="Not your partner's endpoint."
            )
    elif not by.has_role(*MANAGERS):
        raise RuleViolation(
            field="partner", code="forbidden", message="Only managers manage webhook endpoints."
        )


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
    }


@transaction.atomic
def create_endpoint(
    *,
    partner: Partner,
    url: str,
    events: Iterable[str],
    description: str = "",
    enabled: bool = True,
    by: Principal,
) -> IssuedEndpoint:
    """A new endpoint of ``partner`` with a fresh secret (returned once, never shown again)."""
    _check_may_manage(partner, by)
    if WebhookEndpoint.objects.filter(partner_id=partner.pk).count() >= MAX_ENDPOINTS_PER_PARTNER:
        raise RuleViolation(
            field="url",
            code="too_many",
            message=f"A partner has at most {MAX_ENDPOINTS_PER_PARTNER} webhook endpoints.",
        )
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        partner=partner,
        url=clean_url(url),
        events=clean_events(events),
        description=description.strip()[:300],
        enabled=enabled,
        secret=secret,
    )
    record_audit(action="webhook_endpoint.create", obj=endpoint, after=_snapshot(endpoint), by=by)
    return IssuedEndpoint(endpoint=endpoint, secret=secret)


@transaction.atomic
def update_endpoint(
    *,
    endpoint: WebhookEndpoint,
    by: Principal,
    url: str | None = None,
    events: Iterable[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given; enabling a disabled endpoint forgets why it was disabled."""
    _check_may_manage(endpoint.partner, by)
    before = _snapshot(endpoint)
    if url is not None:
        endpoint.url = clean_url(url)
    if events is not None:
        endpoint.events = clean_events(events)
    if description is not None:
        endpoint.description = description.strip()[:300]
    if enabled is not None:
        if enabled and not endpoint.enabled:
            endpoint.disabled_reason = ""
            endpoint.disabled_at = None
            endpoint.failing_since = None
        endpoint.enabled = enabled
        if not enabled and not endpoint.disabled_reason:
            endpoint.disabled_reason = f"Disabled by {by.label}"[:300]
            endpoint.disabled_at = timezone.now()
    endpoint.updated_at = timezone.now()
    endpoint.save()
    record_audit(
        action="webhook_endpoint.update",
        obj=endpoint,
        before=before,
        after=_snapshot(endpoint),
        by=by,
    )
    return endpoint


@transaction.atomic
def delete_endpoint(*, endpoint: WebhookEndpoint, by: Principal) -> None:
    """Delete the endpoint with its log; its pending messages fail (no endpoint, no secret)."""
    _check_may_manage(endpoint.partner, by)
    record_audit(action="webhook_endpoint.delete", obj=endpoint, before=_snapshot(endpoint), by=by)
    endpoint.delete()


@transaction.atomic
def rotate_secret(*, endpoint: WebhookEndpoint, by: Principal) -> IssuedEndpoint:
    """A new secret; the old one keeps signing too (a second signature) for ROTATION_OVERLAP."""
    _check_may_manage(endpoint.partner, by)
    now = timezone.now()
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = now + ROTATION_OVERLAP
    endpoint.secret = secret
    endpoint.updated_at = now
    endpoint.save(
        update_fields=["previous_secret", "previous_secret_until", "secret", "updated_at"]
    )
    record_audit(
        action="webhook_endpoint.rotate_secret",
        obj=endpoint,
        after={"previous_secret_until": endpoint.previous_secret_until.isoformat()},
        by=by,
    )
    return IssuedEndpoint(endpoint=endpoint, secret=secret)


def _message_key(endpoint: WebhookEndpoint, business_key: str) -> str:
    key = f"webhook:{endpoint.pk}:{business_key}"
    if len(key) > 255:
        key = f"webhook:{endpoint.pk}:sha256:{hashlib.sha256(business_key.encode()).hexdigest()}"
    return key


def _deliver(
    endpoint: WebhookEndpoint,
    event_type: str,
    data: Mapping[str, Any],
    business_key: str,
    *,
    due_at: Any = None,
) -> WebhookDelivery:
    message = outbox_services.enqueue(
        kind="webhook",
        key=_message_key(endpoint, business_key),
        recipient=endpoint.url,
        payload={"type": event_type, "data": dict(data)},
        due_at=due_at,
        cause=(CAUSE, endpoint.pk),
    )
    delivery, _created = WebhookDelivery.objects.get_or_create(
        message_id=message.pk,
        defaults={
            "endpoint_id": endpoint.pk,
            "event_type": event_type,
            "webhook_id": webhook_id(message),
        },
    )
    return delivery


def publish(
    partner: Partner | int, event_type: str, data: Mapping[str, Any], business_key: str
) -> list[WebhookDelivery]:
    """One outbox message per enabled endpoint of ``partner`` subscribed to ``event_type``.

    Written in the caller's transaction (it commits or rolls back with the
    change it tells of); the same ``business_key`` again adds nothing, so a
    retried change publishes once. ``data`` is what the partner may know:
    callers build it with the payload helpers, never from a whole model.
    """
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r}")
    partner_id = partner if isinstance(partner, int) else partner.pk
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(partner_id=partner_id, enabled=True)
        if event_type in endpoint.events
    ]
    return [_deliver(endpoint, event_type, data, business_key) for endpoint in endpoints]


@dataclass
class TestResult:
    delivery: WebhookDelivery
    attempt: WebhookAttempt | None


def send_test(*, endpoint: WebhookEndpoint, by: Principal) -> TestResult:
    """Send a ``webhook.test`` event now and return the attempt with the receiver's answer.

    Enqueued as a delivery like any (logged, retried on failure), then sent
    in this call rather than by a worker, so the caller sees the answer.
    """
    _check_may_manage(endpoint.partner, by)
    if not endpoint.enabled:
        raise RuleViolation(
            field="enabled", code="disabled", message="Enable the endpoint to send it a test event."
        )
    with transaction.atomic():
        delivery = _deliver(
            endpoint,
            TEST_EVENT,
            {"endpoint": endpoint.pk, "sent_by": by.label[:200]},
            f"test:{uuid.uuid4().hex}",
            # Due in a minute: no dispatcher is queued for it, this call sends it.
            due_at=timezone.now() + timedelta(minutes=1),
        )
    outbox_services.dispatch_message(delivery.message_id)
    attempt = WebhookAttempt.objects.filter(delivery_id=delivery.pk).order_by("-id").first()
    return TestResult(delivery=delivery, attempt=attempt)


@transaction.atomic
def resend(*, delivery: WebhookDelivery, by: Principal) -> WebhookDelivery:
    """Send a delivered or failed event again, now, with the same ``webhook-id``."""
    _check_may_manage(delivery.endpoint.partner, by)
    if not delivery.endpoint.enabled:
        raise RuleViolation(
            field="endpoint",
            code="disabled",
            message="The endpoint is disabled; enable it before resending.",
            conflict=True,
        )
    updated = OutboxMessage.objects.filter(
        pk=delivery.message_id, state__in=[OutboxState.SENT, OutboxState.FAILED]
    ).update(
        state=OutboxState.PENDING,
        attempts=0,
        due_at=timezone.now(),
        sent_at=None,
        failed_at=None,
        claim_token=None,
        lease_until=None,
    )
    if not updated:
        raise RuleViolation(
            field="state",
            code="in_flight",
            message="This delivery is still being sent; wait for its outcome.",
            conflict=True,
        )
    record_audit(
        action="webhook_delivery.resend",
        obj=delivery,
        after={"webhook_id": delivery.webhook_id},
        by=by,
    )
    outbox_services.kick_after_commit(delivery.tenant_id)
    return delivery


# --- The sender's hooks -------------------------------------------------------------------


def _delivery_of(message: OutboxMessage) -> WebhookDelivery | None:
    """The message's delivery with its endpoint: looked up once per attempt, kept on the message."""
    if "_webhook_delivery" in message.__dict__:
        cached: WebhookDelivery | None = message.__dict__["_webhook_delivery"]
        return cached
    delivery = (
        WebhookDelivery.objects.filter(message_id=message.pk).select_related("endpoint").first()
    )
    message.__dict__["_webhook_delivery"] = delivery
    return delivery


def prepare_deliveries(messages: list[OutboxMessage]) -> None:
    """Read a claimed batch's deliveries with their endpoints in one query, kept on each message."""
    found: dict[int, WebhookDelivery] = {}
    endpoints: dict[int, WebhookEndpoint] = {}
    for delivery in WebhookDelivery.objects.filter(
        message_id__in=[message.pk for message in messages]
    ).select_related("endpoint"):
        # One instance per endpoint: a 410 that disables it stops the rest of the batch.
        delivery.endpoint = endpoints.setdefault(delivery.endpoint_id, delivery.endpoint)
        found[delivery.message_id] = delivery
    for message in messages:
        message.__dict__["_webhook_delivery"] = found.get(message.pk)


def resolve_target(message: OutboxMessage) -> Target | None:
    """Where the message goes now and what signs it; a disabled endpoint refuses (permanent)."""
    if message.cause_type != CAUSE or not message.cause_id.isdigit():
        return None
    delivery = _delivery_of(message)
    if delivery is not None:
        endpoint: WebhookEndpoint | None = delivery.endpoint
    else:
        endpoint = WebhookEndpoint.objects.filter(pk=int(message.cause_id)).first()
    if endpoint is None:
        return None
    if not endpoint.enabled:
        reason = endpoint.disabled_reason or "disabled"
        raise PermanentFailure(f"the webhook endpoint is disabled: {reason}"[:500])
    return Target(url=endpoint.url, secrets=tuple(endpoint.secrets(timezone.now())))


def _asynchronous_commit() -> None:
    """This transaction commits without waiting for the disk (PostgreSQL; as the outbox's marks).

    A database crash within a fraction of a second after it may lose the log
    row of an attempt; never a message, whose state is the outbox's.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def record_attempt(message: OutboxMessage, attempt: Attempt) -> None:
    """Log one attempt of a delivery and update its endpoint's health."""
    delivery = _delivery_of(message)
    if delivery is None:
        return
    now = timezone.now()
    endpoint: WebhookEndpoint = delivery.endpoint
    with transaction.atomic():
        _asynchronous_commit()
        WebhookAttempt.objects.create(
            tenant_id=delivery.tenant_id,
            delivery=delivery,
            endpoint_id=delivery.endpoint_id,
            attempted_at=now,
            url=attempt.url[:2000],
            request_headers=dict(attempt.headers),
            request_body=attempt.body.decode("utf-8", errors="replace"),
            response_status=attempt.status,
            response_excerpt=attempt.excerpt,
            error=attempt.error[:500],
            succeeded=attempt.succeeded,
            duration_ms=attempt.duration_ms,
        )
        if attempt.succeeded:
            if endpoint.failing_since is not None:
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
                endpoint.failing_since = None
            return
        if attempt.status != 410 and endpoint.failing_since is None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
                failing_since=now
            )
            endpoint.failing_since = now
            return
    if attempt.status == 410:
        disable_endpoint(endpoint, reason="The receiver answered 410 Gone.", now=now)
    elif endpoint.failing_since is not None and now - endpoint.failing_since >= FAILING_DAYS_LIMIT:
        days = FAILING_DAYS_LIMIT.days
        disable_endpoint(
            endpoint, reason=f"Every delivery failed for {days} days in a row.", now=now
        )


def disable_endpoint(endpoint: WebhookEndpoint, *, reason: str, now: Any = None) -> bool:
    """Disable an enabled endpoint and tell its partner's contact and the managers (once)."""
    now = now or timezone.now()
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
            enabled=False, disabled_reason=reason[:300], disabled_at=now, updated_at=now
        )
        endpoint.enabled, endpoint.disabled_reason = False, reason[:300]
        if not changed:
            return False
        partner = Partner.objects.get(pk=endpoint.partner_id)
        _tell_disabled(endpoint, partner, reason, now)
    logger.warning(
        "webhook endpoint %s disabled: %s",
        endpoint.pk,
        reason,
        extra={"tenant_id": endpoint.tenant_id, "webhook_endpoint_id": endpoint.pk},
    )
    return True


def _tell_disabled(endpoint: WebhookEndpoint, partner: Partner, reason: str, now: Any) -> None:
    site = getattr(settings, "SITE_URL", "") or ""
    subject = f"Webhook endpoint disabled: {endpoint.url}"[:250]
    text = (
        f"LeadFlow stopped sending events of {partner.name} to {endpoint.url}.\n\n"
        f"Why: {reason}\n\nFix the receiver, then enable the endpoint again and resend "
        f"what it missed from its delivery log: {site}/partner/webhooks/{endpoint.pk}/\n"
    )
    recipients = []
    if partner.contact_email:
        recipients.append(partner.contact_email)
    managers = Membership.objects.filter(
        role__in=MANAGERS, partner__isnull=True, is_active=True, user__is_active=True
    ).select_related("user")
    recipients += [membership.user.email for membership in managers if membership.user.email]
    stamp = now.strftime("%Y%m%dT%H%M%S")
    for email in dict.fromkeys(address.lower() for address in recipients):
        try:
            outbox_services.enqueue(
                kind="email",
                key=f"webhook-disabled:{endpoint.pk}:{stamp}:{email}"[:255],
                recipient=email,
                payload={"subject": subject, "text": text},
                cause=(CAUSE, endpoint.pk),
            )
        except ValueError as refused:
            logger.warning("no webhook-disabled email to %s (%s)", email, refused)
