"""Who sends each kind of message, and how a sender says a send failed.

A sender is ``fn(message) -> None``: it returns when the receiver has the
message and raises :class:`TransientFailure` (try again later) or
:class:`PermanentFailure` (trying again cannot help) otherwise. Any other
exception counts as transient, so a bug is retried a bounded number of times
and then shown on the failed-messages page instead of being lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leadflow.outbox.models import OutboxMessage

Sender = Callable[["OutboxMessage"], None]
# Refuses, at enqueue time, a recipient or payload the sender could never send (ValueError).
PayloadCheck = Callable[[str, Mapping[str, Any]], None]

_senders: dict[str, Sender] = {}
_checks: dict[str, PayloadCheck] = {}
# A kind with its own retry schedule (seconds after each failed attempt; webhooks follow the
# Standard Webhooks one); other kinds back off exponentially up to OUTBOX_MAX_ATTEMPTS.
_schedules: dict[str, tuple[int, ...]] = {}
# Reads a claimed batch's context at once (one query for 50 webhooks, not one each).
BatchPreparer = Callable[[list["OutboxMessage"]], None]
_preparers: dict[str, BatchPreparer] = {}


class SendFailure(Exception):
    """A send did not reach its receiver; ``reason`` is shown to admins."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TransientFailure(SendFailure):
    """The network, a 5xx or 429, a temporary SMTP answer: the same send may work later."""


class PermanentFailure(SendFailure):
    """An invalid address, a 4xx, a permanent SMTP answer: the send will never work as it is."""


class UnknownKind(LookupError):
    """No sender is registered for a message's kind."""


def register_sender(
    kind: str,
    sender: Sender,
    *,
    check: PayloadCheck | None = None,
    retry_delays: tuple[int, ...] | None = None,
    prepare: BatchPreparer | None = None,
) -> None:
    """Name the sender of ``kind`` (its payload check, its retry schedule); again replaces all."""
    if not kind or len(kind) > 30:
        raise ValueError("a message kind is 1 to 30 characters")
    _senders[kind] = sender
    _checks.pop(kind, None)
    _schedules.pop(kind, None)
    if check is not None:
        _checks[kind] = check
    if retry_delays is not None:
        _schedules[kind] = tuple(retry_delays)
    _preparers.pop(kind, None)
    if prepare is not None:
        _preparers[kind] = prepare


def set_preparer(kind: str, prepare: BatchPreparer | None) -> None:
    """Name (or clear) the function that reads a claimed batch of ``kind`` before its sends."""
    _preparers.pop(kind, None)
    if prepare is not None:
        _preparers[kind] = prepare


def prepare_batch(messages: list[OutboxMessage]) -> None:
    """Let each kind's preparer read what its sends will need, for the whole batch at once."""
    kinds = {message.kind for message in messages}
    for kind in sorted(kinds & set(_preparers)):
        _preparers[kind]([message for message in messages if message.kind == kind])


def retry_delays(kind: str) -> tuple[int, ...] | None:
    """The kind's own retry schedule: the delay after attempt 1, 2, …; None: the default."""
    return _schedules.get(kind)


def check_payload(kind: str, recipient: str, payload: Mapping[str, Any]) -> None:
    """Raise ValueError when ``kind`` has no sender or its check refuses the message."""
    if kind not in _senders:
        raise ValueError(f"no sender is registered for {kind!r} messages")
    check = _checks.get(kind)
    if check is not None:
        check(recipient, payload)


def sender_for(kind: str) -> Sender:
    try:
        return _senders[kind]
    except KeyError:
        raise UnknownKind(f"no sender is registered for {kind!r} messages") from None


def registered_kinds() -> list[str]:
    return sorted(_senders)


def message_identity(message: OutboxMessage) -> str:
    """The message's stable identity for its receiver, from the tenant and the business key.

    A hash, so the receiver learns neither the tenant's id nor the key; the
    same key always gives the same identity, across retries and a resend.
    """
    digest = hashlib.sha256(f"{message.tenant_id}:{message.key}".encode()).hexdigest()
    return digest[:40]
