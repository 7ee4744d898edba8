"""The built-in "webhook" sender: an HTTP POST signed the Standard Webhooks way.

The recipient is the endpoint's URL; the payload is ``{"type", "data"}``. The
body is ``{"type", "timestamp", "data"}`` as JSON, with the headers
``webhook-id`` (from the business key, the same on every retry),
``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64 of the
HMAC-SHA256 of ``id.timestamp.body`` under the endpoint's secret). The secret
never sits in the outbox: the sender asks the resolver set with
:func:`set_secret_resolver` (the webhook endpoints' app registers one); with
none, a webhook fails permanently, saying so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings

from leadflow.outbox.senders import PermanentFailure, TransientFailure, message_identity

if TYPE_CHECKING:
    from leadflow.outbox.models import OutboxMessage

PAYLOAD_FIELDS = frozenset({"type", "data"})
SECRET_PREFIX = "whsec_"

SecretResolver = Callable[["OutboxMessage"], str | None]
_resolver: list[SecretResolver] = []


def set_secret_resolver(resolver: SecretResolver | None) -> None:
    """Name the function that finds a webhook's signing secret (``whsec_…``) for a message."""
    _resolver.clear()
    if resolver is not None:
        _resolver.append(resolver)


def check_payload(recipient: str, payload: Mapping[str, Any]) -> None:
    unknown = set(payload) - PAYLOAD_FIELDS
    if unknown:
        raise ValueError(f"a webhook payload has no field(s) {sorted(unknown)}")
    if not isinstance(payload.get("type"), str) or not payload["type"]:
        raise ValueError("a webhook payload needs a type")
    if not recipient.startswith(("https://", "http://")):
        raise ValueError("a webhook's recipient is an http(s) URL")


def sign(*, secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header of Standard Webhooks (``v1,<base64 HMAC-SHA256>``)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def webhook_id(message: OutboxMessage) -> str:
    return f"msg_{message_identity(message)}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def build_request(message: OutboxMessage, *, secret: str, now: float) -> urllib.request.Request:
    timestamp = int(now)
    body = json.dumps(
        {
            "type": message.payload["type"],
            "timestamp": datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z"),
            "data": message.payload.get("data", {}),
        },
        separators=(",", ":"),
    ).encode()
    identity = webhook_id(message)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "LeadFlow-Webhooks/1",
        "webhook-id": identity,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(
            secret=secret, webhook_id=identity, timestamp=timestamp, body=body
        ),
    }
    return urllib.request.Request(message.recipient, data=body, headers=headers, method="POST")


def send_webhook(message: OutboxMessage) -> None:
    """POST one event; a network error, 5xx or 429 is transient, any other non-2xx permanent."""
    secret = _resolver[0](message) if _resolver else None
    if not secret:
        raise PermanentFailure("no signing secret is known for this webhook endpoint")
    request = build_request(message, secret=secret, now=time.time())
    timeout = settings.OUTBOX_WEBHOOK_TIMEOUT_SECONDS
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise TransientFailure(f"the endpoint could not be reached: {reason}"[:500]) from None
    if 200 <= status < 300:
        return
    reason = f"the endpoint answered HTTP {status}"
    if status >= 500 or status in (408, 429):
        raise TransientFailure(reason)
    raise PermanentFailure(reason)
