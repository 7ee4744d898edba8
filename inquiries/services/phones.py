"""Re-normalising stored phone numbers after the rule changed or the tenant's country was set.

Numbers stored when phones were compared by their digits alone (``030
1234567`` and ``+49 30 1234567`` as two people) are parsed again with
``phonenumbers`` against the tenant's country; the duplicates that reveals
(several inquiries now sharing a number) are listed for a qualifier to merge
on the duplicates page — never merged silently.

Changing the tenant's country (:func:`set_tenant_country`, from the lead
settings page and ``PATCH /api/v1/lead-settings/``) starts the same work as
a background job (:class:`PhoneJob`, :func:`run_phone_job`) whose progress
and shared numbers the settings page shows.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.utils import timezone

from inquiries.models import Inquiry, PhoneJob
from inquiries.services.planner import refresh_statistics
from inquiries.services.validation import clean_country
from leadflow.lib import jobs
from leadflow.lib import phone as phone_lib
from leadflow.lib.jobs import JobStatus
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Tenant
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leadflow.tenancy.services import record_audit

logger = logging.getLogger(__name__)

BATCH = 2000
STALE_AFTER = timedelta(minutes=2)


@dataclass
class PhoneReport:
    checked: int = 0
    changed: int = 0
    # Numbers (E.164) now shared by several inquiries, with their ids (oldest first).
    duplicates: dict[str, list[int]] = field(default_factory=dict)


def _batch(region: str, after: int, size: int) -> tuple[int, int, int]:
    """Parse one batch of phones after id ``after`` again; (rows read, changed, last id)."""
    rows = list(
        Inquiry.objects.filter(pk__gt=after)
        .exclude(phone="")
        .order_by("pk")
        .values_list("pk", "phone", "phone_normalized")[:size]
    )
    if not rows:
        return 0, 0, after
    changes = {}
    for pk, phone, stored in rows:
        normalized = phone_lib.normalize(phone, region)
        if normalized and normalized != stored:
            changes[pk] = normalized
    for pk, normalized in changes.items():
        Inquiry.objects.filter(pk=pk).update(phone_normalized=normalized)
    return len(rows), len(changes), rows[-1][0]


def shared_numbers() -> dict[str, list[int]]:
    """The tenant's numbers (E.164) stored on several inquiries, with their ids, oldest first."""
    shared: dict[str, list[int]] = defaultdict(list)
    for pk, number in (
        Inquiry.objects.exclude(phone_normalized="")
        .order_by("pk")
        .values_list("pk", "phone_normalized")
    ):
        shared[number].append(pk)
    return {n: ids for n, ids in sorted(shared.items()) if len(ids) > 1}


def renormalize_phones(*, by: Principal, batch: int = BATCH) -> PhoneReport:
    """Parse every stored phone again in the tenant's country; list the duplicates revealed.

    Runs in batches of ids, each its own transaction, so a large tenant is
    not locked at once; run it again and it changes nothing.
    """
    region = by.tenant.country
    report = PhoneReport()
    last = 0
    while True:
        with transaction.atomic():
            read, changed, last = _batch(region, last, batch)
        if not read:
            break
        report.checked += read
        report.changed += changed
    report.duplicates = shared_numbers()
    with transaction.atomic():
        record_audit(
            action="inquiry.phones_renormalized",
            obj=by.tenant,
            after={
                "region": region,
                "checked": report.checked,
                "changed": report.changed,
                "duplicates": len(report.duplicates),
            },
            by=by,
        )
    refresh_statistics(report.changed)
    return report


# --- The tenant's country and its job ---------------------------------------------------


def clean_tenant_country(value: object) -> str:
    """An ISO 3166-1 alpha-2 code in capitals, or "" for none; RuleViolation on ``country``."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RuleViolation(field="country", code="invalid", message="Give a country code.")
    text = value.strip()
    if not text:
        return ""
    try:
        return clean_country(text)
    except ValueError as exc:
        raise RuleViolation(field="country", code="invalid", message=str(exc)) from None


def set_tenant_country(*, country: object, by: Principal) -> PhoneJob | None:
    """Change the tenant's country (phones are parsed in it) and start re-normalising them.

    Admins and managers only. Returns the queued job, or None when the
    country did not change (no job: the stored numbers already follow it).
    """
    if by.is_partner or not by.has_role(*MANAGERS):
        raise PermissionDenied("Only admins and managers change the organisation's country.")
    code = clean_tenant_country(country)
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=by.tenant.pk)
        if tenant.country == code:
            return None
        before = tenant.country
        tenant.country = code
        tenant.save(update_fields=["country"])
        by.tenant.country = code
        job = PhoneJob.objects.create(
            tenant=tenant,
            created_by=by.user,
            region=code,
            total=Inquiry.objects.exclude(phone="").count(),
        )
        record_audit(
            action="tenant.country_changed",
            obj=tenant,
            before={"country": before},
            after={"country": code, "phone_job": job.pk},
            by=by,
        )
        jobs.enqueue("phones", job_id=job.pk, tenant_id=tenant.pk)
    return job


def _claim(job: PhoneJob) -> bool:
    return jobs.claim(
        PhoneJob.objects.filter(pk=job.pk),
        queued=JobStatus.QUEUED,
        running=JobStatus.RUNNING,
        stale_after=STALE_AFTER,
    )


def run_phone_job(
    *, job: PhoneJob, batch_size: int = BATCH, stop_after_batches: int | None = None
) -> PhoneJob:
    """Parse the tenant's phones again in the job's country, batch by batch; resumable.

    Each batch commits with the job's progress, so a killed worker's
    successor resumes after ``last_inquiry_id``. When done, the numbers now
    shared are stored on the job and the planner's statistics refreshed.
    ``stop_after_batches`` leaves the job running, as a killed worker would.
    """
    if not _claim(job):
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    batches = 0
    try:
        while stop_after_batches is None or batches < stop_after_batches:
            with transaction.atomic():
                read, changed, last = _batch(job.region, job.last_inquiry_id, batch_size)
                now = timezone.now()
                if not read:
                    job.duplicates = shared_numbers()
                    job.status = JobStatus.DONE
                    job.finished_at = now
                    job.heartbeat_at = now
                    job.save(update_fields=["duplicates", "status", "finished_at", "heartbeat_at"])
                    break
                job.done += read
                job.total = max(job.total, job.done)
                job.changed += changed
                job.last_inquiry_id = last
                job.heartbeat_at = now
                job.save(
                    update_fields=["done", "total", "changed", "last_inquiry_id", "heartbeat_at"]
                )
            batches += 1
    except DatabaseError:
        PhoneJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.QUEUED, heartbeat_at=None
        )
        raise
    if job.status == JobStatus.DONE:
        refresh_statistics(job.changed)
        logger.info(
            "phone job %s: %s checked, %s changed, %s shared numbers",
            job.pk,
            job.done,
            job.changed,
            job.shared,
            extra={"tenant_id": job.tenant_id},
        )
    return job
