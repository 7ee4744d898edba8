"""The weekly report's SQL: one set-based query for every line of a week, one for a few leads.

Per lead, one pass (``f``) decides which figures it belongs to; the lines are
then ``GROUP BY GROUPING SETS`` of that pass on PostgreSQL (rep, partner,
team, the tenant in one aggregation) or four ``GROUP BY``\\ s joined by
``UNION ALL`` on SQLite. A lead counts for its owner and team as they are when
the figures are computed. The same SQL makes a snapshot (``INSERT … SELECT``
in the service), answers the current week live and, restricted to the leads
changed since a snapshot (:func:`changed_leads_sql`), finds what moved.

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

from django.db import connection

from leads.models import REPORTED_STAGES, LeadStage
from leads.stages import MACHINE as LEAD_MACHINE

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

# What :func:`changed_leads_sql` gives per lead, in order: the owner and the figures it is in.
LEAD_COLUMNS = (
    "id",
    "rep_id",
    "partner_id",
    "team_id",
    "won",
    "lost",
    "postponed",
    "progressed",
    "breached",
    "missing",
)

# PostgreSQL: the settings the figures' statement runs with (its transaction only). JIT would
# compile the plan on every snapshot (its cost is far over ``jit_above_cost``; measured: 0.24 s
# of a 1.4 s snapshot at 200,000 leads); the GROUPING SETS sort and the per-group arrays get
# room in memory instead of spilling to disk.
POSTGRES_SETTINGS = "SET LOCAL jit = off; SET LOCAL work_mem = '64MB'"


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


def _in_week(column: str) -> str:
    return f"{column} >= %(start)s AND {column} < %(end)s"


def _per_lead(*, changed_only: bool) -> str:
    """The ``WITH`` of the per-lead pass ``f``: every lead of the week, or the changed ones."""
    open_stages = ", ".join(f"'{stage}'" for stage in REPORTED_STAGES)
    only = "AND {col} IN (SELECT id FROM changed)" if changed_only else ""
    changed = f"changed AS ({_changed_since()}), " if changed_only else ""
    where = (
        "l.id IN (SELECT id FROM changed)"
        if changed_only
        else f"""(
            (l.closed_at >= %(qstart)s AND l.closed_at < %(end)s)
            OR l.stage IN ({open_stages})
            OR tc.lead_id IS NOT NULL OR up.lead_id IS NOT NULL
            OR {_in_week("l.breached_at")}
        )"""
    )
    return f"""
    WITH {changed}tc AS (
        SELECT lead_id, COUNT(*) AS n FROM leads_touch
        WHERE tenant_id = %(tenant)s AND lead_id IS NOT NULL AND {_in_week("at")}
            {only.format(col="lead_id")}
        GROUP BY lead_id
    ), up AS (
        SELECT lead_id, MAX(CASE WHEN status = 'progress' THEN 1 ELSE 0 END) AS progressed
        FROM leads_weeklyupdate WHERE tenant_id = %(tenant)s AND week = %(week)s
            {only.format(col="lead_id")}
        GROUP BY lead_id
    ), f AS (
        SELECT l.id, l.rep_id, l.partner_id, l.team_id, l.value, l.lost_reason,
            l.postponed_until,
            CASE WHEN l.stage = 'won' AND {_in_week("l.closed_at")} THEN 1 ELSE 0 END AS won,
            CASE WHEN l.stage = 'won' AND l.closed_at >= %(qstart)s AND l.closed_at < %(end)s
                THEN 1 ELSE 0 END AS qwon,
            CASE WHEN l.stage = 'lost' AND {_in_week("l.closed_at")} THEN 1 ELSE 0 END AS lost,
            CASE WHEN l.stage = 'postponed' AND {_in_week("l.closed_at")}
                THEN 1 ELSE 0 END AS postponed,
            COALESCE(up.progressed, 0) AS progressed,
            COALESCE(tc.n, 0) AS touches,
            CASE WHEN {_in_week("l.breached_at")} THEN 1 ELSE 0 END AS breached,
            CASE WHEN l.stage IN ({open_stages}) AND l.assigned_at < %(cutoff)s
                AND up.lead_id IS NULL THEN 1 ELSE 0 END AS missing
        FROM leads_lead l
        LEFT JOIN tc ON tc.lead_id = l.id
        LEFT JOIN up ON up.lead_id = l.id
        WHERE l.tenant_id = %(tenant)s AND {where}
    )"""


def figures_sql() -> str:
    """The SELECT of every line of one week (named parameters: ``Window.params``)."""
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
    return f"{_per_lead(changed_only=False)}\n    SELECT * FROM ({lines}) AS lines"


def _changed_since() -> str:
    """The leads that may have moved in a figure since ``%(since)s`` (a snapshot's time).

    Every change of a lead's stage is a stage move (``tenancy_stagechange``), every
    other change of a lead (its owner, a breach) is audited (``tenancy_auditevent``),
    and a late update is a new ``leads_weeklyupdate`` of the week: each read through an
    index on the time it was written, so the cost follows the changes, not the leads.
    """
    stages = ", ".join(f"'{stage}'" for stage in LeadStage)
    # The stage in the IN list lets the (tenant, machine, to_stage, created_at) index
    # start at the snapshot's time for each stage instead of reading every move.
    return f"""
        SELECT CAST(object_id AS BIGINT) AS id FROM tenancy_auditevent
        WHERE tenant_id = %(tenant)s AND created_at > %(since)s AND object_type = 'leads.lead'
        UNION
        SELECT object_id FROM tenancy_stagechange
        WHERE tenant_id = %(tenant)s AND machine = '{LEAD_MACHINE}' AND to_stage IN ({stages})
            AND created_at > %(since)s
        UNION
        SELECT lead_id FROM leads_weeklyupdate
        WHERE tenant_id = %(tenant)s AND week = %(week)s AND created_at > %(since)s"""


def changed_leads_sql() -> str:
    """Each lead changed since a snapshot (``%(since)s``) with its owner and figures now.

    One row per lead in :data:`LEAD_COLUMNS` order (a changed lead in no figure
    any more still has its row, all zeros); parameters: ``Window.params`` and
    ``since``.
    """
    figures = ", ".join(f"f.{column}" for column in LEAD_COLUMNS)
    return f"{_per_lead(changed_only=True)}\n    SELECT {figures} FROM f"
