"""Celery tasks of the dashboards: the watermark refresh, one tenant per task."""

from __future__ import annotations

import logging

from celery import shared_task

from leadflow.tenancy.tasks import TenantTask, fan_out

logger = logging.getLogger(__name__)


@shared_task(base=TenantTask)
def refresh_rollups_of_tenant(*, tenant_id: int) -> int:
    """One tenant's refresh: the days and leads changed since its watermark, rewritten."""
    from reporting.dashboards.services import refresh_rollups

    refreshed = refresh_rollups()
    logger.info(
        "rolled up %s days and %s leads",
        refreshed.days,
        refreshed.leads,
        extra={"tenant_id": tenant_id},
    )
    return refreshed.days


@shared_task
def refresh_rollups() -> int:
    """Every minute: fan the rollup refresh out, one task per tenant (row-level security)."""
    return fan_out(refresh_rollups_of_tenant)
