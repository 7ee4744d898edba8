"""What moved since a week's snapshot: per line, the leads whose place in a figure differs now.

A late update (missing → progressed), a reopened lead (won → open), a lead
given to another owner: each shows as a change beside the snapshot, never
written into it. Only the leads changed since the snapshot was made are
computed again (:func:`~reporting.weekly.selectors.sql.changed_leads_sql`,
read through indexes on when each change was written), so reading a past
week costs what changed, not what the tenant has.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from typing import NamedTuple

from django.db import connection

from leadflow.tenancy.context import require_tenant_id
from reporting.weekly.models import LineScope, WeeklyReport, WeeklyReportLine
from reporting.weekly.selectors.lines import LEAD_FIGURES, line_key
from reporting.weekly.selectors.sql import (
    LEAD_COLUMNS,
    POSTGRES_CHANGES_SETTINGS,
    changed_leads_sql,
    tuned,
)
from reporting.weekly.selectors.window import Window

Changes = dict[tuple[str, int | None], list[int]]


class ChangedLead(NamedTuple):
    """One changed lead now: its owner and team, and 1/0 for each figure it is in."""

    id: int
    rep_id: int | None
    partner_id: int | None
    team_id: int | None
    won: int
    lost: int
    postponed: int
    progressed: int
    breach: int
    missing: int


def changed_leads(report: WeeklyReport, tz: tzinfo) -> list[ChangedLead]:
    """The leads changed since ``report`` was made, with their figures for its week now."""
    params = {
        **Window.of(report.week, tz).params(require_tenant_id()),
        "since": connection.ops.adapt_datetimefield_value(report.generated_at),
    }
    with tuned(POSTGRES_CHANGES_SETTINGS) as cursor:
        cursor.execute(changed_leads_sql(), params)
        rows = cursor.fetchall()
    assert len(LEAD_COLUMNS) == len(ChangedLead._fields)
    return [ChangedLead._make(row) for row in rows]


def _line_keys(lead: ChangedLead) -> list[tuple[str, int | None]]:
    """The keys (:func:`line_key`) of the lines a lead counts in now: the tenant's, its owners'."""
    keys: list[tuple[str, int | None]] = [(LineScope.TENANT, None)]
    for scope, owner in (
        (LineScope.REP, lead.rep_id),
        (LineScope.PARTNER, lead.partner_id),
        (LineScope.TEAM, lead.team_id),
    ):
        if owner is not None:
            keys.append((scope, owner))
    return keys


def changes_since(stored: Iterable[WeeklyReportLine], changed: list[ChangedLead]) -> Changes:
    """Per stored line, the changed leads whose place in one of its figures differs now."""
    if not changed:
        return {line_key(line): [] for line in stored}
    candidates = {lead.id for lead in changed}
    now: dict[tuple[str, int | None], list[ChangedLead]] = {}
    for lead in changed:
        for key in _line_keys(lead):
            now.setdefault(key, []).append(lead)
    result: Changes = {}
    for line in stored:
        mine = now.get(line_key(line), [])
        moved: set[int] = set()
        for figure in LEAD_FIGURES:
            before = candidates.intersection(getattr(line, f"{figure}_ids"))
            after = {lead.id for lead in mine if getattr(lead, figure)}
            moved |= before ^ after
        result[line_key(line)] = sorted(moved)
    return result
