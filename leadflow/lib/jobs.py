"""Claiming a resumable background job (imports, rescoring): one run at a time.

A job row has ``status``, ``started_at`` and ``heartbeat_at``. A run may take
it when it is queued, or when it is running but its heartbeat is older than
``stale_after`` (the worker died); the claim is one conditional ``UPDATE``,
so two runs never both hold it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import DateTimeField, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone


def abandoned(now: datetime, *, running: str, stale_after: timedelta) -> Q:
    """Running jobs whose worker stopped answering."""
    return Q(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - stale_after), status=running)


def claim(jobs: QuerySet, *, queued: str, running: str, stale_after: timedelta) -> bool:
    """Take the job in ``jobs`` (filtered to one) for this run; False if another run holds it."""
    now = timezone.now()
    claimable = Q(status=queued) | abandoned(now, running=running, stale_after=stale_after)
    return bool(
        jobs.filter(claimable).update(
            status=running,
            started_at=Coalesce(F("started_at"), Value(now), output_field=DateTimeField()),
            heartbeat_at=now,
        )
    )
