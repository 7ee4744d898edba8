"""The background jobs of inquiries, declared to ``leadflow.lib.jobs`` when the app is ready.

The registry lets the stalled-job sweep and the services that start a job
reach each job's task by name, so no service imports ``inquiries.tasks``.
"""

from __future__ import annotations

from datetime import datetime

from django.utils.dateparse import parse_datetime

from inquiries.models import (
    BulkJob,
    BulkStatus,
    ImportJob,
    ImportStatus,
    PhoneJob,
    RescoreJob,
    RescoreStatus,
    SuggestJob,
)
from inquiries.services import imports, phones, rescoring, suggestions, triage
from leadflow.lib import jobs
from leadflow.lib.jobs import JobStatus


def register() -> None:
    jobs.register(
        jobs.JobKind(
            name="imports",
            model=ImportJob,
            status=ImportStatus,
            stale_after=imports.STALE_AFTER,
            task="inquiries.tasks.run_import_job_task",
        )
    )
    jobs.register(
        jobs.JobKind(
            name="rescores",
            model=RescoreJob,
            status=RescoreStatus,
            stale_after=rescoring.STALE_AFTER,
            task="inquiries.tasks.run_rescore_job_task",
        )
    )
    jobs.register(
        jobs.JobKind(
            name="bulk",
            model=BulkJob,
            status=BulkStatus,
            stale_after=triage.JOB_STALE_AFTER,
            task="inquiries.tasks.run_bulk_job_task",
        )
    )
    jobs.register(
        jobs.JobKind(
            name="dry_runs",
            model=ImportJob,
            status=ImportStatus,
            stale_after=imports.STALE_AFTER,
            task="inquiries.tasks.run_dry_run_task",
            find_stalled=stalled_dry_runs,
        )
    )
    jobs.register(
        jobs.JobKind(
            name="phones",
            model=PhoneJob,
            status=JobStatus,
            stale_after=phones.STALE_AFTER,
            task="inquiries.tasks.run_phone_job_task",
        )
    )
    jobs.register(
        jobs.JobKind(
            name="suggestions",
            model=SuggestJob,
            status=JobStatus,
            stale_after=suggestions.STALE_AFTER,
            task="inquiries.tasks.run_suggestion_job_task",
        )
    )
    jobs.register_cleanup("expired_uploads", lambda: imports.expire_unstarted_uploads())


def stalled_dry_runs(now: datetime) -> list[tuple[int, int]]:
    """Dry runs queued past the grace period, or running with a silent worker.

    The dry run's state lives on its import job (``dry_run``); the worker's
    claim takes either kind over, so sending one again is harmless.
    """
    waiting = ImportJob.objects.filter(
        status=ImportStatus.ANALYSED, dry_run__state__in=list(imports.DRY_RUN_BUSY)
    ).values_list("pk", "tenant_id", "dry_run")
    stalled = []
    for pk, tenant_id, state in waiting:
        updated = parse_datetime(str(state.get("updated_at") or ""))
        limit = jobs.QUEUED_GRACE if state.get("state") == "queued" else imports.STALE_AFTER
        if updated is None or updated < now - limit:
            stalled.append((pk, tenant_id))
    return stalled
