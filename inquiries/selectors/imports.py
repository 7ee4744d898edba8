"""Reads of CSV imports: the jobs with their progress, the per-row report, saved mappings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from inquiries.models import ImportJob, ImportMapping, ImportRowError, ImportStatus
from leadflow.lib.spreadsheet import safe_cell
from leadflow.tenancy.context import tenant_context

REPORT_HEADER = ["row", "column", "value", "message", "severity"]


def import_job_list() -> QuerySet[ImportJob]:
    """The tenant's imports, newest first; each row carries all its list needs (no joins)."""
    return ImportJob.objects.order_by("-created_at", "-id")


def import_mapping_list() -> QuerySet[ImportMapping]:
    """The tenant's saved column mappings, by name, for reuse on the next file."""
    return ImportMapping.objects.order_by("name", "id")


def import_errors(job: ImportJob) -> QuerySet[ImportRowError]:
    """The per-row report of one import, in file order: errors (row skipped) and warnings."""
    return ImportRowError.objects.filter(job_id=job.pk).order_by("row_number", "id")


def report_csv_rows(job: ImportJob, batch_size: int = 2000) -> Iterator[list[Any]]:
    """The per-row report as CSV rows, streamed; cells that look like formulas are neutralised.

    A streamed response is read after the view has returned, outside the
    request's tenant scope: each batch is read inside the job's tenant.
    """
    yield REPORT_HEADER
    after = (0, 0)
    while True:
        with tenant_context(job.tenant_id):
            batch = list(
                import_errors(job)
                .filter(Q(row_number__gt=after[0]) | Q(row_number=after[0], pk__gt=after[1]))
                .values_list("row_number", "pk", "column", "value", "message", "severity")[
                    :batch_size
                ]
            )
        for row_number, _pk, column, value, message, severity in batch:
            yield [row_number, safe_cell(column), safe_cell(value), safe_cell(message), severity]
        if len(batch) < batch_size:
            return
        after = batch[-1][:2]


@dataclass(frozen=True)
class Progress:
    rows_per_second: float | None
    seconds_left: int | None


def progress_of(job: ImportJob) -> Progress:
    """The rate so far and the time left at that rate, while the job runs."""
    if job.started_at is None or not job.done_rows:
        return Progress(None, None)
    until = job.finished_at or job.heartbeat_at or timezone.now()
    elapsed = (until - job.started_at).total_seconds()
    if elapsed <= 0:
        return Progress(None, None)
    rate = job.done_rows / elapsed
    left = None
    if job.status in (ImportStatus.RUNNING, ImportStatus.QUEUED):
        left = round(max(job.total_rows - job.done_rows, 0) / rate)
    return Progress(round(rate, 1), left)
