"""Reads of rescoring jobs: the progress the API and pages show."""

from __future__ import annotations

from django.db.models import QuerySet

from inquiries.models import RescoreJob, SuggestJob


def rescore_job_list() -> QuerySet[RescoreJob]:
    """The tenant's rescoring jobs, newest first, with the definition whose version they show."""
    return RescoreJob.objects.select_related("definition").order_by("-created_at", "-id")


def suggest_job_list() -> QuerySet[SuggestJob]:
    """The tenant's suggestion jobs, newest first."""
    return SuggestJob.objects.order_by("-created_at", "-id")
