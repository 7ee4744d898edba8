"""What every benchmark shares: a throw-away database, the machine, the record in the docs.

Each benchmark creates its own PostgreSQL database as the owner role
``leadflow_owner`` (dropped first if it exists and again at the end), points
``DATABASE_URL`` at it as the runtime role ``leadflow_app`` (so row-level
security applies, as in production) and appends its figures with the date
and the machine to ``docs/performance.md``.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
HOST = os.environ.get("BENCH_PGHOST", "127.0.0.1:5432")
PERFORMANCE_DOC = ROOT / "docs" / "performance.md"


def admin_sql(sql: str) -> None:
    """Run one statement as the owner role on the maintenance database (CREATE/DROP DATABASE)."""
    import psycopg2

    conn = psycopg2.connect(f"postgresql://leadflow_owner@{HOST}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def ensure_roles() -> None:
    """The owner and runtime roles, created as the local superuser on a fresh server
    (the same step the test setup takes, so a benchmark runs first on a new machine)."""
    from tests.services import _ensure_roles

    problem = _ensure_roles()
    if problem is not None:
        raise SystemExit(f"cannot create the database roles: {problem}")


def fresh_database(name: str, **environment: str) -> None:
    """Create ``name`` anew and set Django up on it; call before ``django.setup()``."""
    ensure_roles()
    admin_sql(f"DROP DATABASE IF EXISTS {name}")
    admin_sql(f"CREATE DATABASE {name}")
    os.environ["DATABASE_URL"] = f"postgres://leadflow_app@{HOST}/{name}"
    os.environ["DATABASE_OWNER_URL"] = f"postgres://leadflow_owner@{HOST}/{name}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "leadflow.settings"
    # The per-caller throttle stays in the path but must not refuse a benchmark's
    # hundreds of requests a minute (the inbox run of 2026-12-06 died on a 429).
    os.environ.setdefault("API_THROTTLE_RATE", "1000000/min")
    os.environ.update(environment)


def migrate() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", database="owner", verbosity=0)


def drop_database(name: str) -> None:
    from django.db import connections

    connections.close_all()
    admin_sql(f"DROP DATABASE IF EXISTS {name}")


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]


def alternate(steps: dict[str, Callable[[int], Any]], runs: int) -> dict[str, list[Any]]:
    """Run each step once per run, in the given order on even runs and reversed on odd ones.

    A figure and its baseline are thus measured in pairs, each pair beside each
    other and in ABBA order over the runs, so that a machine getting faster or
    slower during the run (seen here: ±30% within minutes) weighs on both sides
    alike instead of on whichever runs second. Each step gets the run's number.
    """
    results: dict[str, list[Any]] = {name: [] for name in steps}
    for run in range(runs):
        order = list(steps.items())
        if run % 2:
            order.reverse()
        for name, step in order:
            results[name].append(step(run))
    return results


@dataclass(frozen=True)
class Ratio:
    """Per-pair ratios of a figure to its baseline: their median and their range."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, figures: list[float], baselines: list[float]) -> Ratio:
        if len(figures) != len(baselines) or not figures:
            raise ValueError("a ratio needs as many baselines as figures, at least one")
        return cls(tuple(f / b for f, b in zip(figures, baselines, strict=True)))

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def holds(self, *, at_most: float | None = None, at_least: float | None = None) -> bool:
        """Whether the goal holds for the median (the range is reported beside it)."""
        if at_most is not None:
            return self.median <= at_most
        if at_least is not None:
            return self.median >= at_least
        raise ValueError("a goal needs at_most or at_least")

    def __str__(self) -> str:
        return f"{self.median:.2f}× ({self.low:.2f}–{self.high:.2f} over {len(self.values)} pairs)"


def goal(ratio: Ratio, **bound: float) -> str:
    return "met" if ratio.holds(**bound) else "NOT met"


def machine() -> str:
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


def today() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y-%m-%d}"


def record(heading: str, intro: str, entry: str) -> None:
    """Append ``entry`` under ``heading`` in docs/performance.md (created with ``intro``)."""
    doc = PERFORMANCE_DOC.read_text() if PERFORMANCE_DOC.exists() else "# Performance\n"
    if heading not in doc:
        doc = doc.rstrip("\n") + f"\n\n{heading}\n\n{intro.strip()}\n"
    start = doc.index(heading) + len(heading)
    following = doc.find("\n## ", start)
    end = len(doc) if following == -1 else following
    section = doc[:end].rstrip("\n") + "\n\n" + entry.rstrip("\n") + "\n"
    rest = doc[end:]
    PERFORMANCE_DOC.write_text(section + ("\n" + rest.lstrip("\n") if rest else ""))
    print(f"appended to {PERFORMANCE_DOC.relative_to(ROOT)}")


# One tenant's inquiries, as a previous definition left them, generated in SQL.
INQUIRIES_SQL = """
INSERT INTO inquiries_inquiry (
    tenant_id, first_name, last_name, email, phone, phone_normalized, title, company,
    company_domain, company_size, industry, country, region, interest, timeline, source,
    consent, external_source, external_id, custom, outcome, stage, disqualified_reason,
    fit_score, engagement_score, score, score_breakdown, behaviour_level, definition_id,
    scored_at, created_at, updated_at, last_activity_at)
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
    (ARRAY['web_form', 'download', 'webinar', 'event', 'import'])[1 + (g / 2) %% 5],
    'unknown', '', '', '{}'::jsonb, '',
    CASE WHEN g %% 10 = 0 THEN 'mql' ELSE 'nurture' END, '',
    g %% 60, g %% 20, g %% 60 + g %% 20, '[]'::jsonb, 'prospect', %(definition)s,
    now() - interval '1 day',
    now() - (g %% 365) * interval '1 day' - (g %% 86400) * interval '1 second',
    now() - interval '1 day',
    now() - (g %% 200) * interval '1 day' - (g %% 3600) * interval '1 second'
FROM generate_series(%(first)s, %(last)s) AS g
"""

# 1–5 activities per inquiry (3 on average), interleaved in time as real ones are.
ACTIVITIES_SQL = """
INSERT INTO inquiries_activity (tenant_id, inquiry_id, kind, occurred_at, details, created_at)
SELECT %(tenant)s, i.id,
    (ARRAY['form_fill', 'download', 'webinar', 'event_card', 'email_click', 'page_visit',
           'page_visit', 'email_reply', 'chat'])[1 + floor(random() * 9)::int],
    now() - random() * interval '200 days', '{}'::jsonb, now()
FROM inquiries_inquiry i CROSS JOIN LATERAL generate_series(1, 1 + (i.id %% 5)::int) AS n
WHERE i.tenant_id = %(tenant)s
ORDER BY random()
"""


def generate_tenant(slug: str, rows: int, *, activities: bool = True):
    """A tenant with a retired definition, ``rows`` scored inquiries and ~3 activities each.

    Returns (tenant, system principal, number of activities). Written by the
    owner role in the tenant's scope (FORCE ROW LEVEL SECURITY applies to it
    too), then vacuumed and analysed.
    """
    from django.db import connections, transaction

    from inquiries.models import DefinitionStatus, LeadDefinition
    from inquiries.services import definitions
    from leadflow.tenancy import services
    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.principal import Principal

    tenant = services.create_tenant(slug=slug, name=slug.title())
    by = Principal.system(tenant, "bench")
    with tenant_context(tenant):
        previous = definitions.create_draft(by=by)
        LeadDefinition.objects.filter(pk=previous.pk).update(status=DefinitionStatus.RETIRED)
    owner = connections["owner"]
    count = 0
    params = {"tenant": tenant.pk, "definition": previous.pk, "first": 1, "last": rows}
    with tenant_context(tenant), transaction.atomic(using="owner"), owner.cursor() as cur:
        if rows:
            cur.execute(INQUIRIES_SQL, params)
        if rows and activities:
            cur.execute(ACTIVITIES_SQL, {"tenant": tenant.pk})
            cur.execute("SELECT count(*) FROM inquiries_activity WHERE tenant_id = %s", [tenant.pk])
            count = cur.fetchone()[0]
    with owner.cursor() as cur:
        cur.execute("VACUUM ANALYZE inquiries_inquiry")
        cur.execute("VACUUM ANALYZE inquiries_activity")
    return tenant, by, count


# --- The command line and the database every benchmark starts with (appended: rep21) -------

import argparse  # noqa: E402
import contextlib  # noqa: E402
from collections.abc import Iterator  # noqa: E402


def bench_args(doc: str, **sizes: int) -> argparse.ArgumentParser:
    """A benchmark's command line: ``--<size> N`` for each of ``sizes`` (name → default), plus
    the options every benchmark shares: ``--pairs`` (6), ``--no-record``, ``--note`` and
    ``--keep`` (leave the database for a look afterwards). Add the script's own, then parse."""
    parser = argparse.ArgumentParser(
        description=doc.strip().splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for name, default in {"pairs": 6, **sizes}.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=default)
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    parser.add_argument("--note", default="", help="said beside the figures (e.g. busy machine)")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    return parser


@contextlib.contextmanager
def bench_db(name: str, *, keep: bool = False, **environment: str) -> Iterator[None]:
    """A fresh, migrated database ``name`` for the block (Django set up on it), dropped after
    it unless ``keep``."""
    fresh_database(name, **environment)
    try:
        migrate()
        yield
    finally:
        if keep:
            from django.db import connections

            connections.close_all()
            print(f"kept the database {name}")
        else:
            drop_database(name)


# --- A rate against no-op Celery tasks, printed and recorded (bench/outbox.py, webhooks.py) -


def report_rate_against_noops(
    *,
    count: int,
    noun: str,
    label: str,
    short: str,
    described: str,
    noops: list[float],
    figures: list[float],
    runs: int,
    at_least: float,
    heading: str,
    intro: str,
    record_it: bool,
) -> Ratio:
    """Print, and unless told not to record, a rate measured against no-op Celery tasks.

    ``noops`` and ``figures`` are the seconds each side took for ``count`` items,
    pair by pair (ABBA); the ratio is no-op time over figure time per pair, so a
    rate ratio. ``label`` names the figure in the printout ("outbox dispatch"),
    ``short`` in the ratio and the record ("dispatch"), ``described`` says what was
    measured in the record ("email messages (file backend)").
    """
    ratio = Ratio.of(noops, figures)
    verdict = goal(ratio, at_least=at_least)
    noop_rate = count / statistics.median(noops)
    rate = count / statistics.median(figures)
    lines = [
        f"{count:,} {noun}, {runs} pairs in ABBA order",
        f"  {'no-op Celery tasks:':<21}{noop_rate:10,.0f} /s (median)",
        f"  {label + ':':<21}{rate:10,.0f} /s (median)",
        f"  {short}/no-op rate, median of the per-pair ratios: {ratio} — goal ≥ {at_least}×, "
        f"{verdict}",
    ]
    print("\n".join(lines))
    if record_it:
        record(
            heading,
            intro,
            f"- {today()}, {machine()}: {count:,} {described}, {runs} pairs in ABBA order — "
            f"no-op tasks {noop_rate:,.0f}/s, {short} {rate:,.0f}/s (medians), "
            f"**ratio {ratio}** ({verdict}) "
            f"(runs: no-op {', '.join(f'{s:.2f}' for s in noops)} s; "
            f"{short} {', '.join(f'{s:.2f}' for s in figures)} s).",
        )
    return ratio
