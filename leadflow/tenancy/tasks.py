"""Celery tasks of tenancy, and ``TenantTask``: the base every tenant task uses."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.db import DatabaseError

from leadflow.tenancy import services
from leadflow.tenancy.context import NoTenantSelected, tenant_context
from leadflow.tenancy.models import Invitation, Tenant

logger = logging.getLogger(__name__)


class TenantTask(Task):
    """A task that runs inside one tenant, named by the ``tenant_id`` keyword.

    Refused when enqueued or run without it; the scope is set for the run and
    reset afterwards, so rows of other tenants are invisible to it. A tenant
    that no longer exists makes the task return quietly.
    """

    abstract = True

    @staticmethod
    def _tenant_id(kwargs) -> int:
        tenant_id = (kwargs or {}).get("tenant_id")
        if not isinstance(tenant_id, int) or isinstance(tenant_id, bool):
            raise NoTenantSelected("a tenant task needs tenant_id=<int> as a keyword argument")
        return tenant_id

    def apply_async(self, args=None, kwargs=None, **options):
        self._tenant_id(kwargs)
        return super().apply_async(args, kwargs, **options)

    def __call__(self, *args, **kwargs):
        tenant_id = self._tenant_id(kwargs)
        if not Tenant.objects.filter(pk=tenant_id).exists():
            logger.info("tenant %s is gone; skipping %s", tenant_id, self.name)
            return None
        with tenant_context(tenant_id):
            return super().__call__(*args, **kwargs)


def fan_out(task: Task) -> int:
    """Queue a tenant task once per tenant (row-level security: one tenant a run); how many."""
    tenant_ids = list(Tenant.objects.values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        task.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@shared_task(base=TenantTask)
def purge_expired_idempotency_keys_of_tenant(*, tenant_id: int) -> int:
    """Delete one tenant's idempotency records older than their time to live."""
    deleted = services.purge_expired_idempotency_keys()
    logger.info("purged %s idempotency records", deleted, extra={"tenant_id": tenant_id})
    return deleted


@shared_task
def purge_expired_idempotency_keys() -> int:
    """Hourly: fan the purge out, one task per tenant (row-level security needs one at a time)."""
    return fan_out(purge_expired_idempotency_keys_of_tenant)


# Invitations are written to the outbox by inviting and resending now. The task
# keeps its name so a message queued before an upgrade still sends its
# invitation: through the outbox, whose key makes a second delivery add nothing.
@shared_task(base=TenantTask, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def send_invitation_task(*, invitation_id: int, tenant_id: int, base_url: str) -> bool:
    """Queue the invitation's email in the outbox, unless it went out before or is closed."""
    invitation = Invitation.objects.filter(pk=invitation_id).first()
    if invitation is None:
        logger.info(
            "invitation %s is gone; not sent",
            invitation_id,
            extra={"tenant_id": tenant_id, "invitation_id": invitation_id},
        )
        return False
    return services.queue_invitation_email(invitation=invitation, base_url=base_url)
