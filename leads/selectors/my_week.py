"""My week: the owner's open leads, which still need this week's update, and the late backlog.

One query whatever the number of leads: the owner's open leads with the
person joined and, annotated per row, the owner's touch count, the last
update, whether this week and each of the last ``BACKLOG_WEEKS`` weeks have an
update, and whether this week's is owed (``leads.selectors.weekly``'s rule:
accepted or SQL, assigned before the week's Thursday in the tenant's zone).
Rows are split in Python. The owner is the principal: a partner (user or key)
owns its partner's leads, anyone else the leads where they are the rep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import (
    Aggregate,
    BooleanField,
    CharField,
    ExpressionWrapper,
    F,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import JSONObject

from leadflow.lib import times, weeks
from leadflow.tenancy.principal import Principal
from leads import stages as lead_stages
from leads.models import REPORTED_STAGES, Lead, LeadStage, WeeklyUpdate
from leads.selectors.touches import owner_touches_expression
from leads.selectors.weekly import current_week, has_update_for, missing_update, owed_cutoff

# How far back the late backlog looks (older gaps are a manager's conversation, not a form).
BACKLOG_WEEKS = 8


@dataclass
class LateLead:
    """An open lead and the past weeks it has no update for, newest first."""

    lead: Lead
    weeks: list[date]

    @property
    def labels(self) -> list[tuple[str, str]]:
        """(value, text) for the week picker: ``2026-W49`` and ``2026-W49 · 30 Nov``."""
        return [
            (weeks.week_label(monday), f"{weeks.week_label(monday)} · {monday.day} {monday:%b}")
            for monday in self.weeks
        ]


@dataclass
class MyWeek:
    week: date
    awaiting: list[Lead] = field(default_factory=list)
    # Owed (or optional, when assigned late in the week) and not reported yet.
    to_report: list[Lead] = field(default_factory=list)
    reported: list[Lead] = field(default_factory=list)
    late: list[LateLead] = field(default_factory=list)
    owed: int = 0
    reported_count: int = 0

    @property
    def label(self) -> str:
        return weeks.week_label(self.week)

    @property
    def late_weeks(self) -> int:
        return sum(len(row.weeks) for row in self.late)


def owned_leads(principal: Principal) -> QuerySet[Lead]:
    """The leads the principal owns: its partner's, or those where they are the rep."""
    if principal.partner is not None:
        return Lead.objects.filter(partner_id=principal.partner.pk)
    if principal.user is not None:
        return Lead.objects.filter(rep_id=principal.user.pk, partner__isnull=True)
    return Lead.objects.none()


def _last_update() -> Subquery:
    """The lead's latest update (by week, then time) as one JSON object: one subplan a row."""
    latest = WeeklyUpdate.objects.filter(lead_id=OuterRef("pk")).order_by(
        "-week", "-created_at", "-id"
    )
    shown = JSONObject(week="week", status="status", note="note", at="created_at")
    return Subquery(latest.values(json=shown)[:1], output_field=JSONField())


class _WeeksText(Aggregate):
    """SQLite's ``group_concat`` of distinct weeks ('YYYY-MM-DD,…'), for ``make run``."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(distinct)s%(expressions)s)"
    allow_distinct = True
    output_field = CharField()


def _weeks_reported(since: date) -> Subquery:
    """The weeks since ``since`` the lead has an update for, in one subplan a row: an array
    on PostgreSQL, comma-separated text elsewhere (``ARRAY(SELECT …)`` is PostgreSQL's own);
    :func:`_reported_weeks` reads either."""
    reported = WeeklyUpdate.objects.filter(lead_id=OuterRef("pk"), week__gte=since)
    if connection.vendor == "postgresql":
        return ArraySubquery(reported.order_by().values("week").distinct())
    weeks_text = (
        reported.order_by().values("lead_id").annotate(weeks=_WeeksText("week", distinct=True))
    )
    return Subquery(weeks_text.values("weeks")[:1], output_field=CharField())


def _reported_weeks(value: list[date] | str | None) -> set[date]:
    if not value:
        return set()
    if isinstance(value, str):
        return {date.fromisoformat(week) for week in value.split(",")}
    return set(value)


def _past_weeks(week: date) -> list[date]:
    return [week - timedelta(weeks=n) for n in range(1, BACKLOG_WEEKS + 1)]


def my_week_leads(principal: Principal, *, week: date, tz: tzinfo) -> QuerySet[Lead]:
    """The owner's open leads with everything a My week row shows; one query when evaluated."""
    annotations: dict[str, Any] = {
        "owner_touches": owner_touches_expression(),
        "reported_this_week": has_update_for(week),
        "owes_this_week": ExpressionWrapper(
            Q(stage__in=REPORTED_STAGES, assigned_at__lt=owed_cutoff(week, tz)),
            output_field=BooleanField(),
        ),
        "last_update": _last_update(),
        "weeks_reported": _weeks_reported(_past_weeks(week)[-1]),
    }
    # Open leads, and those closed by this week's update (they stay in the week's "done").
    return (
        owned_leads(principal)
        .annotate(**annotations)
        .filter(Q(stage__in=lead_stages.OPEN) | Q(reported_this_week=True))
        .select_related("inquiry", "appointment")
        .order_by(F("next_step_on").asc(nulls_last=True), "-score", "id")
    )


def _owes_past(lead: Lead, monday: date, tz: tzinfo) -> bool:
    """Whether the lead owed an update for the past week ``monday`` (assigned, accepted then)."""
    if lead.assigned_at >= owed_cutoff(monday, tz):
        return False
    week_end = weeks.week_bounds(monday, tz)[1]
    return lead.accepted_at is None or lead.accepted_at < week_end


def my_week(principal: Principal, *, at: datetime | None = None) -> MyWeek:
    """The principal's week in the tenant's zone. One query, whatever the number of leads.

    A lead closed by this week's update stays in the week's reported rows (and
    its count), so the counter does not shrink as the owner wins and loses.
    """
    tz = times.zone(principal.tenant.timezone)
    week = current_week(tz, at)
    result = MyWeek(week=week)
    past = _past_weeks(week)
    for lead in my_week_leads(principal, week=week, tz=tz):
        row: Any = lead
        _unpack_last_update(row)
        if lead.stage == LeadStage.AWAITING_ACCEPTANCE:
            result.awaiting.append(lead)
            continue
        if row.reported_this_week:
            result.reported.append(lead)
            result.reported_count += 1
            result.owed += 1
            if not lead.is_open:
                continue
        else:
            result.to_report.append(lead)
            if row.owes_this_week:
                result.owed += 1
        reported = _reported_weeks(row.weeks_reported)
        gaps = [
            monday for monday in past if monday not in reported and _owes_past(lead, monday, tz)
        ]
        if gaps:
            result.late.append(LateLead(lead=lead, weeks=gaps))
    return result


def _unpack_last_update(row: Any) -> None:
    """``last_update_week``/``_status``/``_note``/``_at`` from the JSON the query returned."""
    latest = row.last_update or {}
    row.last_update_week = date.fromisoformat(latest["week"]) if latest.get("week") else None
    row.last_update_status = latest.get("status", "")
    row.last_update_note = latest.get("note", "")
    row.last_update_at = datetime.fromisoformat(latest["at"]) if latest.get("at") else None


def missing_this_week(principal: Principal, *, at: datetime | None = None) -> QuerySet[Lead]:
    """The owner's leads missing this week's update (``missing_update`` over ``owned_leads``)."""
    tz = times.zone(principal.tenant.timezone)
    return missing_update(owned_leads(principal), week=current_week(tz, at), tz=tz)


def missing_now(leads: QuerySet[Lead], *, principal: Principal) -> QuerySet[Lead]:
    """``leads`` missing this week's update, the week read in the tenant's zone.

    For list filters (the manager's ``?missing=true``): ``missing_update`` with
    the current week and zone filled in. One query.
    """
    tz = times.zone(principal.tenant.timezone)
    return missing_update(leads, week=current_week(tz), tz=tz)
