"""Celery tasks of inquiries: thin, they take ids and the tenant id and call one service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import DatabaseError

from inquiries.models import Appointment, RescoreJob
from inquiries.services import rescoring
from inquiries.services.appointments import send_appointment_confirmation
from leadflow.tenancy.tasks import TenantTask

logger = logging.getLogger(__name__)


@shared_task(base=TenantTask, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def run_rescore_job_task(*, job_id: int, tenant_id: int) -> str | None:
    """Rescore the tenant under its new definition; a second delivery resumes, never repeats."""
    job = RescoreJob.objects.filter(pk=job_id).first()
    if job is None:
        logger.info("rescore job %s is gone", job_id, extra={"tenant_id": tenant_id})
        return None
    return rescoring.run_rescore_job(job=job).status


@shared_task(base=TenantTask, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def send_appointment_confirmation_task(*, appointment_id: int, tenant_id: int) -> bool:
    """Email the buyer and the rep their appointment with its calendar invitation, once."""
    appointment = Appointment.objects.select_related("rep").filter(pk=appointment_id).first()
    if appointment is None:
        logger.info(
            "appointment %s is gone; no confirmation sent",
            appointment_id,
            extra={"tenant_id": tenant_id, "appointment_id": appointment_id},
        )
        return False
    return send_appointment_confirmation(appointment=appointment)


@shared_task(base=TenantTask, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def run_import_job_task(*, job_id: int, tenant_id: int) -> str | None:
    """Write an imported file chunk by chunk; a second delivery resumes, never repeats."""
    from inquiries.models import ImportJob
    from inquiries.services.imports import run_import_job

    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        logger.info("import job %s is gone", job_id, extra={"tenant_id": tenant_id})
        return None
    return run_import_job(job=job).status
