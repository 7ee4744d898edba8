"""Bounces and complaints from Mailgun's webhooks: hard bounce or complaint → never mailed again.

Mailgun posts JSON ``{"signature": {"timestamp", "token", "signature"},
"event-data": {...}}``; the signature is the hex HMAC-SHA256 of
``timestamp + token`` under the account's webhook signing key
(``MAILGUN_WEBHOOK_SIGNING_KEY``). A ``failed`` event with severity
``permanent`` is a hard bounce, ``complained`` a complaint; temporary
failures and other events are acknowledged and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from inquiries.models import Inquiry
from nurture.models import ConsentSource
from nurture.services.consent import suppress

# A signed request older than this is refused (a replayed capture of a real one).
MAX_AGE_SECONDS = 15 * 60


class BadSignature(Exception):
    """The request is not signed by Mailgun with the configured key (or is stale)."""


def verify_signature(signature: Mapping[str, Any], *, now: float | None = None) -> None:
    key = settings.MAILGUN_WEBHOOK_SIGNING_KEY
    if not key:
        raise BadSignature("no Mailgun signing key is configured")
    timestamp = str(signature.get("timestamp", ""))
    token = str(signature.get("token", ""))
    given = str(signature.get("signature", ""))
    if not timestamp.isdigit() or not token or not given:
        raise BadSignature("the signature is incomplete")
    if abs((now or time.time()) - int(timestamp)) > MAX_AGE_SECONDS:
        raise BadSignature("the signature is too old")
    expected = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise BadSignature("the signature does not match")


@dataclass(frozen=True)
class BounceResult:
    event: str
    action: str  # "suppressed", "ignored", "unknown recipient"


def process_mailgun_event(event_data: Mapping[str, Any]) -> BounceResult:
    """Apply one verified Mailgun event to the current tenant's contacts."""
    event = str(event_data.get("event", ""))
    severity = str(event_data.get("severity", ""))
    if event == "failed" and severity == "permanent":
        source = ConsentSource.BOUNCE
    elif event == "complained":
        source = ConsentSource.COMPLAINT
    else:
        return BounceResult(event=event, action="ignored")
    recipient = str(event_data.get("recipient", "")).strip().lower()
    inquiry = (
        Inquiry.objects.filter(email__iexact=recipient).order_by("pk").first()
        if recipient
        else None
    )
    if inquiry is None:
        return BounceResult(event=event, action="unknown recipient")
    status = event_data.get("delivery-status") or {}
    detail = str(status.get("description") or status.get("message") or event_data.get("reason", ""))
    suppress(inquiry=inquiry, source=source, detail=detail)
    return BounceResult(event=event, action="suppressed")
