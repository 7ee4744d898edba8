"""Benchmark: a partner's bulk sync of 1,000 weekly updates, against a plain INSERT … SELECT.

    python bench/partner_sync.py [--leads 20000] [--items 1000] [--pairs 6] [--no-record]
    python bench/partner_sync.py --profile [--explain]   # one sync: its statements, cProfile

Creates its own PostgreSQL database ``leadflow_bench_partner_sync`` (dropped
first if it exists, and again at the end) as ``leadflow_owner``, migrates it
and generates one tenant (Europe/Berlin) with ``--leads`` accepted leads, the
first ``--items`` of them owned by one partner (all in SQL, not timed). Timed
as the runtime role under row-level security, figure and baseline in
``--pairs`` pairs in ABBA order (``common.alternate``), each in a transaction
rolled back afterwards so every run starts from the same rows:

* figure — ``leads.services.sync.sync_updates`` as the partner's API key, one
  progress update with a note for each of its ``--items`` leads: the leads
  read and locked in one query, each item checked in memory with the single
  endpoint's checks, then one statement (data-modifying CTEs) for the
  ``INSERT`` of the updates, the ``UPDATE`` of the leads' reported weeks and
  the sync's one ``leads.sync`` audit row (before the set-based path, each item
  went through ``record_weekly_update`` in its savepoint, six statements an
  item);
* baseline — one plain ``INSERT INTO leads_weeklyupdate … SELECT`` of the same
  ``--items`` rows from the partner's leads.

Goal: ≤ 3× (issue 17). Prints the figures and appends them to
``docs/performance.md``. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from common import (
    Ratio,
    alternate,
    drop_database,
    fresh_database,
    generate_tenant,
    goal,
    machine,
    migrate,
    record,
    today,
)

DB = "leadflow_bench_partner_sync"
HEADING = "## Partners' bulk sync"
INTRO = (
    "`python bench/partner_sync.py` (see `bench/README.md`): a partner's "
    "`POST /api/v1/leads/sync/` of 1,000 progress updates, timed through the service it "
    "calls (`leads.services.sync.sync_updates`: progress items checked in memory, then "
    "written with one statement) against one plain `INSERT … SELECT` of the same "
    "1,000 update "
    "rows, as the runtime role under row-level security, each run rolled back — goal ≤ 3×. "
    "Each run appends its figures here."
)

APPOINTMENTS_SQL = """
INSERT INTO inquiries_appointment (
    tenant_id, inquiry_id, starts_at, duration_minutes, location, notes,
    message_to_buyer, uid, sequence, booked_by_id, created_at, confirmation_sent_at,
    closed_at, held_at, no_show_at, cancelled_at, cancel_reason)
SELECT i.tenant_id, i.id, now() - interval '40 days', 30, '', '', '',
    'bench-' || i.id || '@leadflow.bench', 0, NULL, now(), NULL, NULL, NULL, NULL, NULL, ''
FROM inquiries_inquiry i WHERE i.tenant_id = %(tenant)s
"""

LEADS_SQL = """
INSERT INTO leads_lead (
    tenant_id, inquiry_id, appointment_id, stage, rep_id, partner_id, team_id, profile, score,
    score_breakdown, definition_version, created_at, closed_at, assigned_at,
    acceptance_due_at, accepted_at, breached_at, reject_kind, reject_reason, qualified_at,
    budget, authority, need, timeline, value, closed_on, lost_reason, postponed_until,
    last_update_week, reported_weeks, protected_until, next_step_on, next_step)
SELECT a.tenant_id, a.inquiry_id, a.id, 'accepted', NULL,
    CASE WHEN row_number() OVER (ORDER BY a.id) <= %(items)s THEN %(partner)s END, NULL,
    '{}'::jsonb, 50, '[]'::jsonb, 1, now() - interval '40 days', NULL, now() - interval '30 days',
    NULL, now() - interval '29 days', NULL, '', '', NULL, '', '', '', '', NULL, NULL, '', NULL,
    NULL, 0, NULL, NULL, ''
FROM inquiries_appointment a WHERE a.tenant_id = %(tenant)s
"""

BASELINE_SQL = """
INSERT INTO leads_weeklyupdate (
    tenant_id, lead_id, week, status, note, touch_id, user_id, partner_id, late, created_at)
SELECT l.tenant_id, l.id, %(week)s, 'progress', 'Called the buyer.', NULL, NULL, l.partner_id,
    false, now()
FROM leads_lead l WHERE l.tenant_id = %(tenant)s AND l.partner_id = %(partner)s
"""


class Rollback(Exception):
    """Raised to undo a timed run: every run starts from the same rows."""


def _generate(tenant, items: int):
    from django.db import connections, transaction

    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.models import Partner

    with tenant_context(tenant):
        partner = Partner.objects.create(tenant=tenant, name="Northwind Bench")
    owner = connections["owner"]
    with tenant_context(tenant), transaction.atomic(using="owner"), owner.cursor() as cur:
        cur.execute(APPOINTMENTS_SQL, {"tenant": tenant.pk})
        cur.execute(LEADS_SQL, {"tenant": tenant.pk, "partner": partner.pk, "items": items})
        cur.execute(
            "SELECT count(*) FILTER (WHERE partner_id = %s), count(*) FROM leads_lead "
            "WHERE tenant_id = %s",
            [partner.pk, tenant.pk],
        )
        own, total = cur.fetchone()
    with owner.cursor() as cur:
        for table in ("inquiries_appointment", "leads_lead", "leads_weeklyupdate"):
            cur.execute(f"VACUUM ANALYZE {table}")
    return partner, own, total


def _rolled_back(call) -> float:
    """Milliseconds ``call`` takes inside a transaction that is then undone."""
    from django.db import transaction

    started = time.perf_counter()
    try:
        with transaction.atomic():
            call()
            elapsed = (time.perf_counter() - started) * 1000
            raise Rollback
    except Rollback:
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=1_000)
    parser.add_argument("--pairs", type=int, default=6, help="figure/baseline pairs (ABBA)")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    parser.add_argument("--note", default="", help="said beside the figures (e.g. busy machine)")
    parser.add_argument("--profile", action="store_true", help="cProfile one sync, no pairs")
    parser.add_argument(
        "--explain", action="store_true", help="with --profile: EXPLAIN ANALYZE each statement"
    )
    args = parser.parse_args()
    os.environ.pop("REDIS_URL", None)
    fresh_database(DB)
    try:
        migrate()
        from django.db import connection

        from leadflow.lib import times
        from leadflow.tenancy.context import tenant_context
        from leadflow.tenancy.principal import Principal
        from leads.models import Lead
        from leads.selectors.weekly import current_week
        from leads.services.sync import SyncItem, sync_updates

        started = time.perf_counter()
        tenant, _, _ = generate_tenant("bench", args.leads, activities=False)
        tenant.timezone = "Europe/Berlin"
        tenant.save()
        partner, own, total = _generate(tenant, args.items)
        print(
            f"generated {total:,} accepted leads, {own:,} of them the partner's, "
            f"in {time.perf_counter() - started:.1f} s"
        )
        week = current_week(times.zone(tenant.timezone))
        by = Principal(tenant=tenant, role=None, via="api_key", partner=partner)
        with tenant_context(tenant):
            ids = list(
                Lead.objects.filter(partner_id=partner.pk)
                .order_by("id")
                .values_list("id", flat=True)
            )
        items = [
            SyncItem(index=n, lead=pk, update={"status": "progress", "note": "Called the buyer."})
            for n, pk in enumerate(ids)
        ]

        def figure() -> None:
            with tenant_context(tenant):
                outcomes = sync_updates(items=items, by=by)
            refused = [o.errors for o in outcomes if not o.ok]
            if refused:
                raise SystemExit(f"{len(refused)} items refused, e.g. {refused[0]}")

        def baseline() -> None:
            with tenant_context(tenant), connection.cursor() as cur:
                cur.execute(
                    BASELINE_SQL, {"tenant": tenant.pk, "partner": partner.pk, "week": week}
                )
                if cur.rowcount != len(items):
                    raise SystemExit(f"the baseline inserted {cur.rowcount} rows")

        if args.profile:
            import cProfile
            import pstats

            _rolled_back(figure)  # warm: the first run pays the imports and the plan cache
            statements: list[tuple[float, str]] = []

            def timer(execute, sql, params, many, context):
                if args.explain and sql.lstrip().startswith(("INSERT", "UPDATE", "SELECT", "WITH")):
                    with connection.cursor() as cur:  # runs the statement too: extra rows
                        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                        print("\n".join(row[0] for row in cur.fetchall()))
                began = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    elapsed = (time.perf_counter() - began) * 1000
                    statements.append((elapsed, " ".join(sql.split())[:90]))

            for _ in range(3):  # three rounds: one alone says little on a shared machine
                statements.clear()
                with connection.execute_wrapper(timer):
                    whole = _rolled_back(figure)
                in_sql = sum(elapsed for elapsed, _ in statements)
                with connection.execute_wrapper(timer):
                    _rolled_back(baseline)
                for elapsed, sql in statements:
                    print(f"{elapsed:8.2f} ms  {sql}")
                print(f"{whole:8.2f} ms  the sync, {whole - in_sql:.2f} ms of it outside SQL\n")
            profiler = cProfile.Profile()
            profiler.runcall(_rolled_back, figure)
            pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(40)
            return
        timed = alternate(
            {
                "figure": lambda run: _rolled_back(figure),
                "baseline": lambda run: _rolled_back(baseline),
            },
            args.pairs,
        )
        ratio = Ratio.of(timed["figure"], timed["baseline"])
        sync_ms, insert_ms = (
            statistics.median(timed["figure"]),
            statistics.median(timed["baseline"]),
        )
        lines = [
            f"{total:,} leads, the partner's {own:,}; {len(items):,} items",
            f"  bulk sync (service): {sync_ms:.1f} ms ({sync_ms / len(items):.2f} ms an item), "
            f"plain INSERT … SELECT: {insert_ms:.1f} ms (medians)",
            f"  ratio {ratio} — goal ≤ 3×, {goal(ratio, at_most=3)}",
        ]
        print("\n".join(lines))
        if not args.no_record:
            note = f" ({args.note})" if args.note else ""
            record(
                HEADING,
                INTRO,
                f"- {today()}{note}, {machine()}: {total:,} leads, {len(items):,} items of one "
                f"partner; {args.pairs} pairs in ABBA order, each run rolled back — bulk sync "
                f"{sync_ms:.1f} ms ({sync_ms / len(items):.2f} ms an item) vs plain "
                f"`INSERT … SELECT` {insert_ms:.1f} ms: **{ratio}** ({goal(ratio, at_most=3)}).",
            )
    finally:
        drop_database(DB)


if __name__ == "__main__":
    main()
