"""Benchmark: the Monday digest job (every owner's missing and late leads, one email each
through the outbox) at 200,000 open leads of 2,000 owners.

    python bench/digests.py [--leads 200000] [--owners 2000] [--pairs 6] [--runs 5] [--no-record]
    python bench/digests.py --keep …; python bench/digests.py --reuse [--explain] [--profile] …

Creates its own PostgreSQL database ``leadflow_bench_digests`` (dropped first
if it exists, and again at the end) as ``leadflow_owner``, migrates it and
generates one tenant (Europe/Berlin) with ``--leads`` inquiries, each booked
as an open lead (90% accepted or SQL, 10% awaiting acceptance) of one of
``--owners`` reps, assigned 1–60 days ago (``bench/missing_updates.py``'s
data); about 40% of the accepted/SQL leads have this week's update, 60% last
week's and 70% each of the six weeks before, and each lead's ``reported_weeks``
from them as migration leads 0012 fills it (all in SQL, not timed). Timed as
the runtime role under row-level security, in ``--pairs`` rounds in ABBA order
(``common.alternate``), each side ``--runs`` times a round (the round's median
counts):

* the figure — the whole job, ``queue_missing_update_digests`` at Monday 07:01
  in a transaction rolled back afterwards: the tenant, every owner's counts
  (``counts_query``, one row an owner), the sent keys, and one
  ``INSERT … SELECT`` that lists each owner's first 25 leads with their
  buyers, renders one email an owner and writes them all to the outbox
  (``outbox.enqueue_select``; before 2026-12-08: one query of counts and
  listed leads, the emails rendered in Python, ``outbox.enqueue_many``);
* the baseline the issue names — the plain ``GROUP BY`` owner (the partner,
  else the rep) of the same counts: this week's missing and the leads with
  late weeks, over the same owing leads with the same rules
  (``digests.owing_leads``) and the query's settings — goal ≤ 3×;
* beside them, for the reading: the selection alone (``digest_rows``, no
  email) and the baseline used before (the owing leads counted a rep from an
  index, ``BASELINE_SQL``: not the digest's counts, and no partner's leads).

Prints the figures and appends them to ``docs/performance.md``. Not part of
``make test``. Generating the data takes minutes on a busy machine: ``--keep``
leaves the database in place and ``--reuse`` times it again without
generating (and keeps it; drop ``leadflow_bench_digests`` when done).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import datetime
from datetime import time as dtime

from common import (
    HOST,
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

DB = "leadflow_bench_digests"
HEADING = "## The Monday digest's selection"
INTRO = (
    "`python bench/digests.py` (see its docstring): a tenant with 200,000 open leads of 2,000 "
    "owners (~40% reported this week, 60% last week, 70% each week before). The whole Monday "
    "job (`leads.services.digests.queue_missing_update_digests`, rolled back: the one query "
    "of every owner's counts and first 25 leads with their buyers, one email rendered an "
    "owner, one outbox INSERT of them all) against the issue's baseline, the plain "
    "`GROUP BY` owner of the same counts (this week's missing and the leads with late weeks, "
    "same rules, same settings), as the runtime role under row-level security — goal ≤ 3×. "
    "Each run appends its figures here."
)

# The baseline used before 2026-12-07's last runs, still printed beside: the owing leads counted a
# rep (index only; neither the counts the digest reports nor a partner's leads).
BASELINE_SQL = (
    "SELECT rep_id, count(*) FROM leads_lead WHERE tenant_id = %s "
    "AND stage IN ('accepted', 'sql') AND assigned_at < %s GROUP BY rep_id"
)

# The baseline: the plain GROUP BY owner of the same counts (this week's missing and the
# leads with late weeks, a partner's or else the rep's), over the same owing leads with the
# same rules (``owing_leads``), sent with the same settings as the digest's query.
SAME_COUNTS_SQL = """
SELECT d.partner_id, d.owner_rep, count(*) FILTER (WHERE d.missing),
    count(*) FILTER (WHERE d.missed > 0)
FROM ({inner}) d GROUP BY d.partner_id, d.owner_rep
"""

PAST_UPDATES_SQL = """
INSERT INTO leads_weeklyupdate (
    tenant_id, lead_id, week, status, note, touch_id, user_id, partner_id, late, created_at)
SELECT l.tenant_id, l.id, w.week, 'progress', 'Called', NULL, l.rep_id, NULL, true, now()
FROM leads_lead l
CROSS JOIN (SELECT (%(week)s::date - 7 * n) AS week FROM generate_series(2, 8) n) w
WHERE l.tenant_id = %(tenant)s AND l.stage IN ('accepted', 'sql')
    AND abs(hashtext(l.id::text || w.week::text)) %% 100 < %(pct)s
"""


def _leads_sql(sql: str) -> str:
    """``missing_updates.LEADS_SQL`` with ``reported_weeks`` (a column without a database
    default, added after it was written) inserted as 0; filled from the updates below."""
    columns = "next_step_on, next_step)"
    last_value = "CASE WHEN a.id %% 3 = 0 THEN 'Call back' ELSE '' END\n"
    assert columns in sql and last_value in sql, "missing_updates.LEADS_SQL changed"
    return sql.replace(columns, "next_step_on, next_step, reported_weeks)").replace(
        last_value, last_value.rstrip("\n") + ", 0\n"
    )


def _generate(tenant, owners: int):
    from datetime import date

    from django.db import connections, transaction
    from missing_updates import APPOINTMENTS_SQL, LEADS_SQL, UPDATES_SQL, _owners

    from leadflow.lib import times
    from leadflow.tenancy.context import tenant_context
    from leads.selectors.weekly import current_week

    reps, _, _ = _owners(tenant, owners)
    this_week = current_week(times.zone(tenant.timezone))
    last_week = date.fromordinal(this_week.toordinal() - 7)
    owner = connections["owner"]
    first = reps[0].pk
    assert reps[-1].pk == first + owners - 1, "the reps' ids are not consecutive"
    with tenant_context(tenant), transaction.atomic(using="owner"), owner.cursor() as cur:
        cur.execute(APPOINTMENTS_SQL, {"tenant": tenant.pk, "first_rep": first, "owners": owners})
        cur.execute(
            _leads_sql(LEADS_SQL), {"tenant": tenant.pk, "first_rep": first, "owners": owners}
        )
        cur.execute(UPDATES_SQL, {"tenant": tenant.pk, "week": this_week, "pct": 40})
        cur.execute(UPDATES_SQL, {"tenant": tenant.pk, "week": last_week, "pct": 60})
        cur.execute(PAST_UPDATES_SQL, {"tenant": tenant.pk, "week": this_week, "pct": 70})
        cur.execute(
            "UPDATE leads_lead l SET last_update_week = u.week FROM (SELECT lead_id, "
            "max(week) AS week FROM leads_weeklyupdate WHERE tenant_id = %s GROUP BY lead_id) u "
            "WHERE l.tenant_id = %s AND l.id = u.lead_id",
            [tenant.pk, tenant.pk],
        )
        # Each lead's reported weeks from its updates, as migration leads 0012 fills them.
        cur.execute(
            "UPDATE leads_lead l SET reported_weeks = s.mask FROM (SELECT u.lead_id, "
            "bit_or(1::bigint << ((x.last_update_week - u.week) / 7)) AS mask "
            "FROM leads_weeklyupdate u JOIN leads_lead x ON x.id = u.lead_id "
            "WHERE u.tenant_id = %s AND (x.last_update_week - u.week) / 7 BETWEEN 0 AND 62 "
            "GROUP BY u.lead_id) s WHERE l.tenant_id = %s AND l.id = s.lead_id",
            [tenant.pk, tenant.pk],
        )
        cur.execute(
            "SELECT count(*) FILTER (WHERE stage IN ('accepted', 'sql')), count(*) "
            "FROM leads_lead WHERE tenant_id = %s",
            [tenant.pk],
        )
        open_leads, total = cur.fetchone()
        cur.execute("SELECT count(*) FROM leads_weeklyupdate WHERE tenant_id = %s", [tenant.pk])
        updates = cur.fetchone()[0]
    with owner.cursor() as cur:
        for table in ("inquiries_appointment", "leads_lead", "leads_weeklyupdate"):
            cur.execute(f"VACUUM ANALYZE {table}")
    return open_leads, total, updates


def _reuse_database(name: str, **environment: str) -> None:
    """``fresh_database`` for the database a ``--keep`` run left: the same settings, no drop."""
    os.environ["DATABASE_URL"] = f"postgres://leadflow_app@{HOST}/{name}"
    os.environ["DATABASE_OWNER_URL"] = f"postgres://leadflow_owner@{HOST}/{name}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "leadflow.settings"
    os.environ.update(environment)


def _kept():
    """The tenant a ``--keep`` run generated and its counts (as ``_generate`` returns them)."""
    from django.db import connections

    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.models import Tenant

    tenant = Tenant.objects.get(slug="bench")
    with tenant_context(tenant), connections["owner"].cursor() as cur:
        cur.execute(
            "SELECT count(*) FILTER (WHERE stage IN ('accepted', 'sql')), count(*) "
            "FROM leads_lead WHERE tenant_id = %s",
            [tenant.pk],
        )
        open_leads, total = cur.fetchone()
        cur.execute("SELECT count(*) FROM leads_weeklyupdate WHERE tenant_id = %s", [tenant.pk])
        updates = cur.fetchone()[0]
    return tenant, open_leads, total, updates


def _timed(call, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _selection_sql(week, tz) -> list[tuple[str, str, tuple]]:
    """The SQL of ``digest_rows``'s one query (``digest_query``), as it runs it: the settings
    sent before it in the same string, the query, its parameters."""
    from leads.services.digests import QUERY_SETTINGS, digest_query

    sql, params = digest_query(week, tz)
    return [(QUERY_SETTINGS, sql, params)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--owners", type=int, default=2_000)
    parser.add_argument("--pairs", type=int, default=6, help="figure/baseline pairs (ABBA)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each side per pair")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    parser.add_argument("--explain", action="store_true", help="print the plans")
    parser.add_argument("--profile", action="store_true", help="profile one selection (cProfile)")
    parser.add_argument("--note", default="", help="said beside the figures (e.g. busy machine)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the database at the end (for --reuse)"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the data a --keep run left (generating it takes minutes); keeps it too",
    )
    args = parser.parse_args()
    os.environ.pop("REDIS_URL", None)
    if args.reuse:
        _reuse_database(DB, ALLOWED_HOSTS="testserver")
    else:
        fresh_database(DB, ALLOWED_HOSTS="testserver")
    try:
        migrate()
        from django.db import connection, transaction

        from leadflow.lib import times
        from leadflow.tenancy.context import tenant_context
        from leads.selectors.weekly import current_week, owed_cutoff
        from leads.services.digests import (
            DIGEST_HOUR,
            QUERY_SETTINGS,
            digest_rows,
            owing_leads,
            queue_missing_update_digests,
        )

        started = time.perf_counter()
        if args.reuse:
            tenant, open_leads, total, updates = _kept()
        else:
            tenant, _, _ = generate_tenant("bench", args.leads, activities=False)
            tenant.timezone = "Europe/Berlin"
            tenant.save()
            open_leads, total, updates = _generate(tenant, args.owners)
        print(
            f"generated {total:,} leads ({open_leads:,} accepted/SQL, {updates:,} updates) of "
            f"{args.owners:,} owners in {time.perf_counter() - started:.1f} s"
        )
        tz = times.zone(tenant.timezone)
        week = current_week(tz)
        cutoff = owed_cutoff(week, tz)

        digest_at = datetime.combine(week, dtime(DIGEST_HOUR, 1), tzinfo=tz)

        def job() -> int:
            """The whole Monday job, rolled back: selection, emails, the outbox's INSERT."""
            with tenant_context(tenant), transaction.atomic():
                queued = queue_missing_update_digests(now=digest_at)
                transaction.set_rollback(True)
            return queued

        def figure() -> list:
            with tenant_context(tenant):
                return digest_rows(week, tz)

        def counts_sql() -> tuple[str, tuple]:
            with tenant_context(tenant):
                inner, params = owing_leads(week, tz).query.sql_with_params()
            return SAME_COUNTS_SQL.format(inner=inner), params

        def baseline() -> dict:
            sql, params = counts_sql()
            with tenant_context(tenant), transaction.atomic(), connection.cursor() as cur:
                cur.execute(QUERY_SETTINGS + sql, params)
                return {(partner, rep): (m, late) for partner, rep, m, late in cur.fetchall()}

        def old_baseline() -> dict:
            with tenant_context(tenant), connection.cursor() as cur:
                cur.execute(BASELINE_SQL, [tenant.pk, cutoff])
                return dict(cur.fetchall())

        def sql_only() -> int:
            fetched = 0
            with tenant_context(tenant):
                for settings, sql, params in _selection_sql(week, tz):
                    with transaction.atomic(), connection.cursor() as cur:
                        cur.execute(settings + sql, params)
                        fetched += len(cur.fetchall())
            return fetched

        if args.explain:
            with tenant_context(tenant), connection.cursor() as cur:
                for settings, sql, params in _selection_sql(week, tz):
                    cur.execute(settings + "EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                    print("\n".join(row[0] for row in cur.fetchall()), "\n")
                sql, params = counts_sql()
                cur.execute(QUERY_SETTINGS + "EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                print("\n".join(row[0] for row in cur.fetchall()))
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(job)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        rows, owing = figure(), baseline()
        missing = sum(row.missing_count for row in rows)
        late_leads = sum(row.late_count for row in rows)
        listed = sum(row.leads_count - row.unlisted for row in rows)
        assert missing == sum(m for m, _ in owing.values()), "the baseline counts other leads"
        assert late_leads == sum(late for _, late in owing.values()), "other late leads"
        queued = job()
        print(
            f"{len(rows):,} owners to write to ({queued:,} emails); {missing:,} missing this "
            f"week, {late_leads:,} leads with late weeks; {listed:,} leads listed"
        )
        counted = alternate(
            {
                "figure": lambda run: _timed(job, args.runs),
                "baseline": lambda run: _timed(baseline, args.runs),
                "selection": lambda run: _timed(figure, args.runs),
                "old": lambda run: _timed(old_baseline, args.runs),
            },
            args.pairs,
        )
        ratio = Ratio.of(counted["figure"], counted["baseline"])
        selection_ratio = Ratio.of(counted["selection"], counted["baseline"])
        old_ratio = Ratio.of(counted["figure"], counted["old"])
        figure_ms = statistics.median(counted["figure"])
        baseline_ms = statistics.median(counted["baseline"])
        selection_ms = statistics.median(counted["selection"])
        old_ms = statistics.median(counted["old"])
        lines = [
            f"{total:,} leads ({open_leads:,} accepted/SQL, {updates:,} updates), "
            f"{args.owners:,} owners: {missing:,} missing this week, {late_leads:,} leads late",
            f"  digest job: {figure_ms:.1f} ms, GROUP BY owner of the same counts: "
            f"{baseline_ms:.1f} ms, the selection alone: {selection_ms:.1f} ms, the earlier "
            f"baseline (owing leads a rep, index only): {old_ms:.1f} ms (medians)",
            f"  ratio {ratio} — goal ≤ 3×, {goal(ratio, at_most=3)}; selection alone "
            f"{selection_ratio}; job against the earlier baseline {old_ratio}",
        ]
        print("\n".join(lines))
        if not args.no_record:
            note = f" ({args.note})" if args.note else ""
            record(
                HEADING,
                INTRO,
                f"- {today()}{note}, {machine()}: {total:,} leads ({open_leads:,} accepted/SQL, "
                f"{updates:,} weekly updates) of {args.owners:,} owners; {len(rows):,} owners to "
                f"write to ({queued:,} emails), {missing:,} leads missing this week, "
                f"{late_leads:,} with late weeks, {listed:,} listed (at most 25 an owner); "
                f"{args.pairs} pairs in ABBA order, {args.runs} runs a side a pair — the digest "
                f"job (selection, {queued:,} emails rendered, one outbox INSERT; rolled back) "
                f"{figure_ms:.1f} ms vs the GROUP BY owner of the same counts {baseline_ms:.1f} "
                f"ms: **{ratio}** ({goal(ratio, at_most=3)}); the selection alone "
                f"{selection_ms:.1f} ms: {selection_ratio}; the job against the earlier "
                f"baseline (owing leads counted a rep from an index, {old_ms:.1f} ms): "
                f"{old_ratio}.",
            )
    finally:
        if not (args.keep or args.reuse):
            drop_database(DB)


if __name__ == "__main__":
    main()
