"""The weekly report's figures: one set-based query for every line of a week, and its readers.

The same SQL (:func:`figures_sql`) makes a snapshot (``INSERT … SELECT`` in the
service) and answers the current week and "changes since" live (a plain
``SELECT`` here), so a figure is computed one way only.

The week is an ISO week in the tenant's time zone: from Monday's local
midnight to the next Monday's (DST-safe, ``leadflow/lib/weeks.py``). Per lead,
one pass decides which figures it belongs to; the lines are then four
``GROUP BY``\\ s of that pass (rep, partner, team, the tenant), joined by
``UNION ALL``. A lead counts for its owner and team as they are when the
figures are computed.

- **won / lost / postponed**: the lead is in that stage and was closed
  (``closed_at``) within the week. Only leads count: an outcome imported as
  history lives on the inquiry (``Inquiry.outcome``) and never here.
- **quarter won**: won from the first day of the week's quarter (by its
  Monday) to the week's end, against the quarter's target (``leads.Target``).
- **progressed**: a "progress" weekly update for the week.
- **touches**: contact attempts on leads made within the week.
- **SLA breaches**: leads whose acceptance window was breached within the week.
- **missing updates**: leads open for an update (accepted or SQL), assigned
  before the week's Thursday, with no update for the week (the leads rule,
  ``leads.selectors.weekly``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from leadflow.lib import times, weeks
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import Tenant
from leads.models import REPORTED_STAGES, Lead
from leads.selectors.weekly import owed_cutoff
from reporting.weekly.models import ReportSettings, WeeklyReport, WeeklyReportLine

FIRST_YEAR = 1970  # no report is older; earlier years only invite date overflows
WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")

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

# The columns of a line the query fills, in the order the SELECT gives them.
LINE_COLUMNS = (
    "scope",
    "rep_id",
    "partner_id",
    "team_id",
    "name",
    "won_count",
    "won_value",
    "won_ids",
    "quarter_won_count",
    "quarter_won_value",
    "target_count",
    "target_value",
    "lost_count",
    "lost_ids",
    "lost_reasons",
    "postponed_count",
    "postponed_ids",
    "postponed_until",
    "progressed_count",
    "progressed_ids",
    "touches",
    "breach_count",
    "breach_ids",
    "missing_count",
    "missing_ids",
)
JSON_COLUMNS = frozenset(c for c in LINE_COLUMNS if c.endswith(("_ids", "_reasons", "_until")))


class BadWeek(ValueError):
    """A week parameter that is malformed or names no ISO week (``2026-W60``)."""


def parse_week(text: str) -> date:
    """The Monday of ``YYYY-Www``; :class:`BadWeek` if malformed or the week does not exist."""
    match = WEEK_PATTERN.match(text.strip())
    if match is None:
        raise BadWeek("Give the week as YYYY-Www, e.g. 2026-W49.")
    year, number = int(match.group(1)), int(match.group(2))
    if year < FIRST_YEAR:
        raise BadWeek(f"Give a week from {FIRST_YEAR} on.")
    try:
        return date.fromisocalendar(year, number, 1)
    except ValueError:
        raise BadWeek(f"{year} has no ISO week {number}.") from None


def tenant_zone(tenant: Tenant) -> tzinfo:
    return times.zone(tenant.timezone or "UTC")


def current_week(tz: tzinfo, at: datetime | None = None) -> date:
    """The Monday of the week ``at`` (default now) falls in, in ``tz``."""
    return weeks.week_of_moment(at or timezone.now(), tz)


def last_week(tenant: Tenant) -> date:
    """The Monday of the last complete week in the tenant's time zone (the default report)."""
    return current_week(tenant_zone(tenant)) - timedelta(weeks=1)


def report_settings() -> ReportSettings:
    """The current tenant's report settings, or an unsaved row with the defaults."""
    tenant_id = require_tenant_id()
    return ReportSettings.objects.filter().first() or ReportSettings(tenant_id=tenant_id)


@dataclass(frozen=True)
class Window:
    """What the figures of one week read: its instants, its quarter, its missing-update cutoff."""

    week: date
    start: datetime
    end: datetime
    quarter_start: datetime
    year: int
    quarter: int
    cutoff: datetime

    @classmethod
    def of(cls, week: date, tz: tzinfo) -> Window:
        start, end = weeks.week_bounds(week, tz)
        quarter = (week.month - 1) // 3 + 1
        first = date(week.year, 3 * quarter - 2, 1)
        return cls(
            week=week,
            start=start,
            end=end,
            quarter_start=datetime.combine(first, time.min, tzinfo=tz),
            year=week.year,
            quarter=quarter,
            cutoff=owed_cutoff(week, tz),
        )

    def params(self, tenant_id: int) -> dict[str, Any]:
        """The query's parameters, adapted as the backend stores them (SQLite: UTC text)."""
        moment = connection.ops.adapt_datetimefield_value
        return {
            "tenant": tenant_id,
            "week": connection.ops.adapt_datefield_value(self.week),
            "start": moment(self.start),
            "end": moment(self.end),
            "qstart": moment(self.quarter_start),
            "year": self.year,
            "quarter": self.quarter,
            "cutoff": moment(self.cutoff),
        }


def _json_agg(expression: str, condition: str) -> str:
    if connection.vendor == "postgresql":
        # array_agg then one conversion: much cheaper than jsonb_agg's per-element values.
        return (
            f"COALESCE(to_jsonb(array_agg({expression}) FILTER (WHERE {condition})), '[]'::jsonb)"
        )
    return f"json_group_array({expression}) FILTER (WHERE {condition})"


def _aggregates(target_count: str, target_value: str) -> list[str]:
    """The figures of one group of the per-lead pass, in ``LINE_COLUMNS`` order after ``name``."""
    return [
        "COALESCE(SUM(f.won), 0)",
        "COALESCE(SUM(CASE WHEN f.won = 1 THEN f.value END), 0)",
        _json_agg("f.id", "f.won = 1"),
        "COALESCE(SUM(f.qwon), 0)",
        "COALESCE(SUM(CASE WHEN f.qwon = 1 THEN f.value END), 0)",
        target_count,
        target_value,
        "COALESCE(SUM(f.lost), 0)",
        _json_agg("f.id", "f.lost = 1"),
        _json_agg("f.lost_reason", "f.lost = 1"),
        "COALESCE(SUM(f.postponed), 0)",
        _json_agg("f.id", "f.postponed = 1"),
        _json_agg("f.postponed_until", "f.postponed = 1"),
        "COALESCE(SUM(f.progressed), 0)",
        _json_agg("f.id", "f.progressed = 1"),
        "COALESCE(SUM(f.touches), 0)",
        "COALESCE(SUM(f.breached), 0)",
        _json_agg("f.id", "f.breached = 1"),
        "COALESCE(SUM(f.missing), 0)",
        _json_agg("f.id", "f.missing = 1"),
    ]


def _grouping_sets() -> str:
    """PostgreSQL: every scope's lines in one pass (``GROUPING SETS``), not four scans."""
    scope = (
        "CASE WHEN GROUPING(f.rep_id) = 0 THEN 'rep' WHEN GROUPING(f.partner_id) = 0 "
        "THEN 'partner' WHEN GROUPING(f.team_id) = 0 THEN 'team' ELSE 'tenant' END"
    )
    name = (
        "CASE WHEN GROUPING(f.rep_id) = 0 THEN (SELECT COALESCE(NULLIF(u.full_name, ''), "
        "u.email) FROM tenancy_user u WHERE u.id = f.rep_id) "
        "WHEN GROUPING(f.partner_id) = 0 THEN (SELECT p.name FROM tenancy_partner p "
        "WHERE p.id = f.partner_id) "
        "WHEN GROUPING(f.team_id) = 0 THEN (SELECT t.name FROM leads_team t "
        "WHERE t.id = f.team_id) ELSE 'Everyone' END"
    )

    def target(field: str) -> str:
        owners = [
            "(SELECT tg.{field} FROM leads_target tg WHERE tg.tenant_id = %(tenant)s "
            f"AND tg.year = %(year)s AND tg.quarter = %(quarter)s AND tg.{key} = f.{key})"
            for key in ("rep_id", "partner_id", "team_id")
        ]
        return "COALESCE(" + ", ".join(o.replace("{field}", field) for o in owners) + ")"

    expressions = [
        scope,
        "f.rep_id",
        "f.partner_id",
        "f.team_id",
        name,
        *_aggregates(target("count"), target("value")),
    ]
    selected = ",\n        ".join(
        f"{expression} AS {column}"
        for expression, column in zip(expressions, LINE_COLUMNS, strict=True)
    )
    # A set's NULL key (leads with no rep, say) is no line of that scope.
    return f"""
    SELECT {selected}
    FROM f
    GROUP BY GROUPING SETS ((f.rep_id), (f.partner_id), (f.team_id), ())
    HAVING NOT ((GROUPING(f.rep_id) = 0 AND f.rep_id IS NULL)
        OR (GROUPING(f.partner_id) = 0 AND f.partner_id IS NULL)
        OR (GROUPING(f.team_id) = 0 AND f.team_id IS NULL))"""


def _branch(scope: str, key: str | None) -> str:
    """One ``GROUP BY`` of the per-lead pass: the lines of one scope."""
    name = {
        "rep": "(SELECT COALESCE(NULLIF(u.full_name, ''), u.email) FROM tenancy_user u "
        "WHERE u.id = f.rep_id)",
        "partner": "(SELECT p.name FROM tenancy_partner p WHERE p.id = f.partner_id)",
        "team": "(SELECT t.name FROM leads_team t WHERE t.id = f.team_id)",
        "tenant": "'Everyone'",
    }[scope]
    target = (
        "(SELECT tg.{field} FROM leads_target tg WHERE tg.tenant_id = %(tenant)s "
        f"AND tg.year = %(year)s AND tg.quarter = %(quarter)s AND tg.{key} = f.{key})"
        if key
        else "CAST(NULL AS {cast})"
    )
    columns = {
        "rep_id": "f.rep_id" if key == "rep_id" else "CAST(NULL AS BIGINT)",
        "partner_id": "f.partner_id" if key == "partner_id" else "CAST(NULL AS BIGINT)",
        "team_id": "f.team_id" if key == "team_id" else "CAST(NULL AS BIGINT)",
    }
    where = f"WHERE f.{key} IS NOT NULL GROUP BY f.{key}" if key else ""
    expressions = [
        f"'{scope}'",
        columns["rep_id"],
        columns["partner_id"],
        columns["team_id"],
        name,
        *_aggregates(
            target.replace("{field}", "count").replace("{cast}", "INTEGER"),
            target.replace("{field}", "value").replace("{cast}", "NUMERIC"),
        ),
    ]
    selected = ",\n        ".join(
        f"{expression} AS {column}"
        for expression, column in zip(expressions, LINE_COLUMNS, strict=True)
    )
    return f"""
    SELECT {selected}
    FROM f {where}"""


def figures_sql() -> str:
    """The SELECT of every line of one week (named parameters: :meth:`Window.params`)."""
    open_stages = ", ".join(f"'{stage}'" for stage in REPORTED_STAGES)
    if connection.vendor == "postgresql":
        lines = _grouping_sets()
    else:
        lines = " UNION ALL ".join(
            _branch(scope, key)
            for scope, key in (
                ("tenant", None),
                ("team", "team_id"),
                ("rep", "rep_id"),
                ("partner", "partner_id"),
            )
        )
    in_week = "{col} >= %(start)s AND {col} < %(end)s"
    return f"""
    WITH tc AS (
        SELECT lead_id, COUNT(*) AS n FROM leads_touch
        WHERE tenant_id = %(tenant)s AND lead_id IS NOT NULL AND {in_week.format(col="at")}
        GROUP BY lead_id
    ), up AS (
        SELECT lead_id, MAX(CASE WHEN status = 'progress' THEN 1 ELSE 0 END) AS progressed
        FROM leads_weeklyupdate WHERE tenant_id = %(tenant)s AND week = %(week)s
        GROUP BY lead_id
    ), f AS (
        SELECT l.id, l.rep_id, l.partner_id, l.team_id, l.value, l.lost_reason,
            l.postponed_until,
            CASE WHEN l.stage = 'won' AND {in_week.format(col="l.closed_at")}
                THEN 1 ELSE 0 END AS won,
            CASE WHEN l.stage = 'won' AND l.closed_at >= %(qstart)s AND l.closed_at < %(end)s
                THEN 1 ELSE 0 END AS qwon,
            CASE WHEN l.stage = 'lost' AND {in_week.format(col="l.closed_at")}
                THEN 1 ELSE 0 END AS lost,
            CASE WHEN l.stage = 'postponed' AND {in_week.format(col="l.closed_at")}
                THEN 1 ELSE 0 END AS postponed,
            COALESCE(up.progressed, 0) AS progressed,
            COALESCE(tc.n, 0) AS touches,
            CASE WHEN {in_week.format(col="l.breached_at")} THEN 1 ELSE 0 END AS breached,
            CASE WHEN l.stage IN ({open_stages}) AND l.assigned_at < %(cutoff)s
                AND up.lead_id IS NULL THEN 1 ELSE 0 END AS missing
        FROM leads_lead l
        LEFT JOIN tc ON tc.lead_id = l.id
        LEFT JOIN up ON up.lead_id = l.id
        WHERE l.tenant_id = %(tenant)s AND (
            (l.closed_at >= %(qstart)s AND l.closed_at < %(end)s)
            OR l.stage IN ({open_stages})
            OR tc.lead_id IS NOT NULL OR up.lead_id IS NOT NULL
            OR {in_week.format(col="l.breached_at")}
        )
    )
    SELECT * FROM ({lines}) AS lines"""


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
    with connection.cursor() as cursor:
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


def changes_since(
    stored: list[WeeklyReportLine], now: list[WeeklyReportLine]
) -> dict[tuple[str, int | None], list[int]]:
    """Per line, the leads whose place in a figure differs now from the snapshot.

    A late update (missing → progressed), a reopened lead (won → open), a lead
    given to another owner: each shows as a change beside the snapshot.
    """
    live = {line_key(line): line for line in now}
    result: dict[tuple[str, int | None], list[int]] = {}
    for line in stored:
        other = live.get(line_key(line))
        changed: set[int] = set()
        for figure in LEAD_FIGURES:
            before = set(lead_ids(line, figure))
            after = set(lead_ids(other, figure)) if other is not None else set()
            changed |= before ^ after
        result[line_key(line)] = sorted(changed)
    return result


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
