"""Celery tasks of leads: thin, they take ids and the tenant id and call one service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import DatabaseError, transaction

from leadflow.tenancy.tasks import TenantTask, fan_out
from leads.models import Appointment
from leads.services.confirmations import enqueue_confirmations

logger = logging.getLogger(__name__)


# Confirmations are written to the outbox by the booking itself now. The task
# keeps its name (it was ``inquiries.tasks``' before the hand-over moved to
# leads) so a message queued before an upgrade still confirms its appointment:
# through the outbox, whose keys make a second delivery add nothing.
@shared_task(
    name="inquiries.tasks.send_appointment_confirmation_task",
    base=TenantTask,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=5,
)
def send_appointment_confirmation_task(*, appointment_id: int, tenant_id: int) -> bool:
    """Queue the appointment's confirmations in the outbox, unless they went out before it."""
    appointment = Appointment.objects.filter(pk=appointment_id).first()
    if appointment is None:
        logger.info(
            "appointment %s is gone; no confirmation sent",
            appointment_id,
            extra={"tenant_id": tenant_id, "appointment_id": appointment_id},
        )
        return False
    if appointment.confirmation_sent_at is not None:  # sent directly, before the outbox
        return False
    with transaction.atomic():
        return enqueue_confirmations(appointment=appointment) > 0


@shared_task(base=TenantTask)
def recall_leads_of_tenant(*, tenant_id: int) -> int:
    """One tenant's recall: breached windows marked, unaccepted and idle leads rerouted."""
    from leads.services.routing import recall_leads

    recalled = recall_leads()
    return len(recalled.unaccepted) + len(recalled.idle)


@shared_task
def recall_leads() -> int:
    """Every 15 minutes: fan the recall out, one task per tenant (row-level security)."""
    return fan_out(recall_leads_of_tenant)


# The beat entry "scan-acceptance-breaches" keeps its task name (a message queued before
# an upgrade still runs); the acceptance scan is part of the recall now.
@shared_task(base=TenantTask)
def scan_acceptance_breaches_of_tenant(*, tenant_id: int) -> int:
    """One tenant's acceptance scan, merged with the recall: how many leads were breached."""
    from leads.services.routing import recall_leads

    return len(recall_leads().breached)


@shared_task
def scan_acceptance_breaches() -> int:
    """Every 15 minutes (the beat's name for it): the recall, one task per tenant."""
    return fan_out(recall_leads_of_tenant)


@shared_task(base=TenantTask)
def return_postponed_leads_of_tenant(*, tenant_id: int) -> int:
    """Bring one tenant's postponed leads back on their date (to the owner or to nurture)."""
    from leads.services.lifecycle import return_postponed_leads

    returned = return_postponed_leads()
    return len(returned.to_owner) + len(returned.to_nurture)


@shared_task
def return_postponed_leads() -> int:
    """Hourly (idempotent: a returned lead has no date any more): one task per tenant."""
    return fan_out(return_postponed_leads_of_tenant)


@shared_task(base=TenantTask)
def queue_missing_update_digests_of_tenant(*, tenant_id: int) -> int:
    """Queue one tenant's Monday digests of missing weekly updates (nothing before it is due)."""
    from leads.services.digests import queue_missing_update_digests

    return queue_missing_update_digests()


@shared_task
def queue_missing_update_digests() -> int:
    """Hourly: one task per tenant; each sends once a week from Monday 07:00 in its own zone."""
    return fan_out(queue_missing_update_digests_of_tenant)


@shared_task(base=TenantTask)
def enforce_partner_compliance_of_tenant(*, tenant_id: int) -> int:
    """One tenant's reporting rule: warn, suspend, reinstate partners; how many changed."""
    from leads.services.compliance import enforce_partner_compliance

    done = enforce_partner_compliance()
    return len(done.warned) + len(done.suspended) + len(done.reinstated)


@shared_task
def enforce_partner_compliance() -> int:
    """Hourly (idempotent within a week: outbox keys carry the ISO week): one task per tenant."""
    return fan_out(enforce_partner_compliance_of_tenant)
