"""The real run (on a worker): the file chunk by chunk, one transaction each, resumable."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from inquiries.models import ImportJob, ImportRowError, ImportStatus, Inquiry
from inquiries.selectors.scoring import active_definition, rules_of
from inquiries.services import scoring as scoring_services
from inquiries.services.imports import writing
from inquiries.services.imports.chunks import DEFAULT_CHUNK_SIZE, STALE_AFTER, chunked
from inquiries.services.imports.matching import Matcher, Person, resolve
from inquiries.services.imports.merge import Written, route_written
from inquiries.services.imports.rows import CellError, Plan, Row, parse_chunk
from inquiries.services.imports.scorer import Scorer
from inquiries.services.imports.staging import prepare_rows
from inquiries.services.imports.statistics import PlannerStatistics
from inquiries.services.imports.upload import remove_file_on_commit
from inquiries.services.imports.writing import write_in_sql, write_with_orm
from inquiries.services.planner import refresh_statistics
from leadflow.lib import jobs
from leadflow.lib.ahead import ProducerFailed, ahead
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

logger = logging.getLogger(__name__)

# PostgreSQL text cannot hold NUL; the report shows where it was.
NUL_SHOWN = "\u2400"


def run_import_job(
    *,
    job: ImportJob,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    stop_after_chunks: int | None = None,
) -> ImportJob:
    """Write the file chunk by chunk, resuming after the last committed chunk.

    Returns quietly (the job as stored) when another run holds the job.
    ``stop_after_chunks`` leaves the job running after that many chunks, as a
    killed worker would; tests use it. Call it inside the job's tenant and
    outside any transaction, so each chunk commits on its own.
    """
    if not _claim(job):
        logger.info("import job %s is held by another run or finished", job.pk)
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    by = Principal.system(job.tenant, f"import {job.pk}")
    statistics = PlannerStatistics() if writing.set_based() else None
    try:
        plan = Plan.of(job)
        chunks = chunked(job, plan, chunk_size, skip=job.done_rows)
        width = len(job.headers)
        sql_path = writing.set_based()
        definition = active_definition() if sql_path else None
        rules = rules_of(definition) if definition else None

        def parse_next() -> _Parsed:
            records = next(chunks, None) or []
            scorer = Scorer(definition.pk, rules, timezone.now()) if definition and rules else None
            parsed = _Parsed(len(records), *parse_chunk(plan, records, width), scorer=scorer)
            if sql_path:
                prepare_rows(parsed.rows, scorer)
            return parsed

        written = 0
        # The next chunk is read, checked and scored in a forked process (its
        # own core and interpreter) while the database writes this one.
        with ahead(parse_next, last=lambda parsed: not parsed.count) as take:
            while stop_after_chunks is None or written < stop_after_chunks:
                parsed = take()
                if statistics is not None:
                    statistics.refresh_if_stale(job.new_count)
                outcome = _run_chunk(job, parsed, by)
                del parsed  # written: not kept alive while the next one arrives
                if outcome != "written":
                    break
                written += 1
    except DatabaseError:
        # Hand the job back at once, so the task's retry resumes it without
        # waiting for the heartbeat to go stale.
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING).update(
            status=ImportStatus.QUEUED, heartbeat_at=None
        )
        raise
    except ProducerFailed as exc:
        return _fail(
            job,
            f"Reading the file stopped unexpectedly ({exc}). The rows written so far stay; "
            "importing the same file again merges them instead of adding them twice.",
        )
    except (RuleViolation, OSError, UnicodeDecodeError, csv.Error) as exc:
        message = exc.message if isinstance(exc, RuleViolation) else str(exc)
        return _fail(job, message)
    except Exception as exc:
        # Never left running in silence: the job says it failed, the worker logs why.
        _fail(job, f"unexpected error: {exc!r}")
        raise
    finally:
        if statistics is not None:
            statistics.wait()
    job.refresh_from_db()
    if job.status == ImportStatus.DONE:
        # What follows (a rescore, the inbox) is planned for the tenant as it is now.
        refresh_statistics(job.new_count + job.merged_count)
    logger.info(
        "import job %s: %s of %s rows, %s",
        job.pk,
        job.done_rows,
        job.total_rows,
        job.status,
        extra={"tenant_id": job.tenant_id},
    )
    return job


def _claim(job: ImportJob) -> bool:
    """Take the job for this run: queued, or running with a stale heartbeat."""
    return jobs.claim(
        ImportJob.objects.filter(pk=job.pk),
        queued=ImportStatus.QUEUED,
        running=ImportStatus.RUNNING,
        stale_after=STALE_AFTER,
    )


def _fail(job: ImportJob, error: str) -> ImportJob:
    now = timezone.now()
    with transaction.atomic():
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, error=error[:2000], finished_at=now, heartbeat_at=now
        )
        job.refresh_from_db()
        record_audit(
            action="import.failed",
            obj=job,
            after={"error": job.error, "done_rows": job.done_rows},
            by=Principal.system(job.tenant, f"import {job.pk}"),
        )
    logger.warning("import job %s failed: %s", job.pk, error, extra={"tenant_id": job.tenant_id})
    return job


@dataclass(frozen=True)
class _Parsed:
    """One chunk read and validated: how many rows, the valid ones, the errors and warnings."""

    count: int
    rows: list[Row]
    errors: list[CellError]
    invalid: int
    # The active definition when the chunk was read, as of then; its rows are prepared by it.
    scorer: Scorer | None = None


def _run_chunk(job: ImportJob, parsed: _Parsed, by: Principal) -> str:
    """One chunk in one transaction, retried once if a concurrent write got in its way.

    (A capture took an email the chunk inserts, or a merge removed an inquiry
    the chunk merges into: the retry matches the chunk again.)
    """
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _write_chunk(job, parsed, by)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _write_chunk(job: ImportJob, parsed: _Parsed, by: Principal) -> str:
    rows, errors, invalid, count = parsed.rows, parsed.errors, parsed.invalid, parsed.count
    if writing.set_based():
        # A chunk lost in a crash is lost together with the progress that
        # records it (one transaction), and the resumed run writes it again:
        # no need to wait for the WAL flush at each commit.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            # A chunk looks up 5,000 keys by index; with the default page cost
            # (4, spinning disks) the planner would rather read the tenant.
            cursor.execute("SET LOCAL random_page_cost = 1.1")
    locked = ImportJob.objects.select_for_update().get(pk=job.pk)
    if locked.status != ImportStatus.RUNNING or locked.done_rows != job.done_rows:
        logger.info("import job %s was taken over by another run", job.pk)
        return "lost"
    now = timezone.now()
    if locked.cancel_requested:
        job.status = ImportStatus.CANCELLED
        job.finished_at = job.heartbeat_at = now
        job.save(update_fields=["status", "finished_at", "heartbeat_at"])
        remove_file_on_commit(job)
        logger.info("import job %s cancelled after %s rows", job.pk, job.done_rows)
        return "cancelled"
    if not count:
        job.status = ImportStatus.DONE
        job.finished_at = job.heartbeat_at = now
        job.save(update_fields=["status", "finished_at", "heartbeat_at"])
        record_audit(
            action="import.finished",
            obj=job,
            after={
                "new": job.new_count,
                "merged": job.merged_count,
                "invalid": job.invalid_count,
                "warnings": job.warning_count,
                "outcome": job.outcome,
            },
            by=by,
        )
        remove_file_on_commit(job)
        return "done"
    resolved = resolve(rows, Matcher(in_sql=writing.set_based()))
    people = list(resolved.people.values())
    if people:
        _write_people(job, people, now, parsed.scorer, by)
    ImportRowError.objects.bulk_create(
        [
            ImportRowError(
                tenant_id=job.tenant_id,
                job_id=job.pk,
                row_number=e.row,
                column=e.column[:200],
                value=e.value[:1000].replace("\x00", NUL_SHOWN),
                message=e.message[:500],
                severity=e.severity,
            )
            for e in errors
        ],
        batch_size=2000,
    )
    job.done_rows += count
    job.new_count += resolved.new
    job.merged_count += resolved.merged
    job.invalid_count += invalid
    job.warning_count += sum(1 for e in errors if e.is_warning)
    job.heartbeat_at = now
    job.save(
        update_fields=[
            "done_rows",
            "new_count",
            "merged_count",
            "invalid_count",
            "warning_count",
            "heartbeat_at",
        ]
    )
    return "written"


def _write_people(
    job: ImportJob, people: list[Person], now: datetime, read_with: Scorer | None, by: Principal
) -> None:
    """Write the chunk's people, scored and routed under the active definition.

    ``read_with`` is the definition the reader prepared the rows with;
    it is used (with its time) unless another version was activated since.
    """
    definition = active_definition()
    if not writing.set_based():
        scorer = (
            Scorer(definition.pk, rules_of(definition), now) if definition is not None else None
        )
        merged_into, arrived = write_with_orm(job, people, now, scorer)
        if definition is not None:
            for inquiry in Inquiry.objects.filter(pk__in=merged_into):
                scoring_services.score_inquiry(inquiry=inquiry, by=by, as_of=now)
        route_written(Written(arrived=arrived), by=by)
        return
    if definition is None:
        route_written(write_in_sql(job, people, now, None), by=by)
        return
    if read_with is not None and read_with.definition_id == definition.pk:
        scorer = read_with
    else:
        scorer = Scorer(definition.pk, rules_of(definition), now)
    written = write_in_sql(job, people, now, scorer)
    route_written(written, by=by)
