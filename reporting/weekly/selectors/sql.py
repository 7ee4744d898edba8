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

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

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
# of a 1.4 s snapshot at 200,000 leads); the sorts and the per-group lists get room in memory
# instead of spilling to disk; the week's touches and updates are joined to the leads in lead
# order (merge joins over the (tenant, lead, …) indexes) instead of hashing 200,000 leads
# (measured: the per-lead pass 1.08 s → 0.60 s, the snapshot about 15% faster, busy machine).
POSTGRES_SETTINGS = (
    "SET LOCAL jit = off; SET LOCAL work_mem = '64MB'; SET LOCAL enable_hashjoin = off"
)
# The changed leads' statement: a few leads read through indexes, so hash joins stay (merge
# joins would sort the week's touches); only JIT is off (the estimate can pass its threshold).
POSTGRES_CHANGES_SETTINGS = "SET LOCAL jit = off"
# The snapshot from the week's facts: no join left; the facts are added up per owner
# combination in a hash table (1,830 groups at 200,000 leads) instead of sorting every fact row
# first (measured at 200,000 leads, busy machine: 842 → 634 ms, medians of 3).
POSTGRES_FACTS_SETTINGS = (
    "SET LOCAL jit = off; SET LOCAL work_mem = '64MB'; SET LOCAL enable_sort = off"
)
# Back to the session's values, so the rest of a caller's transaction plans as usual.
POSTGRES_DEFAULTS = (
    "SET LOCAL jit = DEFAULT; SET LOCAL work_mem = DEFAULT; SET LOCAL enable_hashjoin = DEFAULT; "
    "SET LOCAL enable_sort = DEFAULT"
)


@contextmanager
def tuned(settings: str = POSTGRES_SETTINGS) -> Iterator[CursorWrapper]:
    """A cursor in a transaction whose statements run with ``settings`` (PostgreSQL)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            yield cursor
            return
        cursor.execute(settings)
        try:
            yield cursor
        finally:
            cursor.execute(POSTGRES_DEFAULTS)


def _json_agg(expression: str, condition: str) -> str:
    """SQLite: one figure's list of a group (ids, reasons or dates) as a JSON array."""
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


# PostgreSQL, first level: each figure's part of one owner combination (rep, partner, team),
# the lists as comma-separated JSON items (``string_agg`` appends; no array per group).
_PARTS = {
    "won": "SUM(f.won)",
    "won_value": "SUM(f.value) FILTER (WHERE f.won = 1)",
    "won_ids": "string_agg(f.id::text, ',') FILTER (WHERE f.won = 1)",
    "qwon": "SUM(f.qwon)",
    "qwon_value": "SUM(f.value) FILTER (WHERE f.qwon = 1)",
    "lost": "SUM(f.lost)",
    "lost_ids": "string_agg(f.id::text, ',') FILTER (WHERE f.lost = 1)",
    "lost_reasons": "string_agg(COALESCE(to_json(f.lost_reason)::text, 'null'), ',') "
    "FILTER (WHERE f.lost = 1)",
    "postponed": "SUM(f.postponed)",
    "postponed_ids": "string_agg(f.id::text, ',') FILTER (WHERE f.postponed = 1)",
    "postponed_until": "string_agg(COALESCE(to_json(f.postponed_until)::text, 'null'), ',') "
    "FILTER (WHERE f.postponed = 1)",
    "progressed": "SUM(f.progressed)",
    "progressed_ids": "string_agg(f.id::text, ',') FILTER (WHERE f.progressed = 1)",
    "touches": "SUM(f.touches)",
    "breached": "SUM(f.breached)",
    "breach_ids": "string_agg(f.id::text, ',') FILTER (WHERE f.breached = 1)",
    "missing": "SUM(f.missing)",
    "missing_ids": "string_agg(f.id::text, ',') FILTER (WHERE f.missing = 1)",
}


def _parts() -> str:
    """The first level ``g``: one row per owner combination with its figures' parts."""
    parts = ",\n        ".join(f"{expression} AS {name}" for name, expression in _PARTS.items())
    return f"""g AS (
        SELECT f.rep_id, f.partner_id, f.team_id,
        {parts}
        FROM f GROUP BY f.rep_id, f.partner_id, f.team_id
    )"""


def _grouping_sets() -> str:
    """PostgreSQL: every scope's lines from the owner combinations in one ``GROUPING SETS``.

    Each lead is aggregated once (into its owner combination, :func:`_parts`), not
    once per scope: the four scopes then add up a few thousand partial rows, and
    their lists are the parts' texts joined, read as JSON once per line.
    """
    scope = (
        "CASE WHEN GROUPING(g.rep_id) = 0 THEN 'rep' WHEN GROUPING(g.partner_id) = 0 "
        "THEN 'partner' WHEN GROUPING(g.team_id) = 0 THEN 'team' ELSE 'tenant' END"
    )
    name = (
        "CASE WHEN GROUPING(g.rep_id) = 0 THEN (SELECT COALESCE(NULLIF(u.full_name, ''), "
        "u.email) FROM tenancy_user u WHERE u.id = g.rep_id) "
        "WHEN GROUPING(g.partner_id) = 0 THEN (SELECT p.name FROM tenancy_partner p "
        "WHERE p.id = g.partner_id) "
        "WHEN GROUPING(g.team_id) = 0 THEN (SELECT t.name FROM leads_team t "
        "WHERE t.id = g.team_id) ELSE 'Everyone' END"
    )

    def target(field: str) -> str:
        owners = [
            "(SELECT tg.{field} FROM leads_target tg WHERE tg.tenant_id = %(tenant)s "
            f"AND tg.year = %(year)s AND tg.quarter = %(quarter)s AND tg.{key} = g.{key})"
            for key in ("rep_id", "partner_id", "team_id")
        ]
        return "COALESCE(" + ", ".join(o.replace("{field}", field) for o in owners) + ")"

    def total(part: str) -> str:
        return f"COALESCE(SUM(g.{part}), 0)"

    def items(part: str) -> str:
        return f"CAST('[' || COALESCE(string_agg(g.{part}, ','), '') || ']' AS jsonb)"

    expressions = [
        scope,
        "g.rep_id",
        "g.partner_id",
        "g.team_id",
        name,
        total("won"),
        total("won_value"),
        items("won_ids"),
        total("qwon"),
        total("qwon_value"),
        target("count"),
        target("value"),
        total("lost"),
        items("lost_ids"),
        items("lost_reasons"),
        total("postponed"),
        items("postponed_ids"),
        items("postponed_until"),
        total("progressed"),
        items("progressed_ids"),
        total("touches"),
        total("breached"),
        items("breach_ids"),
        total("missing"),
        items("missing_ids"),
    ]
    selected = ",\n        ".join(
        f"{expression} AS {column}"
        for expression, column in zip(expressions, LINE_COLUMNS, strict=True)
    )
    # A set's NULL key (leads with no rep, say) is no line of that scope.
    return f"""
    SELECT {selected}
    FROM g
    GROUP BY GROUPING SETS ((g.rep_id), (g.partner_id), (g.team_id), ())
    HAVING NOT ((GROUPING(g.rep_id) = 0 AND g.rep_id IS NULL)
        OR (GROUPING(g.partner_id) = 0 AND g.partner_id IS NULL)
        OR (GROUPING(g.team_id) = 0 AND g.team_id IS NULL))"""


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


def _per_lead(*, changed_only: bool, kept_only: bool = False, touched: bool = False) -> str:
    """The ``WITH`` of the per-lead pass ``f``: every lead of the week, or the changed ones.

    ``changed_only``: the leads changed since ``%(since)s`` (:func:`_changed_since`;
    ``touched`` adds the leads touched since), each with its row even when it is in no
    figure; ``kept_only`` then keeps only those the week's lines count (as the full pass).
    """
    open_stages = ", ".join(f"'{stage}'" for stage in REPORTED_STAGES)
    only = "AND {col} IN (SELECT id FROM changed)" if changed_only else ""
    changed = f"changed AS ({_changed_since(touched=touched)}), " if changed_only else ""
    counted = f"""(
            (l.closed_at >= %(qstart)s AND l.closed_at < %(end)s)
            OR l.stage IN ({open_stages})
            OR tc.lead_id IS NOT NULL OR up.lead_id IS NOT NULL
            OR {_in_week("l.breached_at")}
        )"""
    if not changed_only:
        where = counted
    elif kept_only:
        where = f"l.id IN (SELECT id FROM changed) AND {counted}"
    else:
        where = "l.id IN (SELECT id FROM changed)"
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
    per_lead = _per_lead(changed_only=False)
    if connection.vendor == "postgresql":
        return f"{per_lead}, {_parts()}\n    SELECT * FROM ({_grouping_sets()}) AS lines"
    lines = " UNION ALL ".join(
        _branch(scope, key)
        for scope, key in (
            ("tenant", None),
            ("team", "team_id"),
            ("rep", "rep_id"),
            ("partner", "partner_id"),
        )
    )
    return f"{per_lead}\n    SELECT * FROM ({lines}) AS lines"


def _changed_since(*, touched: bool = False) -> str:
    """The leads that may have moved in a figure since ``%(since)s`` (a snapshot's time).

    Every change of a lead's stage is a stage move (``tenancy_stagechange``), a change
    of owner by the router (routing, recall, reroute) is an ``Assignment`` record (the
    router writes one audit row a run, not one a lead), every other change of a lead
    (its owner by hand, a breach) is audited (``tenancy_auditevent``), and a late update
    is a new ``leads_weeklyupdate`` of the week: each read through an index on the time
    it was written, so the cost follows the changes, not the leads.
    """
    stages = ", ".join(f"'{stage}'" for stage in LeadStage)
    # A touch changes only a count (no lead list), so "changes since" leaves touches out;
    # the week's facts count them (``touched``), read through ``leads_touch_written_idx``.
    touches = (
        """
        UNION
        SELECT lead_id FROM leads_touch
        WHERE tenant_id = %(tenant)s AND created_at > %(since)s AND lead_id IS NOT NULL"""
        if touched
        else ""
    )
    # The stage in the IN list lets the (tenant, machine, to_stage, created_at) index
    # start at the snapshot's time for each stage instead of reading every move.
    return f"""
        SELECT CAST(object_id AS BIGINT) AS id FROM tenancy_auditevent
        WHERE tenant_id = %(tenant)s AND created_at > %(since)s AND object_type = 'leads.lead'
        UNION
        SELECT lead_id FROM leads_assignment
        WHERE tenant_id = %(tenant)s AND created_at > %(since)s
        UNION
        SELECT object_id FROM tenancy_stagechange
        WHERE tenant_id = %(tenant)s AND machine = '{LEAD_MACHINE}' AND to_stage IN ({stages})
            AND created_at > %(since)s
        UNION
        SELECT lead_id FROM leads_weeklyupdate
        WHERE tenant_id = %(tenant)s AND week = %(week)s AND created_at > %(since)s{touches}"""


def changed_leads_sql() -> str:
    """Each lead changed since a snapshot (``%(since)s``) with its owner and figures now.

    One row per lead in :data:`LEAD_COLUMNS` order (a changed lead in no figure
    any more still has its row, all zeros); parameters: ``Window.params`` and
    ``since``.
    """
    figures = ", ".join(f"f.{column}" for column in LEAD_COLUMNS)
    return f"{_per_lead(changed_only=True)}\n    SELECT {figures} FROM f"


# The week's facts (``reporting_weekfact``): the per-lead pass's columns, in this order.
FACT_COLUMNS = (
    "rep_id",
    "partner_id",
    "team_id",
    "value",
    "lost_reason",
    "postponed_until",
    "won",
    "qwon",
    "lost",
    "postponed",
    "progressed",
    "touches",
    "breached",
    "missing",
)


def fill_facts_sql() -> str:
    """Every lead's facts of a week (``Window.params``), in one ``INSERT … SELECT``."""
    columns = ", ".join(FACT_COLUMNS)
    selected = ", ".join(f"f.{column}" for column in FACT_COLUMNS)
    return f"""
    INSERT INTO reporting_weekfact (tenant_id, week, lead_id, {columns})
    {_per_lead(changed_only=False)}
    SELECT %(tenant)s, %(week)s, f.id, {selected} FROM f"""


def refresh_facts_sql() -> str:
    """A week's facts again for the leads changed or touched since ``%(since)s``, in one statement.

    Each changed lead the week's lines count gets its row (written or rewritten);
    a changed lead they no longer count loses it. PostgreSQL (``ON CONFLICT``).
    """
    columns = ", ".join(FACT_COLUMNS)
    selected = ", ".join(f"f.{column}" for column in FACT_COLUMNS)
    updated = ", ".join(f"{column} = EXCLUDED.{column}" for column in FACT_COLUMNS)
    return f"""
    {_per_lead(changed_only=True, kept_only=True, touched=True)}, gone AS (
        DELETE FROM reporting_weekfact w
        WHERE w.tenant_id = %(tenant)s AND w.week = %(week)s
            AND w.lead_id IN (SELECT id FROM changed) AND w.lead_id NOT IN (SELECT id FROM f)
    )
    INSERT INTO reporting_weekfact (tenant_id, week, lead_id, {columns})
    SELECT %(tenant)s, %(week)s, f.id, {selected} FROM f
    ON CONFLICT (tenant_id, week, lead_id) DO UPDATE SET {updated}"""


def figures_from_facts_sql() -> str:
    """The SELECT of every line of one week from its facts (PostgreSQL; as :func:`figures_sql`).

    The same two levels as the full pass (owner combinations, then ``GROUPING
    SETS``), over one narrow row per counted lead instead of the leads joined
    with the week's touches and updates.
    """
    columns = ", ".join(f"w.{column}" for column in FACT_COLUMNS)
    facts = f"""
    WITH f AS (
        SELECT w.lead_id AS id, {columns} FROM reporting_weekfact w
        WHERE w.tenant_id = %(tenant)s AND w.week = %(week)s
    )"""
    return f"{facts}, {_parts()}\n    SELECT * FROM ({_grouping_sets()}) AS lines"
