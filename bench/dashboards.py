"""Benchmark: the four manager dashboards from the rollups against the raw GROUP BY.

    python bench/dashboards.py [--inquiries 100000] [--pairs 4] [--runs 2] [--no-record]

Creates its own PostgreSQL database ``leadflow_bench_dashboards`` (dropped first
if it exists, and again at the end), migrates it and generates one tenant
(America/New_York) with ``--inquiries`` inquiries over the last year in 20
campaigns, one stage change each, a lead for every fifth (awaiting, accepted,
SQL, won, lost) of 50 reps with its stage history, and 0–12 touches a lead —
all in SQL, not timed. Then ``rebuild_rollups`` (timed once and reported) and,
as the runtime role under row-level security, each dashboard's selector over
the year (``reporting/dashboards/selectors.py``) against the same figures
computed by a ``GROUP BY`` over the base tables (``reporting/dashboards/facts.py``,
the definitions the rollups store), in ``--pairs`` pairs in ABBA order
(``common.alternate``), each side ``--runs`` times a pair (the pair's median
counts). Goal: each dashboard ≤ 0.05× its raw GROUP BY and under 500 ms.

Prints the figures and appends them to ``docs/performance.md``. Not part of
``make test``.
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

DB = "leadflow_bench_dashboards"
HEADING = "## Manager dashboards (rollups)"
INTRO = (
    "`python bench/dashboards.py` (see `bench/README.md`): one tenant's inquiries over a year, "
    "a lead for every fifth with its stage history and 0–12 touches. Each dashboard "
    "(funnel, ROI, accountability, nurture; `reporting/dashboards/selectors.py`, reading the "
    "rollups) against the same figures from a `GROUP BY` over the base tables "
    "(`reporting/dashboards/facts.py`), as the runtime role under row-level security — goal "
    "≤ 0.05× and under 500 ms. Each run appends its figures here."
)

SETUP_SQL = [
    # 20 campaigns, and every inquiry in one of them (a tenth in none).
    """INSERT INTO inquiries_campaign (tenant_id, name, source, spend, created_at)
       SELECT %(tenant)s, 'Campaign ' || g, 'web_form', 1000 * g, now()
       FROM generate_series(1, 20) g""",
    """UPDATE inquiries_inquiry i SET campaign_id = c.id FROM inquiries_campaign c
       WHERE i.tenant_id = %(tenant)s AND c.tenant_id = %(tenant)s
         AND i.id %% 10 <> 0 AND c.name = 'Campaign ' || (1 + i.id %% 20)""",
    # Every fifth inquiry became a lead; its inquiry's move to lead, and everyone's first move.
    """UPDATE inquiries_inquiry SET stage = 'lead' WHERE tenant_id = %(tenant)s AND id %% 5 = 0""",
    """INSERT INTO tenancy_stagechange (tenant_id, machine, object_id, from_stage, to_stage,
           reason, actor_id, actor_label, created_at)
       SELECT tenant_id, 'inquiry', id, 'inquiry',
           CASE WHEN id %% 5 = 0 THEN 'mql' ELSE stage END, '', NULL, 'bench',
           created_at + (1 + id %% 5) * interval '1 day'
       FROM inquiries_inquiry WHERE tenant_id = %(tenant)s""",
    """INSERT INTO tenancy_stagechange (tenant_id, machine, object_id, from_stage, to_stage,
           reason, actor_id, actor_label, created_at)
       SELECT tenant_id, 'inquiry', id, 'mql', 'lead', '', NULL, 'bench',
           created_at + (8 + id %% 7) * interval '1 day'
       FROM inquiries_inquiry WHERE tenant_id = %(tenant)s AND id %% 5 = 0""",
    """INSERT INTO inquiries_appointment (tenant_id, inquiry_id, starts_at, duration_minutes,
           location, notes, message_to_buyer, uid, sequence, booked_by_id, created_at,
           cancel_reason)
       SELECT tenant_id, id, created_at + interval '10 days', 30,
           '', '', '', 'bench-' || id || '@leadflow.bench', 0, NULL,
           created_at + (8 + id %% 7) * interval '1 day', ''
       FROM inquiries_inquiry WHERE tenant_id = %(tenant)s AND id %% 5 = 0""",
    """INSERT INTO leads_lead (tenant_id, inquiry_id, appointment_id, stage, rep_id, profile,
           score, score_breakdown, created_at, assigned_at, accepted_at, qualified_at,
           closed_at, value, reject_kind, reject_reason, budget, authority, need, timeline,
           lost_reason, next_step)
       SELECT a.tenant_id, a.inquiry_id, a.id,
           (ARRAY['awaiting_acceptance', 'accepted', 'sql', 'won', 'lost'])[1 + a.id %% 5],
           %(first_rep)s + (a.inquiry_id %% 50), '{}'::jsonb, 50, '[]'::jsonb, a.created_at,
           a.created_at,
           CASE WHEN a.id %% 5 > 0 THEN a.created_at + interval '2 days' END,
           CASE WHEN a.id %% 5 IN (2, 3) THEN a.created_at + interval '6 days' END,
           CASE WHEN a.id %% 5 IN (3, 4) THEN a.created_at + interval '20 days' END,
           CASE WHEN a.id %% 5 = 3 THEN 10000 + a.id %% 7 * 1000 END,
           '', '', '', '', '', '', '', ''
       FROM inquiries_appointment a WHERE a.tenant_id = %(tenant)s""",
    """INSERT INTO tenancy_stagechange (tenant_id, machine, object_id, from_stage, to_stage,
           reason, actor_id, actor_label, created_at)
       SELECT tenant_id, 'lead', id, 'awaiting_acceptance', 'accepted', '', NULL, 'bench',
           accepted_at
       FROM leads_lead WHERE tenant_id = %(tenant)s AND accepted_at IS NOT NULL""",
    """INSERT INTO leads_touch (tenant_id, inquiry_id, lead_id, user_id, kind, outcome, note,
           at, created_at)
       SELECT l.tenant_id, l.inquiry_id, l.id, l.rep_id, 'call', 'no_answer', '',
           l.created_at + n * interval '1 day', now()
       FROM leads_lead l CROSS JOIN LATERAL generate_series(1, (l.id * 7) %% 13) AS n
       WHERE l.tenant_id = %(tenant)s""",
]


def _reps(tenant, count: int):
    from django.contrib.auth.hashers import make_password

    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.models import Membership, Role, User

    password = make_password("bench-password")
    users = User.objects.bulk_create(
        [
            User(email=f"rep{n}@dash.bench", full_name=f"Rep {n}", password=password)
            for n in range(count)
        ]
    )
    with tenant_context(tenant):
        Membership.objects.bulk_create(
            [Membership(tenant=tenant, user=user, role=Role.REP) for user in users]
        )
    return users


def _generate(tenant) -> dict[str, int]:
    from django.db import connections, transaction

    from leadflow.tenancy.context import tenant_context

    reps = _reps(tenant, 50)
    assert reps[-1].pk == reps[0].pk + 49, "the reps' ids are not consecutive"
    owner = connections["owner"]
    with tenant_context(tenant), transaction.atomic(using="owner"), owner.cursor() as cur:
        for sql in SETUP_SQL:
            cur.execute(sql, {"tenant": tenant.pk, "first_rep": reps[0].pk})
        counts = {}
        for table in ("inquiries_inquiry", "leads_lead", "leads_touch", "tenancy_stagechange"):
            cur.execute(f"SELECT count(*) FROM {table} WHERE tenant_id = %s", [tenant.pk])
            counts[table] = cur.fetchone()[0]
    with owner.cursor() as cur:
        for table in counts:
            cur.execute(f"VACUUM ANALYZE {table}")
    return counts


def _load() -> str:
    """The 1-, 5- and 15-minute load averages (the machine is shared)."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def _timed(call, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _raw(scope):
    """Each dashboard's figures straight from the base tables (the facts' definitions)."""
    from django.db.models import Count, Q, Sum
    from django.db.models.functions import TruncMonth

    from inquiries.models import Inquiry
    from leads.models import Lead
    from reporting.dashboards import facts, selectors

    start, end = scope.bounds
    cohort = facts.annotated_inquiries(
        Inquiry.objects.filter(created_at__gte=start, created_at__lt=end), scope.tz
    )
    counts = {f: Count("id", filter=q) for f, q in facts.STEP_FILTERS.items() if f != "inquiries"}

    def funnel():
        return cohort.aggregate(inquiries=Count("id"), value=Sum("won_value"), **counts)

    def roi():
        return list(cohort.values("campaign_id").annotate(n=Count("id"), **counts).order_by())

    def nurture():
        return list(
            cohort.annotate(month=TruncMonth("created_at", tzinfo=scope.tz))
            .values("month")
            .annotate(
                n=Count("id"),
                nurtured=Count("id", filter=facts.NURTURED),
                won=Count("id", filter=facts.WON),
                nurtured_won=Count("id", filter=facts.NURTURED & facts.WON),
            )
            .order_by()
        )

    def accountability():
        figures = selectors.accountability_filters(scope, 14)
        per_owner = (
            facts.lead_facts(Lead.objects.all())
            .values("rep_id", "partner_id")
            .annotate(**{name: Count("id", filter=q) for name, q in figures.items()})
            .order_by()
        )
        closed = (
            facts.lead_facts(Lead.objects.filter(figures["closed"] & Q()))
            .values("touches")
            .annotate(n=Count("id"))
            .order_by()
        )
        return list(per_owner), list(closed)

    return {"funnel": funnel, "roi": roi, "accountability": accountability, "nurture": nurture}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inquiries", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=4, help="figure/baseline pairs (ABBA)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each side per pair")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    parser.add_argument("--note", default="", help="said beside the figures (e.g. busy machine)")
    parser.add_argument("--database", default=DB, help="its throw-away database's name")
    args = parser.parse_args()
    load_start = _load()
    print(f"load average {load_start}", flush=True)
    os.environ.pop("REDIS_URL", None)
    fresh_database(args.database)
    try:
        migrate()
        from datetime import timedelta

        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        from leadflow.lib import times
        from leadflow.tenancy.context import tenant_context
        from reporting.dashboards import selectors, services

        started = time.perf_counter()
        tenant, _, _ = generate_tenant("bench", args.inquiries, activities=False)
        tenant.timezone = "America/New_York"
        tenant.save()
        counts = _generate(tenant)
        print(f"generated {counts} in {time.perf_counter() - started:.1f} s", flush=True)
        with tenant_context(tenant):
            started = time.perf_counter()
            services.rebuild_rollups()
            rebuild_s = time.perf_counter() - started
        print(f"rebuild_rollups: {rebuild_s:.1f} s", flush=True)
        # The rollups' statistics, as the base tables' (autovacuum would, later).
        from django.db import connections

        with connections["owner"].cursor() as cur:
            for table in (
                "reporting_funnelrollup",
                "reporting_stagetimerollup",
                "reporting_leadfact",
                "reporting_ownerrollup",
            ):
                cur.execute(f"VACUUM ANALYZE {table}")
        tz = times.zone(tenant.timezone)
        last = timezone.now().astimezone(tz).date()
        scope = selectors.Scope(tenant=tenant, tz=tz, first=last - timedelta(days=364), last=last)
        dashboards = {
            "funnel": selectors.funnel,
            "roi": selectors.roi,
            "accountability": selectors.accountability,
            "nurture": selectors.nurture_effect,
        }
        with tenant_context(tenant):
            raw = _raw(scope)
        lines = [
            f"{counts['inquiries_inquiry']:,} inquiries, {counts['leads_lead']:,} leads, "
            f"{counts['leads_touch']:,} touches, {counts['tenancy_stagechange']:,} stage "
            f"changes; rebuild_rollups {rebuild_s:.1f} s"
        ]
        entries = []
        for name, dashboard in dashboards.items():

            def figure(dashboard=dashboard):
                with tenant_context(tenant):
                    return dashboard(scope)

            def baseline(name=name):
                with tenant_context(tenant):
                    return raw[name]()

            with CaptureQueriesContext(connection) as captured:
                figure()
            measured = alternate(
                {
                    "figure": lambda run, f=figure: _timed(f, args.runs),
                    "baseline": lambda run, b=baseline: _timed(b, args.runs),
                },
                args.pairs,
            )
            ratio = Ratio.of(measured["figure"], measured["baseline"])
            fig_ms = statistics.median(measured["figure"])
            base_ms = statistics.median(measured["baseline"])
            fast = "met" if fig_ms < 500 else "NOT met"
            lines.append(
                f"  {name}: {fig_ms:.1f} ms ({len(captured)} queries) vs raw GROUP BY "
                f"{base_ms:.1f} ms — ratio {ratio}, goal ≤ 0.05× {goal(ratio, at_most=0.05)}, "
                f"< 500 ms {fast}"
            )
            entries.append(
                f"{name} {fig_ms:.1f} ms vs {base_ms:.1f} ms: **{ratio}** "
                f"({goal(ratio, at_most=0.05)}; < 500 ms {fast})"
            )
        load = f"load average {load_start} at the start, {_load()} at the end"
        lines[0] += f"; {load}"
        print("\n".join(lines))
        if not args.no_record:
            note = f" ({args.note})" if args.note else ""
            record(
                HEADING,
                INTRO,
                f"- {today()}{note}, {machine()}: {lines[0]}; {args.pairs} pairs in ABBA order, "
                f"{args.runs} runs a side a pair — " + "; ".join(entries) + ".",
            )
    finally:
        drop_database(args.database)


if __name__ == "__main__":
    main()
