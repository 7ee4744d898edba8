"""The outbox: every message that leaves LeadFlow (email, webhook) is a row first.

Callers use these functions, importable from here without touching models at
import time::

    from leadflow import outbox

    outbox.enqueue(kind="email", key=f"appointment:{a.pk}:confirmation:{email}",
                   recipient=email, payload={"subject": ..., "text": ...},
                   cause=("appointment", a.pk))
    outbox.messages_for(("appointment", a.pk))
    outbox.messages_for_each("invitation", [i.pk for i in invitations])
    outbox.register_sender("sms", send_sms)

docs/architecture.md, "The outbox and what exactly-once can honestly mean".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from leadflow.outbox.models import OutboxMessage
    from leadflow.outbox.services import Message as Message


def enqueue(
    *,
    kind: str,
    key: str,
    recipient: str,
    payload: Mapping[str, Any],
    due_at: datetime | None = None,
    cause: tuple[str, object] | None = None,
) -> OutboxMessage:
    """Write a message to send in the caller's transaction; the same key twice is one message."""
    from leadflow.outbox import services

    return services.enqueue(
        kind=kind, key=key, recipient=recipient, payload=payload, due_at=due_at, cause=cause
    )


def enqueue_many(
    kind: str, messages: list[Message], *, due_at: datetime | None = None
) -> list[Message]:
    """Write many messages of one kind in one statement (``services.enqueue_many``)."""
    from leadflow.outbox import services

    return services.enqueue_many(kind, messages, due_at=due_at)


def enqueue_select(
    kind: str,
    rows_sql: str,
    params: Sequence[Any],
    *,
    cause: tuple[str, object] | None = None,
    due_at: datetime | None = None,
) -> int:
    """Write the messages a query selects in one ``INSERT … SELECT`` (``enqueue_select``)."""
    from leadflow.outbox import services

    return services.enqueue_select(kind, rows_sql, params, cause=cause, due_at=due_at)


def check(kind: str, key: str, recipient: str, payload: Mapping[str, Any]) -> None:
    """Refuse (ValueError) a message ``enqueue`` would refuse (``services.check``)."""
    from leadflow.outbox import services

    services.check(kind, key, recipient, payload)


def message(
    key: str, recipient: str, payload: Mapping[str, Any], cause: tuple[str, object] | None = None
) -> Message:
    """One message for :func:`enqueue_many`."""
    from leadflow.outbox import services

    return services.Message(key=key, recipient=recipient, payload=payload, cause=cause)


def messages_for(cause: tuple[str, object]) -> QuerySet[OutboxMessage]:
    """The current tenant's messages caused by one thing (an appointment, an enrollment)."""
    from leadflow.outbox import selectors

    return selectors.messages_for(cause)


def messages_for_each(cause_type: str, cause_ids: Iterable[object]) -> QuerySet[OutboxMessage]:
    """The current tenant's messages caused by any of a list of things, in one query."""
    from leadflow.outbox import selectors

    return selectors.messages_for_each(cause_type, cause_ids)


def register_sender(
    kind: str,
    sender: Callable[[OutboxMessage], None],
    *,
    check: Callable[[str, Mapping[str, Any]], None] | None = None,
) -> None:
    """Name the function that sends messages of ``kind`` (call it from ``AppConfig.ready``)."""
    from leadflow.outbox import senders

    senders.register_sender(kind, sender, check=check)
