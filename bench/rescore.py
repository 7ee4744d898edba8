"""Benchmark: rescoring a whole tenant after a definition is activated vs a plain UPDATE.

    python bench/rescore.py [--rows 1000000] [--runs 4] [--explain]

Creates its own PostgreSQL database ``leadflow_bench`` (dropped first if it
exists, and dropped again at the end) as the owner role ``leadflow_owner``,
migrates it, and generates one tenant with ``--rows`` inquiries and about
three activities each (1–5, aged 0–200 days, stored in random order) with
set-based SQL. The inquiries start as a previous definition left them: scored,
mostly in nurture, some MQLs.

Two scenarios, timed in ``--runs`` pairs in ABBA order (``common.alternate``):

* floor — one plain ``UPDATE inquiries_inquiry SET score = fit_score + 1,
  scored_at = now() WHERE tenant_id = X``: every row rewritten once, nothing
  computed;
* rescoring — a new definition version (the articles' template, with the MQL
  threshold alternating between 60 and 50 so some inquiries change stage) is
  made active and ``start_rescore`` + ``run_rescore_job(batch_size=5000)`` run
  to the end, as the runtime role under row-level security.

Both run as ``leadflow_app`` inside the tenant's scope; the table is vacuumed
before each timed run. Prints seconds, rows/s and the median of the per-pair
ratios with their range (goal: within 2× of the floor), and appends the
figures with the date and the machine to ``docs/performance.md``. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from unittest.mock import patch

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

DB = "leadflow_bench"
HEADING = "## Rescoring after activating a definition"
INTRO = (
    "`python bench/rescore.py --rows N` (see `bench/README.md`): activating a new "
    "definition version rescores every inquiry of the tenant with the set-based job "
    "(`inquiries/services/rescoring.py`, batches of 5,000, one `UPDATE` each), "
    "compared with the floor — one plain `UPDATE` that rewrites the same rows and "
    "computes nothing — in the same run on the same machine. Goal: within 2× of the "
    "floor. Each run appends its figures here."
)
BATCH_SIZE = 5000


def _vacuum() -> None:
    from django.db import connections

    with connections["owner"].cursor() as cur:
        cur.execute("VACUUM ANALYZE inquiries_inquiry")


def _floor(tenant) -> float:
    """The plain UPDATE of every row, as the runtime role in the tenant's scope."""
    from django.db import connection, transaction

    from leadflow.tenancy.context import tenant_context

    started = time.perf_counter()
    with tenant_context(tenant), transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "UPDATE inquiries_inquiry SET score = fit_score + 1, scored_at = now() "
            "WHERE tenant_id = %s",
            [tenant.pk],
        )
    return time.perf_counter() - started


def _new_version(by, threshold: int):
    from inquiries.models import DefinitionStatus, LeadDefinition
    from inquiries.services import definitions

    draft = definitions.create_draft(values={"mql_threshold": threshold}, by=by)
    LeadDefinition.objects.filter(status=DefinitionStatus.ACTIVE).update(
        status=DefinitionStatus.RETIRED
    )
    LeadDefinition.objects.filter(pk=draft.pk).update(status=DefinitionStatus.ACTIVE)
    draft.refresh_from_db()
    return draft


def _rescoring(tenant, by, threshold: int, batch_size: int) -> tuple[float, int, dict[str, int]]:
    """Activate a new version and time start_rescore + run_rescore_job to the end."""
    from django.db import transaction
    from django.db.models import Count

    from inquiries import tasks
    from inquiries.models import Inquiry
    from inquiries.services.rescoring import run_rescore_job, start_rescore
    from leadflow.tenancy.context import tenant_context

    with tenant_context(tenant):
        definition = _new_version(by, threshold)
        before = dict(Inquiry.objects.values_list("stage").annotate(n=Count("id")))
        started = time.perf_counter()
        # The job runs right here, not on a worker: nothing is queued.
        with patch.object(tasks.run_rescore_job_task, "delay"), transaction.atomic():
            job = start_rescore(definition=definition, by=by)
        job = run_rescore_job(job=job, batch_size=batch_size)
        elapsed = time.perf_counter() - started
        after = dict(Inquiry.objects.values_list("stage").annotate(n=Count("id")))
    if job.status != "done" or job.done != job.total:
        raise SystemExit(f"the job did not finish: {job.status} {job.done}/{job.total}")
    moved = {stage: after.get(stage, 0) - before.get(stage, 0) for stage in after}
    return elapsed, job.done, moved


def _explain(tenant) -> None:
    """EXPLAIN ANALYZE of one batch's UPDATE (rolled back)."""
    from django.db import connection, transaction

    from inquiries.models import Inquiry
    from inquiries.selectors.scoring import active_definition, rules_of
    from inquiries.services.rescoring import compile_rescore_sql
    from leadflow.tenancy.context import tenant_context

    with tenant_context(tenant):
        definition = active_definition()
        ids = list(Inquiry.objects.order_by("pk").values_list("pk", flat=True)[:BATCH_SIZE])
        sql, params = compile_rescore_sql(
            rules=rules_of(definition),
            tenant_id=tenant.pk,
            definition_id=definition.pk,
            as_of=dt.datetime.now(dt.UTC),
            after=ids[0] - 1,
            up_to=ids[-1],
        )
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            print("\n".join(row[0] for row in cur.fetchall()))
            transaction.set_rollback(True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=4, help="pairs; even keeps ABBA balanced")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--explain", action="store_true", help="print one batch's plan")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    args = parser.parse_args()
    # The job is called directly; nothing may reach a broker.
    os.environ.pop("REDIS_URL", None)
    fresh_database(DB)
    try:
        migrate()
        started = time.perf_counter()
        tenant, by, activities = generate_tenant("bench", args.rows)
        print(
            f"generated {args.rows:,} inquiries and {activities:,} activities "
            f"in {time.perf_counter() - started:.1f} s"
        )

        def floor_step(run: int) -> float:
            _vacuum()
            return _floor(tenant)

        def job_step(run: int) -> float:
            _vacuum()
            elapsed, done, moved = _rescoring(
                tenant, by, threshold=60 if run % 2 else 50, batch_size=args.batch_size
            )
            print(f"run {run + 1}: rescoring {elapsed:.2f} s ({done:,} inquiries; moved {moved})")
            return elapsed

        timed = alternate({"floor": floor_step, "job": job_step}, args.runs)
        floors, jobs = timed["floor"], timed["job"]
        ratio = Ratio.of(jobs, floors)
        if args.explain:
            _explain(tenant)
        floor, job = statistics.median(floors), statistics.median(jobs)
        rows = args.rows
        lines = [
            f"rescoring {rows:,} inquiries ({activities:,} activities), {args.runs} pairs in "
            "ABBA order",
            f"  floor (plain UPDATE):   {floor:8.2f} s  {rows / floor:12,.0f} rows/s (median)",
            f"  rescoring job:          {job:8.2f} s  {rows / job:12,.0f} rows/s (median)",
            f"  job/floor, median of the per-pair ratios: {ratio} — goal ≤ 2×, "
            f"{goal(ratio, at_most=2)}",
        ]
        print("\n".join(lines))
        if not args.no_record:
            record(
                HEADING,
                INTRO,
                f"- {today()}, {machine()}: {rows:,} inquiries, "
                f"{activities:,} activities, {args.runs} pairs in ABBA order — floor "
                f"{floor:.2f} s ({rows / floor:,.0f} rows/s), rescoring job {job:.2f} s "
                f"({rows / job:,.0f} rows/s) (medians), **ratio {ratio}** "
                f"({goal(ratio, at_most=2)}) "
                f"(runs: floor {', '.join(f'{s:.2f}' for s in floors)} s; "
                f"job {', '.join(f'{s:.2f}' for s in jobs)} s).",
            )
    finally:
        drop_database(DB)


if __name__ == "__main__":
    main()
