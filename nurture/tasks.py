"""Celery tasks of nurture: the every-minute scheduler and the never-dropped sweep."""

from __future__ import annotations

import logging

from celery import shared_task

from leadflow.tenancy.tasks import TenantTask, fan_out
from nurture.services import enrollment, scheduler

logger = logging.getLogger(__name__)


@shared_task(base=TenantTask)
def run_nurture_of_tenant(*, tenant_id: int) -> int:
    """One tenant's due steps; another run follows at once while a claim was full."""
    result = scheduler.run_due_steps()
    if result.claimed:
        logger.info("nurture run %s", result, extra={"tenant_id": tenant_id})
    if result.full:
        run_nurture_of_tenant.delay(tenant_id=tenant_id)
    return result.emails


@shared_task
def run_nurture() -> int:
    """Every minute (beat): queue each tenant's scheduler run."""
    return fan_out(run_nurture_of_tenant)


@shared_task(base=TenantTask)
def enroll_dropped_of_tenant(*, tenant_id: int) -> int:
    """Nurture inquiries found without an enrollment: enrolled, and reported in the log."""
    ids = enrollment.enroll_missing()
    if ids:
        logger.warning(
            "%s nurture inquiries had no enrollment; enrolled now",
            len(ids),
            extra={"tenant_id": tenant_id, "inquiry_ids": ids[:100]},
        )
    return len(ids)


@shared_task
def enroll_dropped() -> int:
    """Hourly (beat): the never-dropped sweep over every tenant."""
    return fan_out(enroll_dropped_of_tenant)
