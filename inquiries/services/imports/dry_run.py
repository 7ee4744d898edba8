"""The dry run: a worker counts what the import would do (new, merged, invalid rows)."""

from __future__ import annotations

import csv
import logging
import uuid
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from inquiries.models import ImportJob, ImportStatus
from inquiries.services.imports import writing
from inquiries.services.imports.chunks import DEFAULT_CHUNK_SIZE, STALE_AFTER, chunked
from inquiries.services.imports.mapping import require_mapping
from inquiries.services.imports.matching import Matcher, resolve
from inquiries.services.imports.rows import CellError, Plan, parse_chunk
from leadflow.lib import jobs
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

logger = logging.getLogger(__name__)

DRY_RUN_ERRORS = 20

# The missing campaigns a dry run lists (and the page offers to create) at most.
MISSING_CAMPAIGNS_SHOWN = 100

# States of ``ImportJob.dry_run`` in which a worker is (or should be) at it.
DRY_RUN_BUSY = ("queued", "running")


def dry_run_busy(job: ImportJob) -> bool:
    """Whether a dry run of the job is queued or running and its worker still answers.

    A dry run whose last sign of life is older than ``STALE_AFTER`` (its worker
    died, or its task was lost) may be asked for again.
    """
    state = job.dry_run or {}
    if state.get("state") not in DRY_RUN_BUSY:
        return False
    updated = parse_datetime(str(state.get("updated_at") or ""))
    return updated is not None and updated >= timezone.now() - STALE_AFTER


def dry_run_found_nothing(job: ImportJob) -> bool:
    """Whether the finished dry run found rows but not one that can be imported.

    The file and the mapping are those of the dry run (a new mapping clears
    it), and whether a row can be imported depends on them only.
    """
    state = job.dry_run or {}
    if state.get("state", "done" if state else "") != "done":
        return False
    return not (state.get("new", 0) + state.get("merged", 0)) and bool(state.get("invalid"))


@transaction.atomic
def request_dry_run(*, job: ImportJob, by: Principal) -> ImportJob:
    """Queue the dry run: a worker counts new, merged and invalid rows, writing nothing.

    Its state and progress are kept on the job (``dry_run``) for the pages and the API.
    """
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.ANALYSED:
        raise RuleViolation(
            field="status",
            code="already_started",
            conflict=True,
            message="This import has already started.",
        )
    require_mapping(job)
    if dry_run_busy(job):
        raise RuleViolation(
            field="dry_run",
            code="dry_run_running",
            conflict=True,
            message="A dry run of this file is already under way.",
        )
    job.dry_run = {
        "state": "queued",
        "done_rows": 0,
        "total_rows": job.total_rows,
        "updated_at": timezone.now().isoformat(),
    }
    job.save(update_fields=["dry_run"])
    record_audit(action="import.dry_run_requested", obj=job, after={"rows": job.total_rows}, by=by)
    jobs.enqueue("dry_runs", job_id=job.pk, tenant_id=job.tenant_id)
    return job


def run_dry_run(
    *,
    job: ImportJob,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    stop_after_chunks: int | None = None,
) -> ImportJob:
    """Read the whole file with the job's mapping and count what the import would do.

    The worker side of ``request_dry_run``. Progress is saved after each chunk,
    each time in a short transaction of its own; the result replaces it at the
    end. Returns quietly (the job as stored) when no dry run is waiting, another
    live run holds it, or the mapping changed under it (which clears it).
    ``stop_after_chunks`` leaves the dry run running after that many chunks, as
    a killed worker would; tests use it. Call it inside the job's tenant and
    outside any transaction.
    """
    run_id = _claim_dry_run(job)
    if run_id is None:
        logger.info("dry run of import job %s is not waiting or is held", job.pk)
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    try:
        plan = Plan.of(job)
        matcher = Matcher(in_sql=writing.set_based())
        result: dict[str, Any] = {
            "new": 0,
            "merged": 0,
            "invalid": 0,
            "warnings": 0,
        }
        # The first problems of each kind: warnings in every row must not hide the errors.
        first: dict[bool, list[CellError]] = {False: [], True: []}
        # Campaigns the file names that do not exist yet, first spelling kept, in file order.
        missing: dict[str, str] = {}
        done = 0
        for chunks, records in enumerate(chunked(job, plan, chunk_size), start=1):
            rows, errors, invalid = parse_chunk(plan, records, len(job.headers))
            resolved = resolve(rows, matcher)
            result["new"] += resolved.new
            result["merged"] += resolved.merged
            result["invalid"] += invalid
            result["warnings"] += sum(1 for e in errors if e.is_warning)
            for e in errors:
                if len(first[e.is_warning]) < DRY_RUN_ERRORS:
                    first[e.is_warning].append(e)
                if len(missing) < MISSING_CAMPAIGNS_SHOWN and plan.is_missing_campaign(
                    e.column, e.value
                ):
                    missing.setdefault(e.value.strip().lower(), e.value.strip())
            done += len(records)
            running = {"state": "running", "done_rows": done, "total_rows": job.total_rows}
            if not _save_dry_run(job, run_id, running):
                return job
            if stop_after_chunks is not None and chunks >= stop_after_chunks:
                return job
        shown = first[False] + first[True][: DRY_RUN_ERRORS - len(first[False])]
        result["errors"] = [e.as_dict() for e in sorted(shown, key=lambda e: e.row)]
        result["missing_campaigns"] = list(missing.values())
        finished = {"state": "done", "done_rows": done, "total_rows": job.total_rows, **result}
        with transaction.atomic():
            if not _save_dry_run(job, run_id, finished):
                return job
            record_audit(
                action="import.dry_run",
                obj=job,
                after={k: result[k] for k in ("new", "merged", "invalid", "warnings")},
                by=Principal.system(job.tenant, f"import {job.pk}"),
            )
    except DatabaseError:
        # Hand the dry run back, so the task's retry starts it again at once.
        queued = {"state": "queued", "done_rows": 0, "total_rows": job.total_rows}
        _save_dry_run(job, run_id, queued)
        raise
    except (RuleViolation, OSError, UnicodeDecodeError, csv.Error) as exc:
        message = exc.message if isinstance(exc, RuleViolation) else str(exc)
        _save_dry_run(job, run_id, {"state": "failed", "error": message[:2000]})
        logger.warning(
            "dry run of import job %s failed: %s",
            job.pk,
            message,
            extra={"tenant_id": job.tenant_id},
        )
    except Exception as exc:
        # Never left running in silence: the job says it failed, the worker logs why.
        _save_dry_run(job, run_id, {"state": "failed", "error": f"unexpected error: {exc!r}"})
        raise
    return job


def _claim_dry_run(job: ImportJob) -> str | None:
    """Take the queued dry run (or a running one whose worker died) for this run; its id."""
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        state = (locked.dry_run or {}).get("state")
        if locked.status != ImportStatus.ANALYSED or state not in DRY_RUN_BUSY:
            return None
        if state == "running" and dry_run_busy(locked):
            return None
        run_id = uuid.uuid4().hex
        locked.dry_run = {
            "state": "running",
            "done_rows": 0,
            "total_rows": locked.total_rows,
            "updated_at": timezone.now().isoformat(),
            "run_id": run_id,
        }
        locked.save(update_fields=["dry_run"])
    return run_id


def _save_dry_run(job: ImportJob, run_id: str, state: dict[str, Any]) -> bool:
    """Store the dry run's new state, unless it is no longer this run's (then False)."""
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        current = locked.dry_run or {}
        if locked.status != ImportStatus.ANALYSED or current.get("run_id") != run_id:
            logger.info("dry run of import job %s was cleared or taken over", job.pk)
            job.dry_run = locked.dry_run
            return False
        job.dry_run = {**state, "updated_at": timezone.now().isoformat(), "run_id": run_id}
        ImportJob.objects.filter(pk=job.pk).update(dry_run=job.dry_run)
    return True
