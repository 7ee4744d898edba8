"""The built-in "webhook" sender: an HTTP POST signed the Standard Webhooks way.

The recipient is the endpoint's URL; the payload is ``{"type", "data"}``. The
body is ``{"type", "timestamp", "data"}`` as JSON, with the headers
``webhook-id`` (from the business key, the same on every retry),
``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64 of the
HMAC-SHA256 of ``id.timestamp.body`` under the endpoint's secret; during a
rotation two signatures, space-separated). The secret
never sits in the outbox: the sender asks the resolver set with
:func:`set_secret_resolver` (the webhook endpoints' app registers one); with
none, a webhook fails permanently, saying so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings

from leadflow.outbox import ssrf
from leadflow.outbox.senders import PermanentFailure, TransientFailure, message_identity

if TYPE_CHECKING:
    from leadflow.outbox.models import OutboxMessage

PAYLOAD_FIELDS = frozenset({"type", "data"})
SECRET_PREFIX = "whsec_"

# The spec's schedule after the first, immediate attempt: 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h, 14 h, 20 h, 24 h (about three days in all), each with jitter.
RETRY_DELAYS: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
CONNECT_TIMEOUT_SECONDS = 5
MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_BYTES = 2000

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """Where a webhook goes now and the secrets that sign it (two during a rotation)."""

    url: str
    secrets: tuple[str, ...]


@dataclass
class Attempt:
    """What one attempt sent and got back, for the delivery log."""

    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    excerpt: str = ""
    error: str = ""
    duration_ms: int = 0

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


# Returns a secret, a Target, or None (unknown); raises PermanentFailure to refuse.
SecretResolver = Callable[["OutboxMessage"], "str | Target | None"]
AttemptListener = Callable[["OutboxMessage", Attempt], None]
_resolver: list[SecretResolver] = []
_listeners: list[AttemptListener] = []


def set_secret_resolver(resolver: SecretResolver | None) -> None:
    """Name the function that finds a webhook's signing secret (``whsec_…``) for a message."""
    _resolver.clear()
    if resolver is not None:
        _resolver.append(resolver)


def set_attempt_listener(listener: AttemptListener | None) -> None:
    """Name the function told of every attempt (the webhook endpoints' delivery log)."""
    _listeners.clear()
    if listener is not None:
        _listeners.append(listener)


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


def build_request(
    message: OutboxMessage, *, secrets: Sequence[str], now: float
) -> tuple[dict[str, str], bytes]:
    """The exact headers and body of one attempt; every secret in ``secrets`` signs it."""
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
    signatures = " ".join(
        sign(secret=secret, webhook_id=identity, timestamp=timestamp, body=body)
        for secret in secrets
    )
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "LeadFlow-Webhooks/1",
        "webhook-id": identity,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
    return headers, body


def _target(message: OutboxMessage) -> Target | None:
    found = _resolver[0](message) if _resolver else None
    if isinstance(found, str):
        return Target(url=message.recipient, secrets=(found,))
    return found


def send_webhook(message: OutboxMessage) -> None:
    """POST one event; a 2xx is delivered, a 410 is final, anything else is tried again.

    The URL is checked against SSRF at this moment (:mod:`leadflow.outbox.ssrf`);
    a refused URL fails permanently. Every attempt that got as far as a request
    is reported to the attempt listener (the delivery log), with the exact
    headers and body sent and a capped excerpt of the answer.
    """
    target = _target(message)
    if target is None or not target.secrets:
        raise PermanentFailure("no signing secret is known for this webhook endpoint")
    headers, body = build_request(message, secrets=target.secrets, now=time.time())
    allow_private = bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_TARGETS", False))
    attempt = Attempt(url=target.url, headers=headers, body=body)
    try:
        answer = ssrf.post(
            target.url,
            body=body,
            headers=headers,
            timeout=settings.OUTBOX_WEBHOOK_TIMEOUT_SECONDS,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            max_bytes=MAX_RESPONSE_BYTES,
            allow_private=allow_private,
        )
    except ssrf.Refused as error:
        attempt.error = f"refused: {error}"[:500]
        _report(message, attempt)
        raise PermanentFailure(attempt.error) from None
    except OSError as error:
        attempt.error = f"the endpoint could not be reached: {error}"[:500]
        _report(message, attempt)
        raise TransientFailure(attempt.error) from None
    attempt.status = answer.status
    attempt.excerpt = answer.body[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    attempt.duration_ms = answer.duration_ms
    if 200 <= answer.status < 300:
        _report(message, attempt)
        return
    reason = f"the endpoint answered HTTP {answer.status}"
    if 300 <= answer.status < 400:
        reason += " (redirects are not followed)"
    attempt.error = reason
    _report(message, attempt)
    if answer.status == 410:
        raise PermanentFailure(reason)
    raise TransientFailure(reason)


def _report(message: OutboxMessage, attempt: Attempt) -> None:
    for listener in _listeners:
        try:
            listener(message, attempt)
        except Exception:
            # The send happened; a log that could not be written must not make it a failure.
            logger.exception("recording a webhook attempt failed")
