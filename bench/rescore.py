"""Benchmark: rescoring a whole tenant after a definition is activated vs a plain UPDATE.

    python bench/rescore.py [--rows 1000000] [--runs 3] [--explain]

Creates its own PostgreSQL database ``leadflow_bench`` (dropped first if it
exists, and dropped again at the end) as the owner role ``leadflow_owner``,
migrates it, and generates one tenant with ``--rows`` inquiries and about
three activities each (1–5, aged 0–200 days, stored in random order) with
set-based SQL. The inquiries start as a previous definition left them: scored,
mostly in nurture, some MQLs.

Two scenarios, each timed ``--runs`` times (median reported), alternately:

* floor — one plain ``UPDATE inquiries_inquiry SET score = fit_score + 1,
  scored_at = now() WHERE tenant_id = X``: every row rewritten once, nothing
  computed;
* rescoring — a new definition version (the articles' template, with the MQL
  threshold alternating between 60 and 50 so some inquiries change stage) is
  made active and ``start_rescore`` + ``run_rescore_job(batch_size=5000)`` run
  to the end, as the runtime role under row-level security.

Both run as ``leadflow_app`` inside the tenant's scope; the table is vacuumed
before each timed run. Prints seconds, rows/s and the ratio of the medians
(goal: within 2× of the floor), and appends the figures with the date and the
machine to ``docs/performance.md``. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from unittest.mock import patch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "leadflow_bench"
HOST = os.environ.get("BENCH_PGHOST", "127.0.0.1:5432")
PERFORMANCE_DOC = ROOT / "docs" / "performance.md"
HEADING = "## Rescoring after activating a definition"
BATCH_SIZE = 5000


def _admin(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"postgresql://leadflow_owner@{HOST}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def _prepare_environment() -> None:
    _admin(f"DROP DATABASE IF EXISTS {DB}")
    _admin(f"CREATE DATABASE {DB}")
    os.environ["DATABASE_URL"] = f"postgres://leadflow_app@{HOST}/{DB}"
    os.environ["DATABASE_OWNER_URL"] = f"postgres://leadflow_owner@{HOST}/{DB}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "leadflow.settings"
    # The job is called directly; nothing may reach a broker.
    os.environ.pop("REDIS_URL", None)


def _drop_database() -> None:
    from django.db import connections

    connections.close_all()
    _admin(f"DROP DATABASE IF EXISTS {DB}")


def _generate(rows: int):
    """One tenant, a previous (retired) definition, ``rows`` inquiries and ~3 activities each."""
    from django.db import connections, transaction

    from inquiries.models import DefinitionStatus, LeadDefinition
    from inquiries.services import definitions
    from leadflow.tenancy import services
    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.principal import Principal

    tenant = services.create_tenant(slug="bench", name="Bench")
    by = Principal.system(tenant, "bench")
    with tenant_context(tenant):
        previous = definitions.create_draft(by=by)
        LeadDefinition.objects.filter(pk=previous.pk).update(status=DefinitionStatus.RETIRED)
    started = time.perf_counter()
    owner = connections["owner"]
    # The owner is subject to FORCE ROW LEVEL SECURITY too: the tenant scope
    # sets app.tenant_id for this transaction.
    with tenant_context(tenant), transaction.atomic(using="owner"), owner.cursor() as cur:
        cur.execute(_INQUIRIES_SQL, {"tenant": tenant.pk, "rows": rows, "definition": previous.pk})
        cur.execute(_ACTIVITIES_SQL, {"tenant": tenant.pk})
        cur.execute("SELECT count(*) FROM inquiries_activity")
        activities = cur.fetchone()[0]
    with owner.cursor() as cur:
        cur.execute("VACUUM ANALYZE inquiries_inquiry")
        cur.execute("VACUUM ANALYZE inquiries_activity")
    print(
        f"generated {rows:,} inquiries and {activities:,} activities "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return tenant, by, activities


_INQUIRIES_SQL = """
INSERT INTO inquiries_inquiry (
    tenant_id, first_name, last_name, email, phone, phone_normalized, title, company,
    company_domain, company_size, industry, country, region, interest, timeline, source,
    consent, external_source, external_id, custom, outcome, stage, disqualified_reason,
    fit_score, engagement_score, score, score_breakdown, behaviour_level, definition_id,
    scored_at, created_at, updated_at)
SELECT %(tenant)s, 'Pat', 'Buyer' || g, 'buyer' || g || '@company' || (g %% 50000) || '.example',
    '', '',
    (ARRAY['VP Operations', 'Director of IT', 'Chief Executive Officer', 'Office manager',
           'Engineer', 'Student', 'Head of Procurement', ''])[1 + g %% 8],
    'Company ' || (g %% 50000), 'company' || (g %% 50000) || '.example',
    CASE WHEN g %% 11 = 0 THEN NULL ELSE (g::bigint * 7919) %% 20000 END,
    (ARRAY['manufacturing', 'logistics', 'healthcare', 'retail', 'software', ''])[1 + g %% 6],
    (ARRAY['US', 'CA', 'GB', 'DE', 'FR', 'NL', 'IN', ''])[1 + (g / 3) %% 8],
    '',
    (ARRAY['asked for a demo', 'pricing', '', 'whitepaper'])[1 + (g / 5) %% 4],
    (ARRAY['now', '0-3m', '3-6m', '6-12m', '12m+', 'unknown'])[1 + (g / 7) %% 6],
    'web_form', 'unknown', '', '', '{}'::jsonb, '',
    CASE WHEN g %% 10 = 0 THEN 'mql' ELSE 'nurture' END, '',
    g %% 60, g %% 20, g %% 60 + g %% 20, '[]'::jsonb, 'prospect', %(definition)s,
    now() - interval '1 day', now() - interval '30 days', now() - interval '1 day'
FROM generate_series(1, %(rows)s) AS g
"""

# 1–5 activities per inquiry (3 on average), interleaved in time as real ones are.
_ACTIVITIES_SQL = """
INSERT INTO inquiries_activity (tenant_id, inquiry_id, kind, occurred_at, details, created_at)
SELECT %(tenant)s, i.id,
    (ARRAY['form_fill', 'download', 'webinar', 'event_card', 'email_click', 'page_visit',
           'page_visit', 'email_reply', 'chat'])[1 + floor(random() * 9)::int],
    now() - random() * interval '200 days', '{}'::jsonb, now()
FROM inquiries_inquiry i CROSS JOIN LATERAL generate_series(1, 1 + (i.id %% 5)::int) AS n
ORDER BY random()
"""


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
    from inquiries.services.rescoring import compile_rescore_sql
    from inquiries.services.scoring import active_definition, rules_of
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


def _machine() -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        version = cur.fetchone()[0]
    memory_kb = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return (
        f"{os.cpu_count()} CPUs (nproc), {memory_kb / 1024 / 1024:.0f} GiB memory, "
        f"PostgreSQL {version.split()[0]}, Python {platform.python_version()}"
    )


def _record(text: str) -> None:
    """Append the figures under the rescoring heading of docs/performance.md, keeping the rest."""
    doc = PERFORMANCE_DOC.read_text() if PERFORMANCE_DOC.exists() else "# Performance\n"
    if HEADING not in doc:
        doc = doc.rstrip("\n") + (
            f"\n\n{HEADING}\n\n"
            "`python bench/rescore.py --rows N` (see `bench/README.md`): activating a new "
            "definition version rescores every inquiry of the tenant with the set-based job "
            "(`inquiries/services/rescoring.py`, batches of 5,000, one `UPDATE` each), "
            "compared with the floor — one plain `UPDATE` that rewrites the same rows and "
            "computes nothing — in the same run on the same machine. Goal: within 2× of the "
            "floor. Each run appends its figures here.\n"
        )
    start = doc.index(HEADING) + len(HEADING)
    following = doc.find("\n## ", start)
    end = len(doc) if following == -1 else following
    section = doc[:end].rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    rest = doc[end:]
    PERFORMANCE_DOC.write_text(section + ("\n" + rest.lstrip("\n") if rest else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--explain", action="store_true", help="print one batch's plan")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    args = parser.parse_args()
    _prepare_environment()
    import django

    django.setup()
    from django.core.management import call_command

    try:
        call_command("migrate", database="owner", verbosity=0)
        tenant, by, activities = _generate(args.rows)
        floors, jobs = [], []
        for run in range(args.runs):
            _vacuum()
            floors.append(_floor(tenant))
            _vacuum()
            elapsed, done, moved = _rescoring(
                tenant, by, threshold=60 if run % 2 else 50, batch_size=args.batch_size
            )
            jobs.append(elapsed)
            print(
                f"run {run + 1}: floor {floors[-1]:.2f} s, rescoring {elapsed:.2f} s "
                f"({done:,} inquiries; stage changes {moved})"
            )
        if args.explain:
            _explain(tenant)
        floor, job = statistics.median(floors), statistics.median(jobs)
        rows = args.rows
        lines = [
            f"rescoring {rows:,} inquiries ({activities:,} activities), median of {args.runs}",
            f"  floor (plain UPDATE):   {floor:8.2f} s  {rows / floor:12,.0f} rows/s",
            f"  rescoring job:          {job:8.2f} s  {rows / job:12,.0f} rows/s",
            f"  ratio job/floor: {job / floor:.2f}×  (goal ≤ 2×)",
        ]
        print("\n".join(lines))
        if not args.no_record:
            _record(
                f"- {dt.datetime.now(dt.UTC):%Y-%m-%d}, {_machine()}: {rows:,} inquiries, "
                f"{activities:,} activities, median of {args.runs} — floor {floor:.2f} s "
                f"({rows / floor:,.0f} rows/s), rescoring job {job:.2f} s "
                f"({rows / job:,.0f} rows/s), **ratio {job / floor:.2f}×** "
                f"(runs: floor {', '.join(f'{s:.2f}' for s in floors)} s; "
                f"job {', '.join(f'{s:.2f}' for s in jobs)} s)."
            )
            print(f"appended to {PERFORMANCE_DOC.relative_to(ROOT)}")
    finally:
        _drop_database()


if __name__ == "__main__":
    main()
