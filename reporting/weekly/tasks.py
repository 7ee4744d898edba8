"""Celery tasks of the weekly report: thin, they take the tenant id and call one service."""

from __future__ import annotations

from celery import shared_task

from leadflow.tenancy.tasks import TenantTask, fan_out


@shared_task(base=TenantTask)
def generate_weekly_report_of_tenant(*, tenant_id: int) -> bool:
    """One tenant's last-week report, once its Monday hour has passed; whether it was made now."""
    from reporting.weekly.services import run_weekly_report

    done = run_weekly_report()
    return bool(done and done.created)


@shared_task
def generate_weekly_reports() -> int:
    """Hourly: one task per tenant; each makes (and emails) last week's report once."""
    return fan_out(generate_weekly_report_of_tenant)
