"""A week's lines as the pages, the API, the CSV and the email read them.

The lines of a snapshot (stored, immutable) or of a week computed live (the
current week: unsaved rows from the same query as a snapshot), in one order,
with the leads behind each figure.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import date, tzinfo
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from leadflow.tenancy.context import require_tenant_id
from leads.models import Lead
from reporting.weekly.models import ReportSettings, WeeklyReport, WeeklyReportLine
from reporting.weekly.selectors.sql import JSON_COLUMNS, LINE_COLUMNS, figures_sql, tuned
from reporting.weekly.selectors.window import Window

# The figures a page links to the leads behind; "changes" are the leads that moved since.
LEAD_FIGURES = ("won", "lost", "postponed", "progressed", "breach", "missing")
FIGURE_LABELS = {
    "won": "Won",
    "lost": "Lost",
    "postponed": "Postponed",
    "progressed": "Progressed",
    "breach": "SLA breaches",
    "missing": "Missing updates",
    "changes": "Changes since the snapshot",
}


def report_settings() -> ReportSettings:
    """The current tenant's report settings, or an unsaved row with the defaults."""
    tenant_id = require_tenant_id()
    return ReportSettings.objects.filter().first() or ReportSettings(tenant_id=tenant_id)


def _decoded(column: str, value: Any) -> Any:
    if column in JSON_COLUMNS:
        items = json.loads(value) if isinstance(value, str) else list(value or [])
        return items
    if column.endswith(("_count", "touches")) and column not in ("target_count",):
        return int(value or 0)
    if column in ("won_value", "quarter_won_value") or (
        column == "target_value" and value is not None
    ):
        return Decimal(str(value or 0)).quantize(Decimal("0.01"))
    return value


def live_lines(week: date, tz: tzinfo) -> list[WeeklyReportLine]:
    """The lines of ``week`` computed now (unsaved rows): the current week, or "changes since"."""
    tenant_id = require_tenant_id()
    with tuned() as cursor:
        cursor.execute(figures_sql(), Window.of(week, tz).params(tenant_id))
        rows = cursor.fetchall()
    lines = [
        WeeklyReportLine(
            tenant_id=tenant_id,
            **{c: _decoded(c, v) for c, v in zip(LINE_COLUMNS, row, strict=True)},
        )
        for row in rows
    ]
    return sort_lines(lines)


SCOPE_ORDER: dict[str, int] = {"tenant": 0, "team": 1, "rep": 2, "partner": 3}


def sort_lines(lines: Iterable[WeeklyReportLine]) -> list[WeeklyReportLine]:
    """The tenant first, then teams, reps, partners, each by name; every id list sorted."""
    result = sorted(
        lines, key=lambda line: (SCOPE_ORDER[line.scope], line.name.lower(), line.pk or 0)
    )
    for line in result:
        _sort_ids(line)
    return result


def _sort_ids(line: WeeklyReportLine) -> None:
    """Order each figure's leads by id (with their reasons / dates alongside)."""
    for ids, extra in (("lost_ids", "lost_reasons"), ("postponed_ids", "postponed_until")):
        pairs = sorted(zip(getattr(line, ids), getattr(line, extra), strict=True))
        setattr(line, ids, [p[0] for p in pairs])
        setattr(line, extra, [p[1] for p in pairs])
    for ids in ("won_ids", "progressed_ids", "breach_ids", "missing_ids"):
        setattr(line, ids, sorted(getattr(line, ids)))


def snapshot(week: date) -> WeeklyReport | None:
    """The stored report of ``week`` in the current tenant, if made."""
    return WeeklyReport.objects.filter(week=week).first()


def snapshot_lines(report: WeeklyReport) -> list[WeeklyReportLine]:
    return sort_lines(WeeklyReportLine.objects.filter(report=report))


def lead_ids(line: WeeklyReportLine, figure: str) -> list[int]:
    """The ids of the leads behind one figure of a line."""
    return [int(i) for i in getattr(line, f"{figure}_ids")]


def line_key(line: WeeklyReportLine) -> tuple[str, int | None]:
    """What identifies a line across a snapshot and the live figures: scope and owner id."""
    owner: int | None = line.rep_id or line.partner_id or line.team_id
    return (line.scope, owner)


def lost_by_reason(line: WeeklyReportLine) -> list[tuple[str, int]]:
    return sorted(Counter(str(r) for r in line.lost_reasons).items())


def postponed_by_date(line: WeeklyReportLine) -> list[tuple[str, int]]:
    return sorted(Counter(str(d) for d in line.postponed_until).items())


def leads_of(ids: list[int]) -> QuerySet[Lead]:
    """The leads named, with the buyer and owner a list shows (newest first)."""
    return (
        Lead.objects.filter(pk__in=ids)
        .select_related("inquiry", "rep", "partner", "team")
        .order_by("-id")
    )
