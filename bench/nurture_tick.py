"""Benchmark: one scheduler tick over 1,000,000 enrollments, 10,000 due, vs a plain INSERT … SELECT.

    python bench/nurture_tick.py [--enrollments 1000000] [--due 10000] [--runs 4] [--no-record]

Creates its own PostgreSQL database ``leadflow_bench_nurture_tick`` (dropped
first if it exists, and again at the end) and one tenant with
``--enrollments`` inquiries (as ``common.generate_tenant`` makes them; the scheduler does not read
the stage), each actively enrolled in a program of an
email and a 30-day wait; ``--due`` of them (chosen at random) are due now, the
rest over the next month. Sending never holds an email back (opt-out mode, an
always-open window, the highest throttle). Both sides run as the runtime role
(row-level security on), in the tenant's scope, in pairs in ABBA order:

* tick — what the beat's scheduler run does until nothing is due:
  ``run_due_steps()`` until a run's claims are not full — its one statement
  claims up to 10,000 due emails (``SKIP LOCKED``) and writes their send log
  rows, outbox messages and the enrollments' next position and due time, then
  the step walk claims what else is due (nothing, here);
* baseline — one plain ``INSERT INTO outbox_outboxmessage … SELECT`` of the
  same due enrollments (joined to their inquiries for the address), in one
  transaction: the least any scheduler must write.

Between runs (not timed) the due enrollments are put back and what a run
wrote is deleted. Prints the median of the per-pair ratios tick / baseline with
their range (goal ≤ 2×) and appends it to ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import (
    Ratio,
    alternate,
    drop_database,
    fresh_database,
    goal,
    machine,
    migrate,
    record,
    today,
)
from nurture_chaos import setup_nurture

DB = "leadflow_bench_nurture_tick"
HEADING = "## Nurture scheduler tick"
INTRO = (
    "`python bench/nurture_tick.py` (see `bench/README.md`): one scheduler tick — "
    "`run_due_steps()` until nothing is due — over 1,000,000 active "
    "enrollments of which 10,000 are due, compared with one plain `INSERT … SELECT` "
    "of those 10,000 rows into the outbox in the same run. Goal: at most 2×."
)
GOAL = 2.0
REDIS = "redis://127.0.0.1:6379/14"

BASELINE_SQL = """
INSERT INTO outbox_outboxmessage (tenant_id, kind, key, recipient, payload, due_at, state,
    attempts, last_error, cause_type, cause_id, created_at)
SELECT e.tenant_id, 'nurture_email', 'base:' || e.id || ':' || %(step)s, i.email,
    jsonb_build_object('enrollment', e.id, 'step', %(step)s), now(), 'pending', 0, '',
    'nurture_enrollment', e.id::text, now()
FROM nurture_enrollment e
JOIN inquiries_inquiry i ON i.tenant_id = e.tenant_id AND i.id = e.inquiry_id
WHERE e.tenant_id = %(tenant)s AND e.state = 'active' AND e.due_at <= now()
"""


def _reset(tenant, due_ids: list[int]) -> None:
    """Put the due enrollments back as they were and delete what a run wrote (not timed)."""
    from django.db import connections, transaction

    from leadflow.tenancy.context import tenant_context

    owner = connections["owner"]
    with tenant_context(tenant), transaction.atomic(using="owner"), owner.cursor() as cur:
        cur.execute("DELETE FROM outbox_outboxmessage WHERE tenant_id = %s", [tenant.pk])
        cur.execute("DELETE FROM nurture_nurturesend WHERE tenant_id = %s", [tenant.pk])
        cur.execute(
            "UPDATE nurture_enrollment SET position = 0, due_at = now() - interval '1 minute', "
            "step_started_at = now() - interval '1 minute' WHERE tenant_id = %s AND id = ANY(%s)",
            [tenant.pk, due_ids],
        )
    with owner.cursor() as cur:
        cur.execute("VACUUM ANALYZE nurture_enrollment")
        cur.execute("VACUUM ANALYZE outbox_outboxmessage")
        cur.execute("VACUUM ANALYZE nurture_nurturesend")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enrollments", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=4, help="pairs; even keeps ABBA balanced")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    parser.add_argument("--database", default=DB, help="to run two at once")
    args = parser.parse_args()
    # A broker of its own (Redis database 14, flushed at the end): the tick's one
    # after-commit kick of the outbox is a real publish, as in production.
    fresh_database(
        args.database, LOG_LEVEL="WARNING", SITE_URL="https://leadflow.example", REDIS_URL=REDIS
    )
    try:
        migrate()
        started = time.perf_counter()
        tenant, program = setup_nurture("bench-tick", args.enrollments, args.due)
        print(f"set up {args.enrollments:,} enrollments in {time.perf_counter() - started:.0f} s")
        from django.db import connection, transaction
        from django.utils import timezone

        from leadflow.tenancy.context import tenant_context
        from nurture.models import Enrollment, NurtureStep
        from nurture.services import scheduler

        with tenant_context(tenant):
            due_ids = list(
                Enrollment.objects.filter(due_at__lte=timezone.now()).values_list("pk", flat=True)
            )
            step = NurtureStep.objects.get(program=program, position=0)
        assert len(due_ids) == args.due, len(due_ids)

        def tick(run: int) -> float:
            _reset(tenant, due_ids)
            emails = 0
            started = time.perf_counter()
            with tenant_context(tenant):
                while True:
                    result = scheduler.run_due_steps()
                    emails += result.emails
                    if not result.full:
                        break
            seconds = time.perf_counter() - started
            assert emails == args.due, emails
            print(f"run {run + 1}: tick      {seconds:7.3f} s ({emails:,} emails queued)")
            return seconds

        def baseline(run: int) -> float:
            _reset(tenant, due_ids)
            started = time.perf_counter()
            with tenant_context(tenant), transaction.atomic(), connection.cursor() as cur:
                cur.execute(BASELINE_SQL, {"tenant": tenant.pk, "step": step.pk})
                rows = cur.rowcount
            seconds = time.perf_counter() - started
            assert rows == args.due, rows
            print(f"run {run + 1}: baseline  {seconds:7.3f} s ({rows:,} rows)")
            return seconds

        timed = alternate({"tick": tick, "baseline": baseline}, args.runs)
        ticks, baselines = timed["tick"], timed["baseline"]
        ratio = Ratio.of(ticks, baselines)
        lines = [
            f"{args.enrollments:,} active enrollments, {args.due:,} due, {args.runs} pairs (ABBA)",
            f"  scheduler tick:        {statistics.median(ticks):7.3f} s (median)",
            f"  INSERT … SELECT:       {statistics.median(baselines):7.3f} s (median)",
            f"  tick / INSERT … SELECT, median of the per-pair ratios: {ratio} — goal ≤ {GOAL}×, "
            f"{goal(ratio, at_most=GOAL)}",
        ]
        print("\n".join(lines))
        if not args.no_record:
            record(
                HEADING,
                INTRO,
                f"- {today()}, {machine()}: {args.enrollments:,} enrollments, {args.due:,} due, "
                f"{args.runs} pairs in ABBA order — tick {statistics.median(ticks):.3f} s, "
                f"INSERT … SELECT {statistics.median(baselines):.3f} s (medians), "
                f"**ratio {ratio}** ({goal(ratio, at_most=GOAL)}) "
                f"(runs: tick {', '.join(f'{s:.3f}' for s in ticks)} s; "
                f"baseline {', '.join(f'{s:.3f}' for s in baselines)} s).",
            )
    finally:
        drop_database(args.database)
        import redis

        redis.Redis.from_url(REDIS).flushdb()


if __name__ == "__main__":
    main()
