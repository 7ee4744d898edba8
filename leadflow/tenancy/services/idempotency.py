"""Idempotency keys: claim before a request runs, store its response, release or purge."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from leadflow.tenancy.models import IdempotencyRecord, IdempotencyState
from leadflow.tenancy.principal import Principal


@dataclass(frozen=True)
class Claim:
    """What a request with an Idempotency-Key may do: run, replay, or stop."""

    outcome: str  # "run", "replay", "in_progress" or "mismatch"
    record: IdempotencyRecord | None = None


def fingerprint(*, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


# The claim: one statement, one round trip. A new key is inserted and returned; a key
# already held returns nothing. Its commit does not wait for the disk
# (``synchronous_commit`` off for this transaction only): the request's own transaction,
# which completes the record, commits synchronously, and WAL is flushed in order, so a
# completed record is never lost while its claim could be; a claim lost in a server crash
# belongs to a request whose work was lost too, and its retry runs afresh, as it must.
# (Only when the claim is a transaction of its own: inside a caller's transaction the
# setting would reach that transaction's commit.)
_ASYNC_COMMIT = "SELECT set_config('synchronous_commit', 'off', true);\n"
_CLAIM_SQL = """
INSERT INTO {table} (tenant_id, caller, key, fingerprint, state, status_code, content_type,
    response_body, created_at, locked_at)
VALUES (%s, %s, %s, %s, %s, NULL, '', NULL, %s, %s)
ON CONFLICT (tenant_id, caller, key) DO NOTHING
RETURNING id
"""


def claim_idempotency_key(*, key: str, request_fingerprint: str, by: Principal) -> Claim:
    """Claim a key before running a request; commits on its own so others see it at once.

    A fresh key is one ``INSERT … ON CONFLICT DO NOTHING`` (in autocommit, one round
    trip); a key already held is read and judged in a transaction: replay, mismatch,
    still in progress, or taken over when expired or abandoned.
    """
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            ("" if connection.in_atomic_block else _ASYNC_COMMIT)
            + _CLAIM_SQL.format(table=IdempotencyRecord._meta.db_table),
            [
                by.tenant.pk,
                by.caller,
                key,
                request_fingerprint,
                IdempotencyState.IN_PROGRESS.value,
                now,
                now,
            ],
        )
        inserted = cursor.fetchone()
    if inserted is not None:
        record = IdempotencyRecord(
            pk=inserted[0],
            tenant=by.tenant,
            caller=by.caller,
            key=key,
            fingerprint=request_fingerprint,
            state=IdempotencyState.IN_PROGRESS,
            created_at=now,
            locked_at=now,
        )
        record._state.adding = False
        return Claim("run", record)
    with transaction.atomic():
        record = IdempotencyRecord.objects.get(caller=by.caller, key=key)
        if now - record.created_at > settings.IDEMPOTENCY_KEY_TTL:
            return _take_over(record, request_fingerprint, now, fresh=True)
        if record.fingerprint != request_fingerprint:
            return Claim("mismatch", record)
        if record.state == IdempotencyState.COMPLETED:
            return Claim("replay", record)
        if now - record.locked_at > settings.IDEMPOTENCY_LOCK_TIMEOUT:
            return _take_over(record, request_fingerprint, now, fresh=False)
        return Claim("in_progress", record)


def _take_over(
    record: IdempotencyRecord, request_fingerprint: str, now: datetime, *, fresh: bool
) -> Claim:
    """Reuse an expired key, or resume one whose first request died mid-way."""
    updated = IdempotencyRecord.objects.filter(
        pk=record.pk, locked_at=record.locked_at, state=record.state
    ).update(
        fingerprint=request_fingerprint,
        state=IdempotencyState.IN_PROGRESS,
        status_code=None,
        response_body=None,
        content_type="",
        locked_at=now,
        **({"created_at": now} if fresh else {}),
    )
    if not updated:
        return Claim("in_progress", record)
    record.refresh_from_db()
    return Claim("run", record)


def complete_idempotency_key(
    *, record: IdempotencyRecord, status_code: int, content_type: str, body: bytes
) -> None:
    """Store the first response; call it in the same transaction as the request's work."""
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyState.COMPLETED,
        status_code=status_code,
        content_type=content_type[:100],
        response_body=body,
    )


def release_idempotency_key(*, record: IdempotencyRecord) -> None:
    """Forget a claim whose request failed, so a retry can run."""
    IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyState.IN_PROGRESS).delete()


def purge_expired_idempotency_keys(*, older_than: timedelta | None = None) -> int:
    """Delete the current tenant's idempotency records past their time to live."""
    cutoff = timezone.now() - (older_than or settings.IDEMPOTENCY_KEY_TTL)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
