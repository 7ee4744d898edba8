"""Celery tasks of the outbox: the per-tenant dispatcher run and the beat's sweep over tenants."""

from __future__ import annotations

import logging

from celery import shared_task

from leadflow.outbox import selectors, services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant
from leadflow.tenancy.tasks import TenantTask

logger = logging.getLogger(__name__)


@shared_task(base=TenantTask)
def dispatch_outbox_of_tenant(*, tenant_id: int) -> int:
    """Send the tenant's due messages; safe to run twice or at once (claims skip locked rows)."""
    result = services.dispatch_due(limit=services.RUN_LIMIT)
    if result.claimed:
        logger.info("outbox dispatch %s", result, extra={"tenant_id": tenant_id})
    if result.claimed >= services.RUN_LIMIT:
        dispatch_outbox_of_tenant.delay(tenant_id=tenant_id)
    return result.sent


@shared_task
def dispatch_due_messages() -> int:
    """Every few seconds: queue a dispatcher run for each tenant with a due message.

    Row-level security shows a tenant's rows only inside its scope, so the
    probe runs tenant by tenant (one index lookup each).
    """
    queued = 0
    for tenant_id in Tenant.objects.values_list("pk", flat=True):
        with tenant_context(tenant_id):
            due = selectors.has_due_messages()
        if due:
            dispatch_outbox_of_tenant.delay(tenant_id=tenant_id)
            queued += 1
    return queued
