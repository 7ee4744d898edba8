"""The suggested definition as a background job: started by the page or API, fitted by a worker.

Fitting points from a real history (~14,000 outcomes) takes 20–30 s, far too
long for a request. :func:`start_suggestion` records a :class:`SuggestJob`
and queues it (``leadflow.lib.jobs``, kind ``suggestions``);
:func:`run_suggestion_job` claims it, fits with the analysis' progress hook
saving the step and percent on the job (the page polls them), and makes the
draft through ``create_suggested_draft`` — the same as the synchronous path.
Nothing is written before the draft, so a dead worker's successor simply
fits again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import DatabaseError
from django.db.models import Count
from django.utils import timezone

from inquiries.models import Inquiry, Outcome, SuggestJob
from inquiries.selectors.analysis import suggestion_progress
from inquiries.services.definitions import create_suggested_draft
from leadflow.lib import jobs
from leadflow.lib.jobs import JobStatus
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=2)
MIN_EACH = 20  # as suggest_from_outcomes' default


def _enough_outcomes(min_each: int = MIN_EACH) -> None:
    """Refuse at once (no job) when the fit would: too few won or lost outcomes."""
    counts = dict(
        Inquiry.objects.filter(outcome__in=[Outcome.WON, Outcome.LOST])
        .values_list("outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    won, lost = counts.get(Outcome.WON, 0), counts.get(Outcome.LOST, 0)
    if won < min_each or lost < min_each:
        raise RuleViolation(
            field="outcomes",
            code="not_enough_outcomes",
            message=f"A suggestion needs at least {min_each} won and {min_each} lost outcomes "
            f"(from closed leads or an imported outcome field); "
            f"you have {won} won and {lost} lost.",
        )


def start_suggestion(*, by: Principal) -> SuggestJob:
    """Queue fitting a suggested draft for ``by``'s tenant; the job shows its progress.

    Too few outcomes is refused at once, as the fit would refuse it.
    """
    _enough_outcomes()
    running = SuggestJob.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).first()
    if running is not None:
        return running  # one at a time: a second click follows the same job
    job = SuggestJob.objects.create(
        tenant=by.tenant, created_by=by.user, role=by.role or "", step="Waiting for a worker"
    )
    record_audit(action="definition.suggestion_started", obj=job, after={}, by=by)
    jobs.enqueue("suggestions", job_id=job.pk, tenant_id=job.tenant_id)
    return job


def _save_progress(job_id: int, step: str, percent: int) -> None:
    SuggestJob.objects.filter(pk=job_id).update(
        step=step[:80], percent=min(99, percent), heartbeat_at=timezone.now()
    )


def run_suggestion_job(*, job: SuggestJob) -> SuggestJob:
    """Fit the suggestion and make its draft, saving progress; quietly returns if held elsewhere."""
    if not jobs.claim(
        SuggestJob.objects.filter(pk=job.pk),
        queued=JobStatus.QUEUED,
        running=JobStatus.RUNNING,
        stale_after=STALE_AFTER,
    ):
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    by = Principal(
        tenant=job.tenant,
        role=job.role or None,
        via="system",
        user=job.created_by,
        system_label=f"suggestion {job.pk}",
    )
    token = suggestion_progress.set(lambda step, percent: _save_progress(job.pk, step, percent))
    try:
        definition = create_suggested_draft(by=by)
    except RuleViolation as exc:
        now = timezone.now()
        SuggestJob.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED, error=exc.message, finished_at=now, heartbeat_at=now
        )
    except DatabaseError:
        SuggestJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.QUEUED, heartbeat_at=None
        )
        raise
    else:
        now = timezone.now()
        SuggestJob.objects.filter(pk=job.pk).update(
            status=JobStatus.DONE,
            definition_id=definition.pk,
            step="Done",
            percent=100,
            finished_at=now,
            heartbeat_at=now,
        )
    finally:
        suggestion_progress.reset(token)
    job.refresh_from_db()
    logger.info("suggestion job %s: %s", job.pk, job.status, extra={"tenant_id": job.tenant_id})
    return job
