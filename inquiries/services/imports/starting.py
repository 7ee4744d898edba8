"""Starting, cancelling and expiring an import job; the worker's run is in ``run.py``."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inquiries.models import ImportJob, ImportStatus
from inquiries.services.imports.chunks import STALE_AFTER
from inquiries.services.imports.dry_run import dry_run_busy, dry_run_found_nothing
from inquiries.services.imports.mapping import require_mapping
from inquiries.services.imports.upload import remove_file_on_commit
from leadflow.lib import jobs
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

FINISHED = (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED)


@transaction.atomic
def start_import(*, job: ImportJob, by: Principal) -> ImportJob:
    """Queue the real run; the worker writes the rows chunk by chunk."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.ANALYSED:
        raise RuleViolation(
            field="status",
            code="already_started",
            conflict=True,
            message=f"This import is already {job.get_status_display().lower()}.",
        )
    require_mapping(job)
    if dry_run_busy(job):
        raise RuleViolation(
            field="dry_run",
            code="dry_run_running",
            conflict=True,
            message="The dry run is still checking the rows; start the import when it is done.",
        )
    if dry_run_found_nothing(job):
        raise RuleViolation(
            field="dry_run",
            code="nothing_to_import",
            message="The dry run found no row that can be imported: every row has a problem. "
            "Fix the mapping (or the file) and run the dry run again.",
        )
    job.status = ImportStatus.QUEUED
    job.save(update_fields=["status"])
    record_audit(action="import.started", obj=job, after={"rows": job.total_rows}, by=by)
    jobs.enqueue("imports", job_id=job.pk, tenant_id=job.tenant_id)
    return job


@transaction.atomic
def cancel_import(*, job: ImportJob, by: Principal) -> ImportJob:
    """Stop the import after the chunk being written; rows already written stay.

    A job not yet running, or whose worker stopped answering, is cancelled at once.
    """
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status in FINISHED:
        raise RuleViolation(
            field="status",
            code="finished",
            conflict=True,
            message=f"This import is already {job.get_status_display().lower()}.",
        )
    now = timezone.now()
    alive = job.status == ImportStatus.RUNNING and (
        job.heartbeat_at is not None and job.heartbeat_at >= now - STALE_AFTER
    )
    job.cancel_requested = True
    fields = ["cancel_requested"]
    if not alive:
        job.status = ImportStatus.CANCELLED
        job.finished_at = now
        fields += ["status", "finished_at"]
        remove_file_on_commit(job)
    job.save(update_fields=fields)
    record_audit(action="import.cancelled", obj=job, after={"done_rows": job.done_rows}, by=by)
    return job


@transaction.atomic
def expire_unstarted_uploads(*, now: datetime | None = None) -> list[int]:
    """Cancel the current tenant's uploads nobody started within IMPORT_UNSTARTED_DAYS.

    An upload waits for its mapping and its start; one left for days only
    holds its file (up to IMPORT_MAX_MEGABYTES) on disk. It is cancelled like
    any other job, with a note saying why, and its file removed; the list of
    imports still shows it. Uploads whose dry run is under way are left alone.
    """
    now = now or timezone.now()
    days = settings.IMPORT_UNSTARTED_DAYS
    expired = []
    candidates = ImportJob.objects.select_for_update(skip_locked=True).filter(
        status=ImportStatus.ANALYSED, created_at__lt=now - timedelta(days=days)
    )
    for job in candidates:
        if dry_run_busy(job):
            continue
        job.status = ImportStatus.CANCELLED
        job.finished_at = now
        job.error = f"Never started; the uploaded file was removed after {days} days."
        job.save(update_fields=["status", "finished_at", "error"])
        remove_file_on_commit(job)
        record_audit(
            action="import.expired",
            obj=job,
            after={"file_name": job.file_name, "days": days},
            by=Principal.system(job.tenant, "upload clean-up"),
        )
        expired.append(job.pk)
    return expired
