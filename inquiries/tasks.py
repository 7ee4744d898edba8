"""Celery tasks of inquiries: thin, they take ids and the tenant id and call one service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import DatabaseError

from inquiries.models import BulkJob, ImportJob, PhoneJob, RescoreJob, SuggestJob
from inquiries.services import imports, phones, rescoring, suggestions, triage
from inquiries.services.phones import renormalize_phones
from leadflow.tenancy.models import Tenant
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.tasks import TenantTask

logger = logging.getLogger(__name__)


def _job_or_none(model, job_id: int, tenant_id: int):
    """The tenant's job, or None (logged) when it was deleted before its message arrived."""
    job = model.objects.filter(pk=job_id).first()
    if job is None:
        logger.info("%s %s is gone", model.__name__, job_id, extra={"tenant_id": tenant_id})
    return job


@shared_task(base=TenantTask, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def run_rescore_job_task(*, job_id: int, tenant_id: int) -> str | None:
    """Rescore the tenant under its new definition; a second delivery resumes, never repeats."""
    job = _job_or_none(RescoreJob, job_id, tenant_id)
    return None if job is None else rescoring.run_rescore_job(job=job).status


@shared_task(base=TenantTask, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def run_import_job_task(*, job_id: int, tenant_id: int) -> str | None:
    """Write an imported file chunk by chunk; a second delivery resumes, never repeats."""
    job = _job_or_none(ImportJob, job_id, tenant_id)
    return None if job is None else imports.run_import_job(job=job).status


@shared_task(base=TenantTask, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def run_dry_run_task(*, job_id: int, tenant_id: int) -> str | None:
    """Count what an import would do, saving progress on the job; writes no inquiry."""
    job = _job_or_none(ImportJob, job_id, tenant_id)
    return None if job is None else (imports.run_dry_run(job=job).dry_run or {}).get("state")


@shared_task(base=TenantTask, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def run_bulk_job_task(*, job_id: int, tenant_id: int) -> str | None:
    """Apply a bulk action to all inquiries matching a filter, batch by batch; resumable."""
    job = _job_or_none(BulkJob, job_id, tenant_id)
    return None if job is None else triage.run_bulk_job(job=job).status


@shared_task(base=TenantTask, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def run_phone_job_task(*, job_id: int, tenant_id: int) -> str | None:
    """Parse the tenant's phones again in its new country; a second delivery resumes."""
    job = _job_or_none(PhoneJob, job_id, tenant_id)
    return None if job is None else phones.run_phone_job(job=job).status


@shared_task(base=TenantTask, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def run_suggestion_job_task(*, job_id: int, tenant_id: int) -> str | None:
    """Fit a suggested definition from outcomes with its progress; a second delivery fits again."""
    job = _job_or_none(SuggestJob, job_id, tenant_id)
    return None if job is None else suggestions.run_suggestion_job(job=job).status


@shared_task(base=TenantTask, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def renormalize_phones_task(*, tenant_id: int) -> dict[str, int]:
    """Parse the tenant's stored phones again in its country; log the duplicates revealed."""
    tenant = Tenant.objects.get(pk=tenant_id)
    report = renormalize_phones(by=Principal.system(tenant, "phone re-normalisation"))
    logger.info(
        "phones re-normalised: %s checked, %s changed, %s shared numbers",
        report.checked,
        report.changed,
        len(report.duplicates),
        extra={"tenant_id": tenant_id},
    )
    return {"checked": report.checked, "changed": report.changed, "shared": len(report.duplicates)}
