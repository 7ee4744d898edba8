"""Making the Monday report: the snapshot of a week, its emails, and the report settings.

The snapshot is two statements whatever the number of leads: the report row
(``get_or_create`` on the unique tenant + week) and one ``INSERT … SELECT``
of every line (``reporting.weekly.selectors.figures_sql``). Only the run that
created the report row writes lines and queues emails, in the same
transaction: a second run for the week (a retried task, a second beat)
finds the row and changes and sends nothing. The outbox key
(``weekly-report:<week>:<recipient>``) would refuse a duplicate anyway.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from leadflow import outbox
from leadflow.lib import weeks
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import AuditEvent, Membership, Partner, Tenant, User
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leadflow.tenancy.services import record_audit
from reporting.weekly import rendering
from reporting.weekly.models import (
    LineScope,
    ReportSettings,
    WeekFact,
    WeekFactState,
    WeeklyReport,
    WeeklyReportLine,
)
from reporting.weekly.selectors import (
    LINE_COLUMNS,
    POSTGRES_CHANGES_SETTINGS,
    POSTGRES_FACTS_SETTINGS,
    POSTGRES_SETTINGS,
    Window,
    current_week,
    figures_from_facts_sql,
    figures_sql,
    fill_facts_sql,
    refresh_facts_sql,
    report_settings,
    snapshot_lines,
    tenant_zone,
    tuned,
)

logger = logging.getLogger(__name__)

CAUSE = "weekly_report"


@dataclass(frozen=True)
class Generated:
    report: WeeklyReport
    created: bool
    emails: int = 0


def generate_weekly_report(*, week: date, by: Principal, send: bool = True) -> Generated:
    """Make the snapshot of ``week`` (a Monday) once, and queue its emails; later calls do nothing.

    Refused for a week that has not ended in the tenant's time zone (its
    figures are provisional until then).
    """
    tenant = by.tenant
    tz = tenant_zone(tenant)
    if week != weeks.week_of(week):
        raise RuleViolation(field="week", code="invalid", message="A week starts on a Monday.")
    if week >= current_week(tz):
        raise RuleViolation(
            field="week",
            code="not_ended",
            message=f"{weeks.week_label(week)} has not ended yet; its figures are provisional.",
        )
    with transaction.atomic():
        report, created = WeeklyReport.objects.get_or_create(
            week=week,
            defaults={
                "tenant": tenant,
                "generated_at": timezone.now(),
                "timezone": tenant.timezone,
            },
        )
        if not created:
            return Generated(report=report, created=False)
        insert_lines(report, Window.of(week, tz))
        record_audit(
            action="weekly_report.generated",
            obj=report,
            after={"week": weeks.week_label(week)},
            by=by,
        )
        emails = queue_report_emails(report=report, tenant=tenant) if send else 0
    return Generated(report=report, created=True, emails=emails)


def insert_lines(report: WeeklyReport, window: Window) -> None:
    """Every line of the report in one ``INSERT … SELECT`` (no loop over leads or owners).

    PostgreSQL: from the week's facts (:class:`WeekFact`), first brought up to date
    for the leads changed since they last were (filled now if the week has none);
    SQLite: from the full per-lead pass.
    """
    columns = ", ".join(LINE_COLUMNS)
    params = {**window.params(report.tenant_id), "report": report.pk}
    figures, settings = figures_sql, POSTGRES_SETTINGS
    if connection.vendor == "postgresql":
        bring_week_facts_up_to_date(window, tenant_id=report.tenant_id)
        figures, settings = figures_from_facts_sql, POSTGRES_FACTS_SETTINGS
    # No JIT, room in memory, hash aggregation (this statement only; see the settings).
    with tuned(settings) as cursor:
        cursor.execute(
            f"INSERT INTO reporting_weeklyreportline (tenant_id, report_id, {columns}) "
            f"SELECT %(tenant)s, %(report)s, {columns} FROM ({figures()}) AS g",
            params,
        )


# A change is found by the time it was written (``created_at > since``): a refresh looks
# back this far before the previous one began, so a change whose transaction was still
# open then (written before, committed after) is not missed. Rewriting a fact is idempotent.
FACTS_OVERLAP = timedelta(minutes=10)
# Changes that move a week's facts without a trail on each lead: a new time zone moves the
# week's window (every lead's figures), a deleted team's leads lose their team (Django sets
# it to none, no row a lead). After one of them the week's facts are filled again.
REFILLING_ACTIONS = ("tenant.timezone_changed", "routing.team_deleted")


def bring_week_facts_up_to_date(
    window: Window, *, tenant_id: int, unless_reported: bool = False
) -> bool:
    """The week's facts as the leads stand now; whether they were filled (every lead's) now.

    The first call for a week fills every lead's row (the full per-lead pass, in
    SQL); later calls rewrite only the rows of leads changed or touched since the
    previous call began (less :data:`FACTS_OVERLAP`), or fill the week again when
    the time zone changed or a team was deleted since (:data:`REFILLING_ACTIONS`:
    no lead's trail records them). The state row's lock makes
    concurrent calls for a week wait for each other (the snapshot holds it until it
    commits); ``unless_reported`` (the upkeep) then leaves a week whose snapshot
    exists as it is. PostgreSQL only.
    """
    started = timezone.now()
    with transaction.atomic():
        state, created = WeekFactState.objects.select_for_update().get_or_create(
            week=window.week, defaults={"tenant_id": tenant_id, "refreshed_at": started}
        )
        if unless_reported and WeeklyReport.objects.filter(week=window.week).exists():
            if created:
                state.delete()
            return False
        params = window.params(tenant_id)
        since_at = state.refreshed_at - FACTS_OVERLAP
        refill = not created and (
            AuditEvent.objects.filter(
                action__in=REFILLING_ACTIONS, created_at__gt=since_at
            ).exists()
        )
        if created or refill:
            if refill:
                WeekFact.objects.filter(week=window.week).delete()
                WeekFactState.objects.filter(pk=state.pk).update(refreshed_at=started)
            with tuned() as cursor:
                cursor.execute(fill_facts_sql(), params)
            return True
        since = connection.ops.adapt_datetimefield_value(since_at)
        with tuned(POSTGRES_CHANGES_SETTINGS) as cursor:
            cursor.execute(refresh_facts_sql(), {**params, "since": since})
        WeekFactState.objects.filter(pk=state.pk).update(refreshed_at=started)
    return False


def keep_week_facts(now: datetime | None = None) -> None:
    """The hourly upkeep of the current tenant's facts: this week's (and last week's, until
    its snapshot) up to date, and the facts of weeks already snapshotted deleted.

    So that the Monday snapshot rewrites only an hour's changes; a week never kept
    (a tenant's first week after deploy) is filled by its snapshot instead.
    """
    if connection.vendor != "postgresql":
        return
    tenant = Tenant.objects.get(pk=require_tenant_id())
    tz = tenant_zone(tenant)
    this_week = current_week(tz, now or timezone.now())
    reported = set(
        WeeklyReport.objects.filter(week__gte=this_week - timedelta(weeks=1)).values_list(
            "week", flat=True
        )
    )
    kept = set(WeekFactState.objects.values_list("week", flat=True))
    for week in (this_week - timedelta(weeks=1), this_week):
        if week not in reported and (week == this_week or week in kept):
            bring_week_facts_up_to_date(
                Window.of(week, tz), tenant_id=tenant.pk, unless_reported=True
            )
    done = [week for week in kept if week in reported or week < this_week - timedelta(weeks=1)]
    if done:
        with transaction.atomic():
            WeekFact.objects.filter(week__in=done).delete()
            WeekFactState.objects.filter(week__in=done).delete()


def report_url(week: date) -> str:
    site = getattr(settings, "SITE_URL", "") or ""
    return f"{site}/reports/weekly/?week={weeks.week_label(week)}"


def _payload(
    tenant: Tenant, week: date, lines: list[WeeklyReportLine], subject: str
) -> dict[str, Any]:
    url = report_url(week)
    return {
        "subject": subject,
        "text": rendering.email_text(tenant_name=tenant.name, week=week, lines=lines, url=url),
        "html": rendering.email_html(tenant_name=tenant.name, week=week, lines=lines, url=url),
        "attachments": [
            {
                "filename": rendering.csv_filename(week),
                "content": rendering.csv_text(lines),
                "mimetype": "text/csv",
            }
        ],
    }


def queue_report_emails(*, report: WeeklyReport, tenant: Tenant) -> int:
    """The report to the managers (every line) and to each owner (their own line); how many."""
    chosen = report_settings()
    lines = snapshot_lines(report)
    label = weeks.week_label(report.week)
    subject = f"{tenant.name}: weekly report {label}"
    recipients: list[tuple[str, str, list[WeeklyReportLine]]] = []
    if chosen.email_managers:
        managers = (
            Membership.objects.filter(
                role__in=MANAGERS, partner__isnull=True, is_active=True, user__is_active=True
            )
            .select_related("user")
            .order_by("id")
        )
        recipients += [(f"user:{m.user_id}", m.user.email, lines) for m in managers]
    if chosen.email_owners:
        reps = {line.rep_id: line for line in lines if line.scope == LineScope.REP and line.rep_id}
        users = User.objects.filter(pk__in=list(reps), is_active=True).order_by("id")
        already = {key for key, _, _ in recipients}
        recipients += [
            (f"user:{u.pk}", u.email, [reps[u.pk]]) for u in users if f"user:{u.pk}" not in already
        ]
        partners = {
            line.partner_id: line
            for line in lines
            if line.scope == LineScope.PARTNER and line.partner_id
        }
        for partner in Partner.objects.filter(pk__in=list(partners)).order_by("id"):
            if partner.contact_email:
                recipients.append(
                    (f"partner:{partner.pk}", partner.contact_email, [partners[partner.pk]])
                )
    queued = 0
    for key, address, shown in recipients:
        try:
            outbox.enqueue(
                kind="email",
                key=f"weekly-report:{label}:{key}",
                recipient=address,
                payload=_payload(tenant, report.week, shown, subject),
                cause=(CAUSE, label),
            )
        except ValueError as refused:
            logger.warning("no weekly report email for %s (%s)", key, refused)
            continue
        queued += 1
    return queued


def report_due_at(week: date, chosen: ReportSettings, tenant: Tenant) -> datetime:
    """When the report of ``week`` is due: the next Monday at the tenant's hour, its time zone."""
    monday = week + timedelta(weeks=1)
    return datetime.combine(monday, time(hour=chosen.hour), tzinfo=tenant_zone(tenant))


def run_weekly_report(now: datetime | None = None) -> Generated | None:
    """The hourly beat's work for the current tenant: last week's report once it is due."""
    now = now or timezone.now()
    tenant = Tenant.objects.get(pk=require_tenant_id())
    last_week = current_week(tenant_zone(tenant), now) - timedelta(weeks=1)
    done = None
    if now >= report_due_at(last_week, report_settings(), tenant):
        done = generate_weekly_report(week=last_week, by=Principal.system(tenant, "weekly report"))
    keep_week_facts(now)
    return done


MAX_HOUR = 23


@transaction.atomic
def update_report_settings(
    *,
    by: Principal,
    hour: int | None = None,
    email_managers: bool | None = None,
    email_owners: bool | None = None,
) -> ReportSettings:
    """Change when the Monday report is made and who gets it; only the values given change."""
    if hour is not None and not 0 <= hour <= MAX_HOUR:
        raise RuleViolation(field="hour", code="invalid", message="An hour from 0 to 23.")
    row = ReportSettings.objects.select_for_update().filter().first()
    if row is None:
        row = ReportSettings(tenant=by.tenant)
    before = {
        "hour": row.hour,
        "email_managers": row.email_managers,
        "email_owners": row.email_owners,
    }
    if hour is not None:
        row.hour = hour
    if email_managers is not None:
        row.email_managers = email_managers
    if email_owners is not None:
        row.email_owners = email_owners
    row.updated_at = timezone.now()
    row.save()
    after = {
        "hour": row.hour,
        "email_managers": row.email_managers,
        "email_owners": row.email_owners,
    }
    if after != before:
        record_audit(action="report_settings.updated", obj=row, before=before, after=after, by=by)
    return row
