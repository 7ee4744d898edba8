"""Benchmark: missing weekly updates per owner at 200,000 open leads, and My week for 80 leads.

    python bench/missing_updates.py [--leads 200000] [--owners 2000] [--pairs 6] [--runs 5]
                                    [--requests 30] [--no-record]

Creates its own PostgreSQL database ``leadflow_bench_missing`` (dropped first
if it exists, and again at the end) as ``leadflow_owner``, migrates it and
generates one tenant (Europe/Berlin) with ``--leads`` inquiries, each booked
as an open lead (90% accepted or SQL, 10% awaiting acceptance) of one of
``--owners`` reps, assigned 1–60 days ago; about 40% of the accepted/SQL
leads have this week's update and 60% last week's (all in SQL, not timed).
Timed as the runtime role under row-level security, figure and baseline in
``--pairs`` pairs in ABBA order (``common.alternate``), each side ``--runs``
times a pair (the pair's median counts):

* missing updates per owner — ``missing_update(...)`` (the set-based selector
  the manager's ``?missing=true`` and My week use) grouped by owner, against
  the plain ``SELECT rep_id, count(*) FROM leads_lead WHERE tenant_id = … AND
  stage IN ('accepted', 'sql') GROUP BY rep_id`` over the same rows — goal ≤ 3×;
* My week — ``GET /leads/week/`` (Django test client, logged in) for an owner
  with 80 open leads, against the same page for an owner with none (the bare
  view: session, middleware, template, the one query) — goal: first page
  under 200 ms (median), queries the same for both.

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
    median,
    migrate,
    p95,
    record,
    today,
)

DB = "leadflow_bench_missing"
HEADING = "## Missing weekly updates and My week"
INTRO = (
    "`python bench/missing_updates.py` (see `bench/README.md`): a tenant with 200,000 open "
    "leads of 2,000 owners (~40% reported this week). Missing-update detection "
    "(`leads.selectors.weekly.missing_update`, grouped by owner) against one plain SQL "
    "`GROUP BY rep_id` over the same open leads, as the runtime role under row-level "
    "security — goal ≤ 3×; and the My week page of an owner with 80 leads against the same "
    "page of an owner with none — goal under 200 ms. Each run appends its figures here."
)
WEEK_LEADS = 80

APPOINTMENTS_SQL = """
INSERT INTO inquiries_appointment (
    tenant_id, inquiry_id, starts_at, duration_minutes, location, notes,
    message_to_buyer, uid, sequence, booked_by_id, created_at, confirmation_sent_at,
    closed_at, held_at, no_show_at, cancelled_at, cancel_reason)
SELECT i.tenant_id, i.id, now() - (i.id %% 50) * interval '1 day', 30,
    '', '', '', 'bench-' || i.id || '@leadflow.bench',
    0, NULL, now(), NULL, NULL, NULL, NULL, NULL, ''
FROM inquiries_inquiry i WHERE i.tenant_id = %(tenant)s
"""

LEADS_SQL = """
INSERT INTO leads_lead (
    tenant_id, inquiry_id, appointment_id, stage, rep_id, partner_id, profile, score,
    score_breakdown, definition_version, created_at, closed_at, assigned_at,
    acceptance_due_at, accepted_at, breached_at, reject_kind, reject_reason, qualified_at,
    budget, authority, need, timeline, value, closed_on, lost_reason, postponed_until,
    next_step_on, next_step)
SELECT a.tenant_id, a.inquiry_id, a.id,
    CASE WHEN a.id %% 10 = 0 THEN 'awaiting_acceptance'
         WHEN a.id %% 10 < 4 THEN 'sql' ELSE 'accepted' END,
    %(first_rep)s + (a.inquiry_id %% %(owners)s), NULL, '{}'::jsonb, a.id %% 90, '[]'::jsonb, 1,
    now() - interval '61 days', NULL,
    now() - (1 + a.id %% 60) * interval '1 day', NULL,
    CASE WHEN a.id %% 10 = 0 THEN NULL ELSE now() - (a.id %% 60) * interval '1 day' END,
    NULL, '', '', NULL, '', '', '', '', NULL, NULL, '', NULL,
    CASE WHEN a.id %% 3 = 0 THEN current_date + (a.id %% 14)::int END,
    CASE WHEN a.id %% 3 = 0 THEN 'Call back' ELSE '' END
FROM inquiries_appointment a WHERE a.tenant_id = %(tenant)s
"""

UPDATES_SQL = """
INSERT INTO leads_weeklyupdate (
    tenant_id, lead_id, week, status, note, touch_id, user_id, partner_id, late, created_at)
SELECT l.tenant_id, l.id, %(week)s, 'progress', 'Called', NULL, l.rep_id, NULL, false, now()
FROM leads_lead l
WHERE l.tenant_id = %(tenant)s AND l.stage IN ('accepted', 'sql')
    AND abs(hashtext(l.id::text || %(week)s::text)) %% 100 < %(pct)s
"""

BASELINE_SQL = (
    "SELECT rep_id, count(*) FROM leads_lead WHERE tenant_id = %s "
    "AND stage IN ('accepted', 'sql') GROUP BY rep_id"
)


def _owners(tenant, count: int):
    """``count`` reps (users and memberships, bulk) and one more for the My week page."""
    from django.contrib.auth.hashers import make_password

    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.models import Membership, Role, User

    password = make_password("bench-password")
    users = User.objects.bulk_create(
        [
            User(email=f"rep{n}@missing.bench", full_name=f"Rep {n}", password=password)
            for n in range(count + 2)
        ]
    )
    with tenant_context(tenant):
        Membership.objects.bulk_create(
            [Membership(tenant=tenant, user=user, role=Role.REP) for user in users]
        )
    return users[:count], users[count], users[count + 1]


def _generate(tenant, owners: int):
    from django.db import connections, transaction

    from leadflow.lib import times
    from leadflow.tenancy.context import tenant_context
    from leads.selectors.weekly import current_week

    reps, week_rep, idle_rep = _owners(tenant, owners)
    this_week = current_week(times.zone(tenant.timezone))
    last_week = this_week.toordinal() - 7
    owner = connections["owner"]
    first = reps[0].pk
    assert reps[-1].pk == first + owners - 1, "the reps' ids are not consecutive"
    with tenant_context(tenant), transaction.atomic(using="owner"), owner.cursor() as cur:
        cur.execute(APPOINTMENTS_SQL, {"tenant": tenant.pk, "first_rep": first, "owners": owners})
        cur.execute(LEADS_SQL, {"tenant": tenant.pk, "first_rep": first, "owners": owners})
        cur.execute(UPDATES_SQL, {"tenant": tenant.pk, "week": this_week, "pct": 40})
        from datetime import date

        cur.execute(
            UPDATES_SQL, {"tenant": tenant.pk, "week": date.fromordinal(last_week), "pct": 60}
        )
        # What record_weekly_update keeps on each lead: its latest reported week.
        cur.execute(
            "UPDATE leads_lead l SET last_update_week = u.week FROM (SELECT lead_id, "
            "max(week) AS week FROM leads_weeklyupdate WHERE tenant_id = %s GROUP BY lead_id) u "
            "WHERE l.tenant_id = %s AND l.id = u.lead_id",
            [tenant.pk, tenant.pk],
        )
        # The My week owner: 80 open leads, taken from the first reps (none reported yet).
        cur.execute(
            "UPDATE leads_lead SET rep_id = %s WHERE id IN (SELECT id FROM leads_lead "
            "WHERE tenant_id = %s AND stage IN ('accepted', 'sql') ORDER BY id LIMIT %s)",
            [week_rep.pk, tenant.pk, WEEK_LEADS],
        )
        cur.execute(
            "SELECT count(*) FILTER (WHERE stage IN ('accepted', 'sql')), count(*) "
            "FROM leads_lead WHERE tenant_id = %s",
            [tenant.pk],
        )
        reported, total = cur.fetchone()
    with owner.cursor() as cur:
        for table in ("inquiries_appointment", "leads_lead", "leads_weeklyupdate"):
            cur.execute(f"VACUUM ANALYZE {table}")
    return week_rep, idle_rep, reported, total


def _timed(call, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--owners", type=int, default=2_000)
    parser.add_argument("--pairs", type=int, default=6, help="figure/baseline pairs (ABBA)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each side per pair")
    parser.add_argument("--requests", type=int, default=30, help="My week requests per pair")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    parser.add_argument("--explain", action="store_true", help="print both plans")
    parser.add_argument("--note", default="", help="said beside the figures (e.g. busy machine)")
    args = parser.parse_args()
    os.environ.pop("REDIS_URL", None)
    fresh_database(DB, ALLOWED_HOSTS="testserver")
    try:
        migrate()
        from django.db import connection
        from django.db.models import Count
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from leadflow.lib import times
        from leadflow.tenancy.context import tenant_context
        from leads.models import Lead
        from leads.selectors.weekly import current_week, missing_update

        started = time.perf_counter()
        tenant, _, _ = generate_tenant("bench", args.leads, activities=False)
        tenant.timezone = "Europe/Berlin"
        tenant.save()
        week_rep, idle_rep, open_leads, total = _generate(tenant, args.owners)
        print(
            f"generated {total:,} leads ({open_leads:,} accepted/SQL) of {args.owners:,} owners "
            f"in {time.perf_counter() - started:.1f} s"
        )
        tz = times.zone(tenant.timezone)
        week = current_week(tz)

        def figure() -> dict:
            with tenant_context(tenant):
                rows = (
                    missing_update(Lead.objects.all(), week=week, tz=tz)
                    .order_by()
                    .values("rep_id")
                    .annotate(n=Count("*"))
                )
                return {row["rep_id"]: row["n"] for row in rows}

        def baseline() -> dict:
            with tenant_context(tenant), connection.cursor() as cur:
                cur.execute(BASELINE_SQL, [tenant.pk])
                return dict(cur.fetchall())

        if args.explain:
            with tenant_context(tenant):
                query = (
                    missing_update(Lead.objects.all(), week=week, tz=tz)
                    .order_by()
                    .values("rep_id")
                    .annotate(n=Count("*"))
                )
                print(query.explain(analyze=True, buffers=True))
                with connection.cursor() as cur:
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + BASELINE_SQL, [tenant.pk])
                    print("\n".join(row[0] for row in cur.fetchall()))
        missing, owed = figure(), baseline()
        missing_total, owed_total = sum(missing.values()), sum(owed.values())
        print(f"missing this week: {missing_total:,} of {owed_total:,} owed, {len(missing)} owners")
        counted = alternate(
            {
                "figure": lambda run: _timed(figure, args.runs),
                "baseline": lambda run: _timed(baseline, args.runs),
            },
            args.pairs,
        )
        ratio = Ratio.of(counted["figure"], counted["baseline"])

        busy, idle = Client(), Client()
        busy.force_login(week_rep)
        idle.force_login(idle_rep)

        def page(client):
            def call():
                response = client.get("/leads/week/")
                if response.status_code != 200:
                    raise SystemExit(f"/leads/week/: {response.status_code}")
                return response

            return call

        body = page(busy)().content.decode()
        assert f"of <strong data-owed>{WEEK_LEADS}</strong>" in body, "not 80 owed"
        queries = {}
        for name, client in (("busy", busy), ("idle", idle)):
            with CaptureQueriesContext(connection) as captured:
                page(client)()
            queries[name] = len(captured)
        samples: dict[str, list[float]] = {"busy": [], "idle": []}

        def block(client, name):
            def run(_):
                call = page(client)
                for _ in range(args.requests):
                    started = time.perf_counter()
                    call()
                    samples[name].append((time.perf_counter() - started) * 1000)
                return median(samples[name][-args.requests :])

            return run

        pages = alternate({"busy": block(busy, "busy"), "idle": block(idle, "idle")}, args.pairs)
        page_ratio = Ratio.of(pages["busy"], pages["idle"])
        week_median, week_p95 = median(samples["busy"]), p95(samples["busy"])
        page_goal = "met" if week_median < 200 else "NOT met"
        lines = [
            f"{total:,} leads ({open_leads:,} accepted/SQL), {args.owners:,} owners, "
            f"{missing_total:,} missing this week",
            f"  missing_update per owner: {statistics.median(counted['figure']):.1f} ms, "
            f"plain GROUP BY: {statistics.median(counted['baseline']):.1f} ms (medians)",
            f"  ratio {ratio} — goal ≤ 3×, {goal(ratio, at_most=3)}",
            f"  My week, {WEEK_LEADS} leads: {week_median:.1f} / {week_p95:.1f} ms (median / p95), "
            f"no leads: {median(samples['idle']):.1f} ms; ratio {page_ratio}; "
            f"queries {queries['busy']} vs {queries['idle']} — goal < 200 ms, {page_goal}",
        ]
        print("\n".join(lines))
        if not args.no_record:
            note = f" ({args.note})" if args.note else ""
            record(
                HEADING,
                INTRO,
                f"- {today()}{note}, {machine()}: {total:,} leads ({open_leads:,} accepted/SQL) "
                f"of {args.owners:,} owners, {missing_total:,} missing this week; {args.pairs} "
                f"pairs in ABBA order, {args.runs} runs a side a pair — missing_update per "
                f"owner {statistics.median(counted['figure']):.1f} ms vs plain GROUP BY "
                f"{statistics.median(counted['baseline']):.1f} ms: **{ratio}** "
                f"({goal(ratio, at_most=3)}); My week with {WEEK_LEADS} leads "
                f"**{week_median:.1f} ms** median, {week_p95:.1f} ms p95 ({page_goal}), against "
                f"{median(samples['idle']):.1f} ms with none ({page_ratio}); "
                f"{queries['busy']} queries either way.",
            )
    finally:
        drop_database(DB)


if __name__ == "__main__":
    main()
