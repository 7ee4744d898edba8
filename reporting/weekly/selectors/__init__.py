"""The weekly report as one viewer reads it: a week's lines, the viewer's own unless a manager.

The parts, by concern: which week and its window (:mod:`.window`), the SQL of the figures
(:mod:`.sql`), a week's lines (:mod:`.lines`) and what changed since a
snapshot (:mod:`.changes`); this package re-exports them, so callers import
from ``reporting.weekly.selectors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from leadflow.lib import weeks
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from reporting.weekly.models import LineScope, WeeklyReportLine
from reporting.weekly.selectors.changes import ChangedLead, Changes, changed_leads, changes_since
from reporting.weekly.selectors.lines import (
    FIGURE_LABELS,
    LEAD_FIGURES,
    SCOPE_ORDER,
    lead_ids,
    leads_of,
    line_key,
    live_lines,
    lost_by_reason,
    postponed_by_date,
    report_settings,
    snapshot,
    snapshot_lines,
    sort_lines,
)
from reporting.weekly.selectors.sql import (
    JSON_COLUMNS,
    LINE_COLUMNS,
    POSTGRES_CHANGES_SETTINGS,
    POSTGRES_FACTS_SETTINGS,
    POSTGRES_SETTINGS,
    changed_leads_sql,
    figures_from_facts_sql,
    figures_sql,
    fill_facts_sql,
    refresh_facts_sql,
    tuned,
)
from reporting.weekly.selectors.window import (
    FIRST_YEAR,
    WEEK_PATTERN,
    BadWeek,
    Window,
    current_week,
    last_week,
    parse_week,
    tenant_zone,
)

# --- What one viewer reads: a week's lines, the viewer's own only unless a manager -------


class NotVisible(LookupError):
    """A line the viewer may not see, or one that does not exist: the same 404."""


@dataclass
class WeekView:
    """One week as a viewer reads it: the snapshot (or live figures) and what changed since."""

    week: date
    tz: tzinfo
    provisional: bool
    generated_at: datetime | None
    lines: list[WeeklyReportLine]
    changes: Changes
    current: date

    @property
    def label(self) -> str:
        return weeks.week_label(self.week)

    @property
    def previous(self) -> str:
        return weeks.week_label(self.week - timedelta(weeks=1))

    @property
    def next(self) -> str | None:
        later = self.week + timedelta(weeks=1)
        return weeks.week_label(later) if later <= self.current else None

    @property
    def ends(self) -> date:
        return self.week + timedelta(days=6)

    def changes_of(self, line: WeeklyReportLine) -> list[int]:
        return self.changes.get(line_key(line), [])


def may_see_all(principal: Principal) -> bool:
    """Managers and admins read every line; reps and partners their own."""
    return not principal.is_partner and principal.has_role(*MANAGERS)


def may_read_reports(principal: Principal) -> bool:
    return may_see_all(principal) or principal.is_partner or principal.has_role(Role.REP)


def _visible(principal: Principal, line: WeeklyReportLine) -> bool:
    if may_see_all(principal):
        return True
    if principal.partner is not None:
        return line.scope == LineScope.PARTNER and line.partner_id == principal.partner.pk
    user_id = principal.user.pk if principal.user is not None else None
    return line.scope == LineScope.REP and line.rep_id == user_id


def week_view(
    principal: Principal,
    week: date,
    *,
    scope: str | None = None,
    owner_id: int | None = None,
) -> WeekView:
    """The week's lines the viewer may read, narrowed to one line (``scope`` + ``owner_id``).

    A past week with a snapshot reads it, with the changes since beside it
    (only the leads changed since it was made are computed again); the current
    week, or a past week never snapshotted, is computed live and marked
    provisional. A future week is
    :class:`BadWeek`. A narrowing that matches no visible line is
    :class:`NotVisible` (404).
    """
    tz = tenant_zone(principal.tenant)
    current = current_week(tz)
    if week > current:
        raise BadWeek(f"{weeks.week_label(week)} has not started yet.")
    stored = snapshot(week) if week < current else None
    lines = snapshot_lines(stored) if stored is not None else live_lines(week, tz)
    lines = [line for line in lines if _visible(principal, line)]
    if scope is not None:
        lines = [line for line in lines if line_key(line) == (scope, owner_id)]
        if not lines:
            raise NotVisible(f"no {scope} line {owner_id} in {weeks.week_label(week)}")
    changes = changes_since(lines, changed_leads(stored, tz)) if stored is not None else {}
    return WeekView(
        week=week,
        tz=tz,
        provisional=stored is None,
        generated_at=stored.generated_at if stored is not None else None,
        lines=lines,
        changes=changes,
        current=current,
    )


def figure_lead_ids(view: WeekView, line: WeeklyReportLine, figure: str) -> list[int]:
    """The leads behind one figure of a line (``changes``: those changed since the snapshot)."""
    if figure == "changes":
        return view.changes_of(line)
    if figure not in LEAD_FIGURES:
        raise NotVisible(figure)
    return lead_ids(line, figure)


__all__ = [
    "BadWeek",
    "changed_leads",
    "changed_leads_sql",
    "ChangedLead",
    "Changes",
    "changes_since",
    "current_week",
    "FIGURE_LABELS",
    "figure_lead_ids",
    "figures_from_facts_sql",
    "figures_sql",
    "fill_facts_sql",
    "FIRST_YEAR",
    "JSON_COLUMNS",
    "last_week",
    "LEAD_FIGURES",
    "lead_ids",
    "leads_of",
    "LINE_COLUMNS",
    "line_key",
    "live_lines",
    "lost_by_reason",
    "may_read_reports",
    "may_see_all",
    "NotVisible",
    "parse_week",
    "postponed_by_date",
    "POSTGRES_CHANGES_SETTINGS",
    "POSTGRES_FACTS_SETTINGS",
    "POSTGRES_SETTINGS",
    "refresh_facts_sql",
    "report_settings",
    "SCOPE_ORDER",
    "snapshot",
    "snapshot_lines",
    "sort_lines",
    "tenant_zone",
    "tuned",
    "WEEK_PATTERN",
    "week_view",
    "WeekView",
    "Window",
]
