"""Reads of phone re-normalisation jobs: the progress and shared numbers the settings page shows."""

from __future__ import annotations

from inquiries.models import PhoneJob


def latest_phone_job() -> PhoneJob | None:
    """The tenant's most recent re-normalisation of phones (started by a change of country)."""
    return PhoneJob.objects.order_by("-created_at", "-id").first()


def phone_job(pk: int) -> PhoneJob:
    """One of the tenant's phone jobs; DoesNotExist (a 404) for another tenant's."""
    return PhoneJob.objects.get(pk=pk)
