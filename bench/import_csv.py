"""Benchmark: importing a 100,000-row CSV vs a plain COPY and vs Django's bulk_create.

    python bench/import_csv.py [--rows 100000] [--small 10000] [--runs 3] [--skip-million]

Creates its own PostgreSQL database ``leadflow_bench_import`` (dropped first if
it exists, and again at the end) as ``leadflow_owner`` and generates a
realistic CSV file: email, names, phone, title, company, head count, industry,
country, timeline, a custom number field (budget) and an activity column (the
webinar date); 20% of the rows repeat a person from earlier in the file (the
email in other casing, some values changed), as an export from another tool
does. The tenant has the articles' template definition active, so every
imported inquiry is scored and routed.

Measured in the same run, ``--runs`` times (4) in ABBA order — the steps in one
order on even runs and reversed on odd ones (``common.alternate``) — and each
ratio reported as the median of the per-run pairs with its range:

* import — ``run_import_job`` (chunks of 5,000: parse, validate, match, COPY
  to staging, insert/merge, activities, scoring, MQL/nurture moves) into an
  empty tenant, called directly (no broker), as the runtime role under
  row-level security; each run in a child process, which also reports the
  peak memory the job added: the proportional set size (PSS) of that process
  and the one it reads ahead in, sampled 20 times a second for the first five
  seconds and four times a second after, minus PSS before;
* COPY (the limit) — one ``COPY`` of the same rows, already in COPY text
  format, into a bare table with the same columns and indexes as
  ``inquiries_inquiry`` (the unique ones as plain indexes: a raw COPY cannot
  merge the 20% repeated people);
* bulk_create — ``Inquiry.objects.bulk_create(batch_size=1000,
  ignore_conflicts=True)`` of the same rows as the runtime role (objects built
  from the parsed rows inside the timing; no validation, no merge, no
  scoring).

Also: ``--small`` rows vs ``--rows`` rows (time ≤ 11×, peak memory ≤ 1.5×),
and importing into a tenant that already holds 1,000,000 inquiries (built by
``common.generate_tenant``) vs into an empty tenant (≥ 0.8× the rate; skip
with ``--skip-million``). Goals: import ≥ 1/3 of COPY's rows/s and never
slower than bulk_create. Appends the figures to ``docs/performance.md``.
Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

from common import (
    ROOT,
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

DB = "leadflow_bench_import"
HEADING = "## CSV import"
INTRO = (
    "`python bench/import_csv.py` (see `bench/README.md`): a generated 100,000-row CSV "
    "(20% repeated people, realistic columns, a custom field and an activity column) "
    "imported by the job (`inquiries/services/imports/`: validation, matching, COPY "
    "into staging, set-based insert/merge, scoring) as the runtime role under row-level "
    "security, against a plain `COPY` of the same rows into a bare table with the same "
    "indexes (the limit) and Django `bulk_create(batch_size=1000)`, 4 runs in ABBA order, "
    "each ratio the median of the per-run pairs with its range. "
    "Goals: ≥ 1/3 of COPY's rows/s, never slower than bulk_create; 100k vs 10k rows time "
    "≤ 11× and peak memory ≤ 1.5×; into a tenant of 1,000,000 inquiries ≥ 0.8× the rate "
    "into an empty one."
)
HEADER = [
    "Email",
    "First Name",
    "Last Name",
    "Phone",
    "Job Title",
    "Company",
    "Employees",
    "Industry",
    "Country",
    "Timeline",
    "Budget",
    "Webinar",
]
MAPPING = {
    "Email": {"to": "field", "field": "email"},
    "First Name": {"to": "field", "field": "first_name"},
    "Last Name": {"to": "field", "field": "last_name"},
    "Phone": {"to": "field", "field": "phone"},
    "Job Title": {"to": "field", "field": "title"},
    "Company": {"to": "field", "field": "company"},
    "Employees": {"to": "field", "field": "company_size"},
    "Industry": {"to": "field", "field": "industry"},
    "Country": {"to": "field", "field": "country"},
    "Timeline": {"to": "field", "field": "timeline"},
    "Budget": {"to": "custom", "key": "budget"},
    "Webinar": {"to": "activity", "kind": "webinar"},
}
TITLES = ["VP Operations", "Director of IT", "Chief Executive Officer", "Office manager",
          "Engineer", "Student", "Head of Procurement", ""]  # fmt: skip
INDUSTRIES = ["manufacturing", "logistics", "healthcare", "retail", "software", ""]
COUNTRIES = ["US", "CA", "GB", "DE", "FR", "NL", "IN", "N/A"]
TIMELINES = ["now", "0-3m", "3-6m", "6-12m", "12m+", "Select"]
FIRST = ["Pat", "Sam", "Alex", "Robin", "Kim", "Jo", "Zoë", "René", "Ana", "Chris"]


def generate_csv(path: Path, rows: int, seed: str) -> None:
    """``rows`` rows, 20% of them repeating an earlier person (other casing, other values).

    Emails and phone numbers are the seed's own: each run imports a file of its
    own into the tenant of a million, and the same numbers in each run had made
    the later runs merge a third of their rows, by phone, into the earlier ones.
    """
    rng = random.Random(f"{seed}-{rows}")
    area = 200 + zlib.crc32(seed.encode()) % 800
    people = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(rows):
            if n % 5 == 4 and people:
                k = rng.randrange(people)
                email = f" Buyer{k}.{seed}@Company{k % 40000}.example "
            else:
                k = people
                people += 1
                email = f"buyer{k}.{seed}@company{k % 40000}.example"
            writer.writerow(
                [
                    email,
                    FIRST[k % len(FIRST)],
                    f"Buyer{k}",
                    f"+1 {area} {k // 10000:03d} {k % 10000:04d}" if k % 3 == 0 else "",
                    rng.choice(TITLES),
                    f"Company {k % 40000}",
                    str(rng.choice([5, 40, 250, 1200, 8000])) if k % 11 else "-",
                    rng.choice(INDUSTRIES),
                    rng.choice(COUNTRIES),
                    rng.choice(TIMELINES),
                    str(rng.choice([0, 500, 12000, 250000])),
                    f"2026-0{rng.randint(1, 9)}-{rng.randint(10, 28)} 1{rng.randint(0, 9)}:00"
                    if rng.random() < 0.6
                    else "",
                ]
            )


def _setup_tenant(slug: str):
    """A tenant with the template definition active and the custom field ``budget``."""
    from inquiries.models import DefinitionStatus, LeadDefinition
    from inquiries.services import definitions
    from inquiries.services.custom_fields import define_custom_field
    from leadflow.tenancy import services
    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.principal import Principal

    tenant = services.create_tenant(slug=slug, name=slug)
    by = Principal.system(tenant, "bench")
    with tenant_context(tenant):
        draft = definitions.create_draft(by=by)
        LeadDefinition.objects.filter(pk=draft.pk).update(status=DefinitionStatus.ACTIVE)
        define_custom_field(key="budget", label="Budget", kind="number", by=by)
    return tenant, by


def _pss_kb(pid: int | str) -> int:
    """Proportional set size of one process: its private pages and its share of shared ones."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:  # the process has just ended
        pass
    return 0


def _family_pss_kb() -> int:
    """PSS of this process and its children: the import reads ahead in a forked process,
    which shares most of its pages with this one (RSS would count them twice)."""
    pids: list[int | str] = ["self"]
    for task in Path("/proc/self/task").iterdir():
        with open(task / "children") as children:
            pids += children.read().split()
    return sum(_pss_kb(pid) for pid in pids)


class _PeakSampler:
    """The highest PSS of this process and its children: 20 samples a second for the
    first five seconds, then four.

    Reading ``smaps_rollup`` walks the page tables; at 50 Hz throughout it took CPU
    and the interpreter lock from the import it measures, and a 100,000-row import
    holds its plateau for seconds. A 10,000-row import lasts under two seconds: at
    four samples a second its peak was caught in some runs and missed in others
    (35-46 MB for the same import)."""

    FAST, FAST_FOR, SLOW = 0.05, 5.0, 0.25

    def __init__(self) -> None:
        import threading

        self.peak = _family_pss_kb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started = time.perf_counter()
        while not self._stop.wait(
            self.FAST if time.perf_counter() - started < self.FAST_FOR else self.SLOW
        ):
            self.peak = max(self.peak, _family_pss_kb())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, _family_pss_kb())


def child(csv_path: str, slug: str, chunk_size: int) -> None:
    """One import in this process; prints seconds, counts and the peak memory it added."""
    import django

    django.setup()
    from django.core.files import File

    from inquiries.services import imports
    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.models import Tenant

    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        tenant, by = _setup_tenant(slug)
    else:
        from leadflow.tenancy.principal import Principal

        by = Principal.system(tenant, "bench")
    with tenant_context(tenant):
        started = time.perf_counter()
        with open(csv_path, "rb") as handle:
            job = imports.analyse_upload(file=File(handle), file_name="bench.csv", by=by)
        analysed = time.perf_counter() - started
        job = imports.set_mapping(job=job, mapping=MAPPING, placeholders=["N/A", "-", "Select"],
                                  by=by)  # fmt: skip
        job = imports.start_import(job=job, by=by)
        before = _family_pss_kb()
        sampler = _PeakSampler()
        started = time.perf_counter()
        job = imports.run_import_job(job=job, chunk_size=chunk_size)
        elapsed = time.perf_counter() - started
        peak = sampler.stop()
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "analyse_seconds": analysed,
                "status": job.status,
                "rows": job.done_rows,
                "new": job.new_count,
                "merged": job.merged_count,
                "invalid": job.invalid_count,
                "peak_kb": peak - before,
            }
        )
    )


def _import(csv_path: Path, slug: str, chunk_size: int) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(csv_path), slug, str(chunk_size)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    if result["status"] != "done":
        raise SystemExit(f"import {slug} ended {result['status']}")
    return result


def _parsed(csv_path: Path) -> list[dict]:
    """The rows as the baselines take them: trimmed, placeholders and formats as given."""
    with open(csv_path, newline="", encoding="utf-8") as handle:
        return [
            {
                k: (v.strip() if v.strip() not in ("N/A", "-", "Select") else "")
                for k, v in r.items()
            }
            for r in csv.DictReader(handle)
        ]


COPY_COLUMNS = [
    "tenant_id", "first_name", "last_name", "email", "phone", "phone_normalized", "title",
    "company", "company_domain", "company_size", "industry", "country", "region", "interest",
    "timeline", "source", "consent", "external_source", "external_id", "custom", "outcome",
    "stage", "disqualified_reason", "fit_score", "engagement_score", "score",
    "score_breakdown", "behaviour_level", "created_at", "updated_at", "last_activity_at",
]  # fmt: skip


def _copy_payload(rows: list[dict], tenant_id: int) -> str:
    out = io.StringIO()
    for r in rows:
        values = [
            str(tenant_id), r["First Name"], r["Last Name"], r["Email"].lower(), r["Phone"], "",
            r["Job Title"], r["Company"], "", r["Employees"] or "\\N", r["Industry"],
            r["Country"], "", "", r["Timeline"] or "unknown", "import", "unknown", "", "",
            json.dumps({"budget": int(r["Budget"])}), "", "inquiry", "", "0", "0", "0", "[]",
            "visitor", "2026-06-01", "2026-06-01", r["Webinar"] or "2026-06-01",
        ]  # fmt: skip
        out.write("\t".join(values) + "\n")
    return out.getvalue()


def _copy_baseline(payload: str) -> float:
    """One COPY into a bare table with inquiries_inquiry's columns and (non-unique) indexes."""
    from django.db import connections

    owner = connections["owner"]
    with owner.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_copy")
        cur.execute("CREATE TABLE bench_copy (LIKE inquiries_inquiry INCLUDING DEFAULTS)")
        cur.execute(
            "ALTER TABLE bench_copy ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY, "
            "ADD PRIMARY KEY (id)"
        )
        cur.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'inquiries_inquiry' "
            "AND indexname <> 'inquiries_inquiry_pkey'"
        )
        for (definition,) in cur.fetchall():
            definition = definition.replace("CREATE UNIQUE INDEX", "CREATE INDEX")
            name = definition.split(" INDEX ")[1].split(" ON ")[0]
            definition = definition.replace(f" {name} ON ", f" bench_{name[-40:]} ON ", 1)
            cur.execute(definition.replace("public.inquiries_inquiry", "bench_copy"))
    started = time.perf_counter()
    with owner.cursor() as cur:
        cur.cursor.copy_expert(
            f"COPY bench_copy ({', '.join(COPY_COLUMNS)}) FROM STDIN", io.StringIO(payload)
        )
    elapsed = time.perf_counter() - started
    with owner.cursor() as cur:
        cur.execute("DROP TABLE bench_copy")
    return elapsed


def _bulk_create_baseline(rows: list[dict], slug: str) -> float:
    from django.utils import timezone

    from inquiries.models import Inquiry
    from leadflow.tenancy import services
    from leadflow.tenancy.context import tenant_context

    tenant = services.create_tenant(slug=slug, name=slug)
    now = timezone.now()
    with tenant_context(tenant):
        started = time.perf_counter()
        Inquiry.objects.bulk_create(
            [
                Inquiry(
                    tenant=tenant,
                    first_name=r["First Name"],
                    last_name=r["Last Name"],
                    email=r["Email"].lower(),
                    phone=r["Phone"],
                    title=r["Job Title"],
                    company=r["Company"],
                    company_size=int(r["Employees"]) if r["Employees"] else None,
                    industry=r["Industry"],
                    country=r["Country"],
                    timeline=r["Timeline"] or "unknown",
                    source="import",
                    custom={"budget": int(r["Budget"])},
                    created_at=now,
                    updated_at=now,
                )
                for r in rows
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
        return time.perf_counter() - started


def _vacuum() -> None:
    from django.db import connections

    with connections["owner"].cursor() as cur:
        cur.execute("VACUUM ANALYZE inquiries_inquiry")
        cur.execute("VACUUM ANALYZE inquiries_activity")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=4, help="an even number keeps ABBA balanced")
    parser.add_argument("--chunk-size", type=int, default=5_000)
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    args = parser.parse_args()
    # The job is called directly; nothing may reach a broker.
    os.environ.pop("REDIS_URL", None)
    workdir = Path(tempfile.mkdtemp(prefix="leadflow-bench-import-"))
    fresh_database(DB, IMPORTS_ROOT=str(workdir / "imports"))
    try:
        migrate()
        big, small = workdir / "big.csv", workdir / "small.csv"
        generate_csv(big, args.rows, "r0")
        generate_csv(small, args.small, "s0")
        print(f"generated {args.rows:,} rows ({big.stat().st_size / 2**20:.1f} MB)")
        rows = _parsed(big)
        payload = _copy_payload(rows, 999_999)
        if not args.skip_million:
            # Built first, so that every run measures the empty tenant and the
            # tenant of a million side by side, on the same table, minutes apart
            # at most: the machine's speed drifts over a run of this length.
            started = time.perf_counter()
            generate_tenant("million", args.million)
            _setup_tenant_budget("million")
            print(f"generated {args.million:,} inquiries in {time.perf_counter() - started:.0f} s")
        steps = {
            "copy": lambda run: (_vacuum(), _copy_baseline(payload))[1],
            "bulk": lambda run: (_vacuum(), _bulk_create_baseline(rows, f"bulk-{run}"))[1],
            "import": lambda run: (_vacuum(), _import(big, f"empty-{run}", args.chunk_size))[1],
            "small": lambda run: (_vacuum(), _import(small, f"small-{run}", args.chunk_size))[1],
        }
        if not args.skip_million:

            def into_million(run: int) -> dict:
                csv_path = workdir / f"million-{run}.csv"
                generate_csv(csv_path, args.rows, f"m{run}")
                _vacuum()
                return _import(csv_path, "million", args.chunk_size)

            # Beside the empty-tenant import, so that each pair is taken minutes apart at most.
            steps = {"copy": steps["copy"], "bulk": steps["bulk"], "import": steps["import"],
                     "million": into_million, "small": steps["small"]}  # fmt: skip
        results = alternate(steps, args.runs)
        for run in range(args.runs):
            i, sm = results["import"][run], results["small"][run]
            into = ""
            if "million" in results:
                full = results["million"][run]
                into = (
                    f", into the {args.million:,} tenant {full['seconds']:.2f} s "
                    f"(new {full['new']:,}, merged {full['merged']:,})"
                )
            print(
                f"run {run + 1}{' (reversed)' if run % 2 else ''}: import {i['seconds']:.2f} s "
                f"(new {i['new']:,}, merged {i['merged']:,}, invalid {i['invalid']:,}, "
                f"+{i['peak_kb'] / 1024:.0f} MB), COPY {results['copy'][run]:.2f} s, "
                f"bulk_create {results['bulk'][run]:.2f} s, {args.small:,} rows "
                f"{sm['seconds']:.2f} s (+{sm['peak_kb'] / 1024:.0f} MB){into}"
            )
        n = args.rows
        job_times = [i["seconds"] for i in results["import"]]
        job = statistics.median(job_times)
        analyse = statistics.median(i["analyse_seconds"] for i in results["import"])
        copy, bulk = statistics.median(results["copy"]), statistics.median(results["bulk"])
        small_times = [s["seconds"] for s in results["small"]]
        memories = [i["peak_kb"] for i in results["import"]]
        small_memories = [s["peak_kb"] for s in results["small"]]
        # Rates: the import's rows/s over the baseline's is the baseline's time over the job's.
        vs_copy = Ratio.of(results["copy"], job_times)
        vs_bulk = Ratio.of(results["bulk"], job_times)
        growth = Ratio.of(job_times, small_times)
        memory = Ratio.of(memories, small_memories)
        time_goal = 11 * n / args.small / 10
        lines = [
            f"importing {n:,} CSV rows (20% repeated people), {args.runs} runs in ABBA order; "
            "ratios are the median of the per-run pairs (range)",
            f"  COPY (the limit):     {copy:8.2f} s  {n / copy:10,.0f} rows/s (median)",
            f"  bulk_create(1000):    {bulk:8.2f} s  {n / bulk:10,.0f} rows/s (median)",
            f"  import job:           {job:8.2f} s  {n / job:10,.0f} rows/s (median; "
            f"analysing the upload before it: {analyse:.2f} s)",
            f"  import/COPY rate: {vs_copy} — goal ≥ 0.33, {goal(vs_copy, at_least=1 / 3)}",
            f"  import/bulk_create rate: {vs_bulk} — goal ≥ 1, {goal(vs_bulk, at_least=1)}",
            f"  {n:,} vs {args.small:,} rows: time {growth} — goal ≤ {time_goal:.0f}×, "
            f"{goal(growth, at_most=time_goal)}; peak memory "
            f"{statistics.median(memories) / 1024:.0f} vs "
            f"{statistics.median(small_memories) / 1024:.0f} MB, {memory} — goal ≤ 1.5×, "
            f"{goal(memory, at_most=1.5)}",
        ]
        million = ""
        if "million" in results:
            full_times = [f["seconds"] for f in results["million"]]
            full = statistics.median(full_times)
            vs_empty = Ratio.of(job_times, full_times)
            lines.append(
                f"  into a tenant of {args.million:,}: {full:.2f} s ({n / full:,.0f} rows/s), "
                f"rate vs empty tenant {vs_empty} — goal ≥ 0.8, {goal(vs_empty, at_least=0.8)}"
            )
            million = (
                f"; into a tenant of {args.million:,} inquiries {full:.2f} s, "
                f"**{vs_empty} the empty-tenant rate** ({goal(vs_empty, at_least=0.8)})"
            )
        print("\n".join(lines))
        if not args.no_record:
            record(
                HEADING,
                INTRO,
                f"- {today()}, {machine()}: {n:,} rows, chunks of {args.chunk_size:,}, "
                f"{args.runs} runs in ABBA order, ratios as the median of the per-run pairs "
                f"(range) — COPY {copy:.2f} s, bulk_create {bulk:.2f} s, import job "
                f"{job:.2f} s (medians): **{vs_copy} of COPY's rate** "
                f"({goal(vs_copy, at_least=1 / 3)}), **{vs_bulk} bulk_create's** "
                f"({goal(vs_bulk, at_least=1)}); {args.small:,} rows "
                f"{statistics.median(small_times):.2f} s, **{growth}** the time for "
                f"{n / args.small:.0f}× the rows ({goal(growth, at_most=time_goal)}), peak "
                f"memory added {statistics.median(memories) / 1024:.0f} MB vs "
                f"{statistics.median(small_memories) / 1024:.0f} MB (**{memory}**, "
                f"{goal(memory, at_most=1.5)}){million}. Analysing the upload (encoding, "
                f"delimiter, structure) before the job: {analyse:.2f} s.",
            )
    finally:
        drop_database(DB)


def _setup_tenant_budget(slug: str) -> None:
    """Give the generated tenant the active template definition and the budget field."""
    from inquiries.models import DefinitionStatus, LeadDefinition
    from inquiries.services import definitions
    from inquiries.services.custom_fields import define_custom_field
    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.models import Tenant
    from leadflow.tenancy.principal import Principal

    tenant = Tenant.objects.get(slug=slug)
    by = Principal.system(tenant, "bench")
    with tenant_context(tenant):
        draft = definitions.create_draft(by=by)
        LeadDefinition.objects.filter(pk=draft.pk).update(status=DefinitionStatus.ACTIVE)
        define_custom_field(key="budget", label="Budget", kind="number", by=by)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
        sys.path.insert(0, str(ROOT))
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
