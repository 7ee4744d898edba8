"""Celery tasks of leads: thin, they take ids and the tenant id and call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from leadflow.tenancy.tasks import TenantTask
from leads.models import Appointment
from leads.services.confirmations import send_appointment_confirmation

logger = logging.getLogger(__name__)


# The name it had in ``inquiries``, so messages queued before the move still run.
@shared_task(
    name="inquiries.tasks.send_appointment_confirmation_task",
    base=TenantTask,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def send_appointment_confirmation_task(*, appointment_id: int, tenant_id: int) -> bool:
    """Email the buyer, and the team meeting them, the appointment with its invitation, once."""
    appointment = (
        Appointment.objects.select_related("rep", "booked_by").filter(pk=appointment_id).first()
    )
    if appointment is None:
        logger.info(
            "appointment %s is gone; no confirmation sent",
            appointment_id,
            extra={"tenant_id": tenant_id, "appointment_id": appointment_id},
        )
        return False
    return send_appointment_confirmation(appointment=appointment)
