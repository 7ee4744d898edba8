"""Writes of the outbox: enqueue a message, dispatch due ones, retry a failed one.

docs/architecture.md, "The outbox and what exactly-once can honestly mean",
explains the states and why the only possible duplicate is a crash between a
send and its mark.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, F, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from leadflow.lib.rules import RuleViolation
from leadflow.outbox import senders
from leadflow.outbox.models import OutboxMessage, OutboxState
from leadflow.outbox.selectors import due_now
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
# One dispatcher run sends at most this many messages, then queues the next run,
# so one tenant's backlog never holds a worker for long.
RUN_LIMIT = 1000


def enqueue(
    *,
    kind: str,
    key: str,
    recipient: str,
    payload: Mapping[str, Any],
    due_at: datetime | None = None,
    cause: tuple[str, object] | None = None,
) -> OutboxMessage:
    """Write a message to send in the caller's transaction; the same key again returns the first.

    A rolled-back transaction takes the message with it; a committed one is
    dispatched right after the commit when it is due now, else by the beat
    once it falls due. Raises ValueError for a kind with no sender or a
    message its sender could never send.
    """
    tenant_id = require_tenant_id()
    _check(kind, key, recipient, payload)
    cause_type, cause_id = _cause_columns(cause)
    row = OutboxMessage(
        tenant_id=tenant_id,
        kind=kind,
        key=key,
        recipient=recipient,
        payload=dict(payload),
        due_at=due_at or timezone.now(),
        cause_type=cause_type,
        cause_id=cause_id,
    )
    # INSERT … ON CONFLICT DO NOTHING: a second enqueue of the key (a retried
    # request, a redelivered task) waits for the first and then leaves it alone.
    OutboxMessage.objects.bulk_create([row], ignore_conflicts=True)
    message = OutboxMessage.objects.get(key=key)
    if message.state == OutboxState.PENDING and message.due_at <= timezone.now():
        kick_after_commit(tenant_id)
    return message


@dataclass(frozen=True)
class Message:
    """One message for :func:`enqueue_many` (``enqueue``'s arguments, ``kind`` aside)."""

    key: str
    recipient: str
    payload: Mapping[str, Any]
    cause: tuple[str, object] | None = None


def enqueue_many(
    kind: str, messages: list[Message], *, due_at: datetime | None = None
) -> list[Message]:
    """``enqueue`` for many messages of one kind: one INSERT whatever their number.

    Each message is checked as ``enqueue`` checks it; one its sender refuses
    (or with a bad key) is left out and logged, the others are written. A key
    already in the outbox keeps its first message (``ON CONFLICT DO NOTHING``).
    Returns the messages written or already there (those not refused); the
    dispatcher is kicked once after the commit.
    """
    tenant_id = require_tenant_id()
    now = timezone.now()
    accepted: list[Message] = []
    for message in messages:
        try:
            _check(kind, message.key, message.recipient, message.payload)
        except ValueError as refused:
            logger.warning("outbox message %s refused: %s", message.key, refused)
            continue
        accepted.append(message)
    if not accepted:
        return accepted
    due = due_at or now
    if connection.vendor == "postgresql":
        _insert_many(tenant_id, kind, accepted, due=due, now=now)
    else:
        OutboxMessage.objects.bulk_create(
            [
                OutboxMessage(
                    tenant_id=tenant_id,
                    kind=kind,
                    key=message.key,
                    recipient=message.recipient,
                    payload=dict(message.payload),
                    due_at=due,
                    cause_type=_cause_columns(message.cause)[0],
                    cause_id=_cause_columns(message.cause)[1],
                    created_at=now,
                )
                for message in accepted
            ],
            ignore_conflicts=True,
        )
    if due <= timezone.now():
        kick_after_commit(tenant_id)
    return accepted


def enqueue_select(
    kind: str,
    rows_sql: str,
    params: Sequence[Any],
    *,
    cause: tuple[str, object] | None = None,
    due_at: datetime | None = None,
) -> int:
    """``enqueue_many`` for messages a query writes (PostgreSQL): one ``INSERT … SELECT``, so
    no message passes through Python. The number of messages newly written.

    ``rows_sql`` (with ``%s`` placeholders for ``params``) selects ``key, recipient,
    payload`` (``jsonb``), one row a message. The caller vouches for each row what
    ``enqueue_many`` checks (``check``: run it on each key and recipient, with a payload
    of the same fields, before building the query); a key already in the outbox keeps its
    first message (``ON CONFLICT DO NOTHING``) and is not counted. The dispatcher is
    kicked once after the commit when something due now was written.
    """
    tenant_id = require_tenant_id()
    now = timezone.now()
    due = due_at or now
    cause_type, cause_id = _cause_columns(cause)
    sql = f"""
WITH m(key, recipient, payload) AS ({rows_sql})
INSERT INTO {OutboxMessage._meta.db_table} (
    tenant_id, kind, key, recipient, payload, due_at, state, attempts, last_error,
    cause_type, cause_id, created_at)
SELECT %s, %s, m.key, m.recipient, m.payload, %s, %s, 0, '', %s, %s, %s FROM m
ON CONFLICT DO NOTHING
"""
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                *params,
                tenant_id,
                kind,
                due,
                str(OutboxState.PENDING),
                cause_type,
                cause_id,
                now,
            ],
        )
        written = max(cursor.rowcount, 0)
    if written and due <= timezone.now():
        kick_after_commit(tenant_id)
    return written


def check(kind: str, key: str, recipient: str, payload: Mapping[str, Any]) -> None:
    """The check ``enqueue`` and ``enqueue_many`` make of a message (ValueError when refused),
    for callers of ``enqueue_select`` to make before their query writes it."""
    _check(kind, key, recipient, payload)


def _check(kind: str, key: str, recipient: str, payload: Mapping[str, Any]) -> None:
    """``enqueue``'s and ``enqueue_many``'s refusal (ValueError): a bad key, or a message
    the kind's sender could never send."""
    if not key or len(key) > 255:
        raise ValueError("an outbox key is 1 to 255 characters")
    senders.check_payload(kind, recipient, payload)


def _cause_columns(cause: tuple[str, object] | None) -> tuple[str, str]:
    """A message's cause as its two columns (``("", "")`` for none)."""
    cause_type, cause_id = cause if cause is not None else ("", "")
    return cause_type, str(cause_id)


def _insert_many(
    tenant_id: int, kind: str, messages: list[Message], *, due: datetime, now: datetime
) -> None:
    """``bulk_create(…, ignore_conflicts=True)`` as one ``INSERT … SELECT FROM unnest``:
    a column an array, not a parameter a field and no model instances (for 2,000 emails,
    Django's preparation of every field of every row cost more than the statement)."""
    sql = f"""
INSERT INTO {OutboxMessage._meta.db_table} (
    tenant_id, kind, key, recipient, payload, due_at, state, attempts, last_error,
    cause_type, cause_id, created_at)
SELECT %(tenant)s, %(kind)s, v.key, v.recipient, v.payload::jsonb, %(due)s, %(state)s, 0, '',
    v.cause_type, v.cause_id, %(now)s
FROM unnest(%(keys)s::text[], %(recipients)s::text[], %(payloads)s::text[],
            %(cause_types)s::text[], %(cause_ids)s::text[])
    AS v(key, recipient, payload, cause_type, cause_id)
ON CONFLICT DO NOTHING
"""
    causes = [_cause_columns(message.cause) for message in messages]
    params: dict[str, Any] = {
        "tenant": tenant_id,
        "kind": kind,
        "due": due,
        "state": str(OutboxState.PENDING),
        "now": now,
        "keys": [message.key for message in messages],
        "recipients": [message.recipient for message in messages],
        "payloads": [json.dumps(dict(message.payload)) for message in messages],
        "cause_types": [cause_type for cause_type, _ in causes],
        "cause_ids": [cause_id for _, cause_id in causes],
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


class _Kick:
    """The after-commit call that queues one tenant's dispatcher run."""

    def __init__(self, tenant_id: int):
        self.tenant_id = tenant_id

    def __call__(self) -> None:
        from leadflow.outbox.tasks import dispatch_outbox_of_tenant

        dispatch_outbox_of_tenant.delay(tenant_id=self.tenant_id)


def kick_after_commit(tenant_id: int) -> None:
    """Queue one dispatcher run for the tenant after the commit (one per transaction).

    ``robust``: a broker that is down must not turn a committed change into an
    error; the beat finds the message a few seconds later.
    """
    pending = getattr(connection, "run_on_commit", [])
    if any(isinstance(f, _Kick) and f.tenant_id == tenant_id for _sids, f, *_ in pending):
        return
    transaction.on_commit(_Kick(tenant_id), robust=True)


@dataclass
class DispatchResult:
    """What one dispatcher run did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    lost: int = 0


def claim_due(*, token: uuid.UUID, size: int) -> list[OutboxMessage]:
    """Take up to ``size`` due messages for the run ``token``, in one short transaction.

    ``SELECT … FOR UPDATE SKIP LOCKED`` lets concurrent dispatchers take
    disjoint rows; the conditional UPDATE marks them ``sending`` with a lease.
    SQLite has no row locks: there the claim runs in an IMMEDIATE transaction,
    which holds the database's one write lock, so claims still never overlap.
    """
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.filter(due_now())
            .order_by("due_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:size]
        )
        if not ids:
            return []
        # No attempt is counted here: a claimed batch whose worker dies before reaching
        # a message must not use up that message's attempts (the chaos run of
        # 2026-12-07 saw messages fail "gave up after 8 attempts" without ever being
        # sent). ``_send_one`` counts each attempt as it starts.
        OutboxMessage.objects.filter(due_now(), id__in=ids).update(
            state=OutboxState.SENDING,
            claim_token=token,
            claimed_at=now,
            lease_until=lease_until,
        )
    return list(
        OutboxMessage.objects.filter(
            id__in=ids, claim_token=token, state=OutboxState.SENDING
        ).order_by("due_at", "id")
    )


def dispatch_due(*, batch_size: int = BATCH_SIZE, limit: int = RUN_LIMIT) -> DispatchResult:
    """Send the current tenant's due messages, batch by batch, each marked right after its send.

    A batch is sent only within the first half of its lease; what is left
    then is released, so no message is ever sent by a run whose lease may
    have ended (the sender's timeout must stay below half the lease).
    """
    token = uuid.uuid4()
    result = DispatchResult()
    while result.claimed < limit:
        batch = claim_due(token=token, size=min(batch_size, limit - result.claimed))
        if not batch:
            break
        result.claimed += len(batch)
        stop_at = time.monotonic() + settings.OUTBOX_LEASE_SECONDS / 2
        _prepare(batch)
        for index, message in enumerate(batch):
            if time.monotonic() > stop_at:
                result.released += _release(batch[index:], token)
                return result
            _send_one(message, token, result)
    return result


def dispatch_message(message_id: int) -> DispatchResult:
    """Send one pending message now, whatever its due time ("send test event" waits for it).

    Claimed like any dispatch (skip locked, a lease), so a dispatcher that
    found it first sends it and this call does nothing.
    """
    token = uuid.uuid4()
    result = DispatchResult()
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.filter(pk=message_id, state=OutboxState.PENDING)
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)
        )
        if not ids:
            return result
        OutboxMessage.objects.filter(pk__in=ids, state=OutboxState.PENDING).update(
            state=OutboxState.SENDING,
            claim_token=token,
            claimed_at=now,
            lease_until=now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
        )
    message = OutboxMessage.objects.get(pk=message_id, claim_token=token)
    result.claimed = 1
    _send_one(message, token, result)
    return result


def _prepare(batch: list[OutboxMessage]) -> None:
    """A preparer that fails only costs its reads: each sender reads for itself then."""
    try:
        senders.prepare_batch(batch)
    except Exception:  # noqa: BLE001 — an optimisation must never stop a dispatch
        logger.exception("preparing a batch of %s messages failed", len(batch))


def _send_one(message: OutboxMessage, token: uuid.UUID, result: DispatchResult) -> None:
    schedule = senders.retry_delays(message.kind)
    max_attempts = len(schedule) + 1 if schedule is not None else settings.OUTBOX_MAX_ATTEMPTS
    # The attempt is counted as it starts (one UPDATE, committed without waiting for
    # the disk like a mark): ``attempts`` is how many sends began, so a count above
    # one on a sent message means a worker died between a send and its mark.
    if not _mine(message, token).update(attempts=F("attempts") + 1):
        _lost(message, result)
        return
    message.attempts += 1
    if message.attempts > max_attempts:
        # Only reachable by reclaiming a message whose worker kept dying mid-send.
        _fail(message, token, result, f"gave up after {max_attempts} attempts")
        return
    try:
        senders.sender_for(message.kind)(message)
    except (senders.PermanentFailure, senders.UnknownKind) as error:
        _fail(message, token, result, str(error))
    except Exception as error:  # noqa: BLE001 — every other error is worth another attempt
        reason = error.reason if isinstance(error, senders.SendFailure) else _describe(error)
        if message.attempts >= max_attempts:
            _fail(message, token, result, f"gave up after {message.attempts} attempts: {reason}")
        else:
            _retry_later(message, token, result, reason, schedule)
    else:
        _mark_sent(message, token, result)


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def _mine(message: OutboxMessage, token: uuid.UUID) -> QuerySet[OutboxMessage]:
    """The message while this run's claim on it holds: an ``update()`` through it is a mark.

    On PostgreSQL the mark's transaction commits without waiting for the disk
    (``synchronous_commit`` off, set by the UPDATE itself, for that
    transaction only). Losing a mark — the database server crashing within a
    fraction of a second after it — only makes the message due again: it is
    sent once more with the same identity, the duplicate a crash between send
    and mark may cause anyway, and never skipped. Waiting for the WAL flush on
    every mark would bound the dispatch rate by the disk instead.
    """
    rows = OutboxMessage.objects.filter(pk=message.pk, state=OutboxState.SENDING, claim_token=token)
    if connection.vendor == "postgresql":
        rows = rows.filter(_ASYNCHRONOUS_COMMIT)
    return rows


_ASYNCHRONOUS_COMMIT = RawSQL(
    "set_config('synchronous_commit', 'off', true) IS NOT NULL", [], output_field=BooleanField()
)


def _lost(message: OutboxMessage, result: DispatchResult) -> None:
    # The lease ran out and another run took the message: its outcome is that run's.
    result.lost += 1
    logger.warning(
        "outbox message %s was claimed again before this run marked it",
        message.pk,
        extra={"tenant_id": message.tenant_id, "outbox_message_id": message.pk},
    )


def _mark_sent(message: OutboxMessage, token: uuid.UUID, result: DispatchResult) -> None:
    marked = _mine(message, token).update(
        state=OutboxState.SENT, sent_at=timezone.now(), lease_until=None
    )
    if marked:
        result.sent += 1
    else:
        _lost(message, result)


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base × 2^(attempts−1))]."""
    ceiling = min(
        settings.OUTBOX_BACKOFF_MAX_SECONDS,
        settings.OUTBOX_BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0),
    )
    return random.uniform(0, ceiling)  # noqa: S311 — jitter, not a secret


def scheduled_delay(schedule: tuple[int, ...], attempts: int) -> float:
    """The schedule's delay after attempt ``attempts``, give or take 10% (jitter)."""
    base = schedule[min(max(attempts, 1), len(schedule)) - 1]
    return base * random.uniform(0.9, 1.1)  # noqa: S311 — jitter, not a secret


def _retry_later(
    message: OutboxMessage,
    token: uuid.UUID,
    result: DispatchResult,
    reason: str,
    schedule: tuple[int, ...] | None = None,
) -> None:
    delay = (
        scheduled_delay(schedule, message.attempts)
        if schedule is not None
        else backoff_seconds(message.attempts)
    )
    due_at = timezone.now() + timedelta(seconds=delay)
    marked = _mine(message, token).update(
        state=OutboxState.PENDING,
        due_at=due_at,
        last_error=reason[:2000],
        claim_token=None,
        lease_until=None,
    )
    if marked:
        result.retried += 1
        logger.info(
            "outbox message %s will be tried again: %s",
            message.pk,
            reason,
            extra={"tenant_id": message.tenant_id, "outbox_message_id": message.pk},
        )
    else:
        _lost(message, result)


def _fail(message: OutboxMessage, token: uuid.UUID, result: DispatchResult, reason: str) -> None:
    marked = _mine(message, token).update(
        state=OutboxState.FAILED,
        failed_at=timezone.now(),
        last_error=reason[:2000],
        lease_until=None,
    )
    if marked:
        result.failed += 1
        logger.warning(
            "outbox message %s failed: %s",
            message.pk,
            reason,
            extra={"tenant_id": message.tenant_id, "outbox_message_id": message.pk},
        )
    else:
        _lost(message, result)


def _release(messages: list[OutboxMessage], token: uuid.UUID) -> int:
    """Give unsent claimed messages back, as if never claimed (no attempt was counted)."""
    return OutboxMessage.objects.filter(
        pk__in=[m.pk for m in messages], state=OutboxState.SENDING, claim_token=token
    ).update(state=OutboxState.PENDING, claim_token=None, lease_until=None)


@transaction.atomic
def retry_message(*, message: OutboxMessage, by: Principal) -> OutboxMessage:
    """Send a failed message again, from a fresh count of attempts, as soon as it commits."""
    updated = OutboxMessage.objects.filter(pk=message.pk, state=OutboxState.FAILED).update(
        state=OutboxState.PENDING,
        attempts=0,
        due_at=timezone.now(),
        failed_at=None,
        claim_token=None,
        lease_until=None,
    )
    if not updated:
        message.refresh_from_db(fields=["state"])
        raise RuleViolation(
            field="state",
            code="not_failed",
            message=f"Only a failed message can be retried; this one is {message.state}.",
            conflict=True,
        )
    record_audit(
        action="outbox.retry",
        obj=message,
        before={"state": OutboxState.FAILED, "last_error": message.last_error},
        after={"state": OutboxState.PENDING},
        by=by,
    )
    kick_after_commit(message.tenant_id)
    message.refresh_from_db()
    return message
