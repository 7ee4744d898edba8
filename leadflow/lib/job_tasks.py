"""The scheduled sweep of background jobs, fanned out one task per tenant (row-level security)."""

from __future__ import annotations

import logging

from celery import shared_task

from leadflow.lib import jobs
from leadflow.tenancy.tasks import TenantTask, fan_out

logger = logging.getLogger(__name__)


@shared_task(base=TenantTask)
def resume_stalled_jobs_of_tenant(*, tenant_id: int) -> dict[str, list[int]]:
    """Queue again this tenant's jobs that no worker runs; run the apps' clean-ups."""
    resumed = jobs.resume_stalled_jobs()
    if any(resumed.values()):
        logger.warning("resumed stalled jobs %s", resumed, extra={"tenant_id": tenant_id})
    cleaned = jobs.run_cleanups()
    if any(cleaned.values()):
        logger.info("cleaned up %s", cleaned, extra={"tenant_id": tenant_id})
    return {**resumed, **cleaned}


@shared_task
def resume_stalled_jobs() -> int:
    """Every few minutes: fan the sweep out, one task per tenant."""
    return fan_out(resume_stalled_jobs_of_tenant)
