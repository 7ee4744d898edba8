"""Background jobs that no worker is running any more are queued again.

Import, rescoring and bulk jobs (and dry runs) commit their progress chunk by chunk and resume
after the last committed chunk, so running one twice is harmless: a second
run finds the job held (fresh heartbeat) or finished and returns. What can go
wrong is that *no* run is coming: the worker was killed mid-job and Redis only
redelivers its message after the visibility timeout (an hour), the task gave
up after its retries, or the broker lost its queue in a restart. A scheduled
sweep (``inquiries.tasks.resume_stalled_jobs``) calls this for each tenant.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from inquiries.models import BulkJob, BulkStatus, ImportJob, ImportStatus, RescoreJob, RescoreStatus
from inquiries.services import imports, rescoring, triage
from leadflow.lib import jobs

# A queued job gets this long for its message to reach a worker before it is sent again.
QUEUED_GRACE = timedelta(minutes=5)


def _stalled(now: datetime, *, queued: str, running: str, stale_after: timedelta) -> Q:
    return Q(status=queued, created_at__lt=now - QUEUED_GRACE) | jobs.abandoned(
        now, running=running, stale_after=stale_after
    )


@transaction.atomic
def resume_stalled_jobs(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Queue again the current tenant's imports, dry runs, rescorings and bulk jobs nobody runs."""
    from inquiries.tasks import (
        run_bulk_job_task,
        run_dry_run_task,
        run_import_job_task,
        run_rescore_job_task,
    )

    now = now or timezone.now()
    kinds = {
        "imports": (ImportJob, ImportStatus, imports.STALE_AFTER, run_import_job_task),
        "rescores": (RescoreJob, RescoreStatus, rescoring.STALE_AFTER, run_rescore_job_task),
        "bulk": (BulkJob, BulkStatus, triage.JOB_STALE_AFTER, run_bulk_job_task),
    }
    stalled = {
        name: list(
            model.objects.filter(
                _stalled(now, queued=states.QUEUED, running=states.RUNNING, stale_after=stale)
            ).values_list("pk", "tenant_id")
        )
        for name, (model, states, stale, _task) in kinds.items()
    }

    stalled["dry_runs"] = _stalled_dry_runs(now)

    def enqueue() -> None:
        for name, jobs_of_kind in stalled.items():
            task = run_dry_run_task if name == "dry_runs" else kinds[name][3]
            for job_id, tenant_id in jobs_of_kind:
                task.delay(job_id=job_id, tenant_id=tenant_id)

    transaction.on_commit(enqueue)
    return {name: [pk for pk, _ in found] for name, found in stalled.items()}


def _stalled_dry_runs(now: datetime) -> list[tuple[int, int]]:
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
        limit = QUEUED_GRACE if state.get("state") == "queued" else imports.STALE_AFTER
        if updated is None or updated < now - limit:
            stalled.append((pk, tenant_id))
    return stalled
