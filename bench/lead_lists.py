"""Benchmark: the manager's list of the team's leads on a tenant with 200,000 leads.

    python bench/lead_lists.py [--leads 200000] [--owners 200] [--requests 50] [--pairs 6]

Creates its own PostgreSQL database ``leadflow_bench_lead_lists`` (dropped first
if it exists, and again at the end) as ``leadflow_owner``, migrates it and
generates one tenant with ``--leads`` inquiries (``common.generate_tenant``, no
activities), each booked: an appointment and a lead, owned by one of
``--owners`` reps (a tenth of them by partners). Stages: 60% accepted, 15% SQL,
10% awaiting acceptance (a fifth of those breached), 15% closed (won, lost,
postponed, no-show). Half the open leads have this week's update, a third a
touch in the last week.

Timed in ``--pairs`` blocks of ``--requests`` requests each (after three
warm-up requests a block), figure and baseline blocks in ABBA order
(``common.alternate``), as a logged-in manager (Django test client, the
runtime role under row-level security), median and p95 in milliseconds:

* the page ``GET /leads/team/`` (no filter: every lead, newest first, with
  owner names, last update week, touches, the total and the four counts of the
  filter bar, capped at 1,000) and ``GET /leads/team/?missing=on`` — goal: first page under 200 ms;
* the API ``GET /api/v1/leads/?missing=true`` (what a partner's integration asks);
* the baseline: ``GET /api/v1/leads/``, the plain list of the same leads (count
  and 50 rows, nothing computed), the bare view the manager's page adds to.

The page's query count is printed for the full tenant; the tests assert it is
the same for 3 and 60 leads (``tests/leads/test_team_page.py``).
``BENCH_SHOW_QUERIES=1`` prints the page's statements with their times.
Appends to ``docs/performance.md``. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import os
import time

from common import (
    Ratio,
    alternate,
    drop_database,
    fresh_database,
    generate_tenant,
    machine,
    median,
    migrate,
    p95,
    record,
    today,
)

DB = "leadflow_bench_lead_lists"
HEADING = "## The team's leads (manager)"
INTRO = (
    "`python bench/lead_lists.py` (see `bench/README.md`): a tenant with 200,000 leads owned "
    "by 200 reps and partners; the manager's page `/leads/team/` unfiltered and filtered to "
    "leads missing this week's update, and `GET /api/v1/leads/?missing=true`, against the "
    "plain `GET /api/v1/leads/` (count and 50 rows) in the same run, as the runtime role "
    "under row-level security. Goal: first page under 200 ms; the page's query count does "
    "not depend on the number of leads. Each run appends its figures here."
)

APPOINTMENTS_SQL = """
INSERT INTO inquiries_appointment (
    tenant_id, inquiry_id, starts_at, duration_minutes, location, notes, message_to_buyer,
    uid, sequence, created_at, cancel_reason)
SELECT %(tenant)s, i.id, now() + (i.id %% 30 - 15) * interval '1 day', 30, '', '', '',
    'bench-' || i.id, 0, now() - (i.id %% 120) * interval '1 day', ''
FROM inquiries_inquiry i WHERE i.tenant_id = %(tenant)s
"""

LEADS_SQL = """
INSERT INTO leads_lead (
    tenant_id, inquiry_id, appointment_id, stage, rep_id, partner_id, profile, score,
    score_breakdown, created_at, assigned_at, acceptance_due_at, accepted_at, breached_at,
    closed_at, reject_kind, reject_reason, budget, authority, need, timeline, lost_reason,
    next_step)
SELECT %(tenant)s, a.inquiry_id, a.id, s.stage,
    CASE WHEN a.inquiry_id %% 10 = 0 THEN NULL
         ELSE (%(reps)s::bigint[])[1 + a.inquiry_id %% %(owners)s] END,
    CASE WHEN a.inquiry_id %% 10 = 0
         THEN (%(partners)s::bigint[])[1 + a.inquiry_id %% %(partner_count)s] END,
    jsonb_build_object('first_name', 'Pat', 'last_name', 'Buyer' || a.inquiry_id,
                       'company', 'Company ' || (a.inquiry_id %% 50000)),
    a.inquiry_id %% 80, '[]'::jsonb, a.created_at, a.created_at,
    a.created_at + interval '2 days',
    CASE WHEN s.stage IN ('accepted', 'sql') THEN a.created_at + interval '1 day' END,
    CASE WHEN s.stage = 'awaiting_acceptance' AND a.inquiry_id %% 5 = 0
         THEN a.created_at + interval '2 days' END,
    CASE WHEN s.stage IN ('won', 'lost', 'postponed', 'no_show') THEN now() END,
    '', '', '', '', '', '', '', ''
FROM inquiries_appointment a
CROSS JOIN LATERAL (SELECT CASE
    WHEN a.inquiry_id %% 20 < 12 THEN 'accepted'
    WHEN a.inquiry_id %% 20 < 15 THEN 'sql'
    WHEN a.inquiry_id %% 20 < 17 THEN 'awaiting_acceptance'
    ELSE (ARRAY['won', 'lost', 'postponed', 'no_show'])[1 + a.inquiry_id %% 4] END AS stage) s
WHERE a.tenant_id = %(tenant)s
"""

UPDATES_SQL = """
INSERT INTO leads_weeklyupdate (
    tenant_id, lead_id, week, status, note, late, created_at, user_id)
SELECT %(tenant)s, l.id, %(week)s, 'progress', '', false, now(), l.rep_id
FROM leads_lead l
WHERE l.tenant_id = %(tenant)s AND l.stage IN ('accepted', 'sql') AND l.id %% 2 = 0
"""

TOUCHES_SQL = """
INSERT INTO leads_touch (
    tenant_id, inquiry_id, lead_id, user_id, kind, outcome, note, at, created_at)
SELECT %(tenant)s, l.inquiry_id, l.id, l.rep_id, 'call', 'no_answer', '',
    now() - (l.id %% 7) * interval '1 day', now()
FROM leads_lead l
WHERE l.tenant_id = %(tenant)s AND l.stage IN ('accepted', 'sql', 'awaiting_acceptance')
  AND l.id %% 3 = 0
"""


def _time(call, requests: int) -> list[float]:
    for _ in range(3):
        call()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _get(client, url: str, **params):
    def call():
        response = client.get(url, params)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.content[:300]!r}")
        return response

    return call


def _people(tenant, owners: int):
    """The manager (with a token) and ``owners`` reps; a tenth as many partners."""
    from leadflow.tenancy import services
    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.principal import Principal

    by = Principal.system(tenant, "bench")
    with tenant_context(tenant):
        manager = services.add_member(email="manager@leads.bench", role="manager", by=by)
        token = services.issue_user_token(membership=manager, by=by).secret
        reps = [
            services.add_member(email=f"rep{n}@leads.bench", role="rep", by=by).user_id
            for n in range(owners)
        ]
        partners = [
            services.create_partner(name=f"Partner {n}", kind="dealer", by=by).pk
            for n in range(max(1, owners // 10))
        ]
    return manager.user, token, reps, partners


def _generate(tenant, reps: list[int], partners: list[int]) -> None:
    from django.db import connections, transaction

    from leadflow.lib import times
    from leadflow.tenancy.context import tenant_context
    from leads.selectors import weekly

    week = weekly.current_week(times.zone(tenant.timezone))
    params = {
        "tenant": tenant.pk,
        "reps": reps,
        "owners": len(reps),
        "partners": partners,
        "partner_count": len(partners),
        "week": week,
    }
    owner = connections["owner"]
    with tenant_context(tenant), transaction.atomic(using="owner"), owner.cursor() as cur:
        for sql in (APPOINTMENTS_SQL, LEADS_SQL, UPDATES_SQL, TOUCHES_SQL):
            cur.execute(sql, params)
    with owner.cursor() as cur:
        for table in ("inquiries_appointment", "leads_lead", "leads_weeklyupdate", "leads_touch"):
            cur.execute(f"VACUUM ANALYZE {table}")


def _queries(call) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    if os.environ.get("BENCH_SHOW_QUERIES"):
        print("\n".join(f"{q['time']} s  {q['sql'][:150]}" for q in captured.captured_queries))
    # Outside a test each query of a tenant runs in its own BEGIN/COMMIT: count the statements.
    return sum(1 for q in captured.captured_queries if q["sql"] not in ("BEGIN", "COMMIT"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--owners", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50, help="requests per block")
    parser.add_argument("--pairs", type=int, default=6, help="blocks of figure and baseline")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    args = parser.parse_args()
    os.environ.pop("REDIS_URL", None)
    fresh_database(DB, ALLOWED_HOSTS="testserver")
    try:
        migrate()
        started = time.perf_counter()
        tenant, _, _ = generate_tenant("bench", args.leads, activities=False)
        user, token, reps, partners = _people(tenant, args.owners)
        _generate(tenant, reps, partners)
        print(f"generated {args.leads:,} leads in {time.perf_counter() - started:.1f} s")
        from django.test import Client
        from rest_framework.test import APIClient

        browser = Client()
        browser.force_login(user)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

        calls = {
            "page": _get(browser, "/leads/team/"),
            "page_missing": _get(browser, "/leads/team/", missing="on"),
            "api_missing": _get(api, "/api/v1/leads/", missing="true"),
        }
        baseline = _get(api, "/api/v1/leads/")
        page_queries = _queries(calls["page"])
        _queries(calls["page_missing"])
        missing_rows = calls["api_missing"]().json()["count"]
        block, pairs = args.requests, args.pairs
        timed = {}
        for name, call in calls.items():
            result = alternate(
                {
                    "figure": lambda run, call=call: _time(call, block),
                    "base": lambda run: _time(baseline, block),
                },
                pairs,
            )
            timed[name] = (result["figure"], result["base"])

        def flat(blocks: list[list[float]]) -> list[float]:
            return [x for one in blocks for x in one]

        labels = {
            "page": "page /leads/team/ (no filter), first page",
            "page_missing": "page /leads/team/?missing=on, first page",
            "api_missing": "API /api/v1/leads/?missing=true, first page",
        }
        lines = [
            f"{args.leads:,} leads, {len(reps)} reps, {len(partners)} partners, "
            f"{missing_rows:,} missing this week; {pairs} blocks of {block} requests each way "
            "(ABBA), median / p95:"
        ]
        entries = []
        slowest = 0.0
        for name, (figure, base) in timed.items():
            ratio = Ratio.of([median(b) for b in figure], [median(b) for b in base])
            fig, bas = flat(figure), flat(base)
            if name.startswith("page"):
                slowest = max(slowest, p95(fig))
            text = (
                f"{labels[name]} {median(fig):.1f} / {p95(fig):.1f} ms vs the plain list "
                f"{median(bas):.1f} / {p95(bas):.1f} ms: {ratio}"
            )
            lines.append("  " + text)
            entries.append(text)
        verdict = "met" if slowest < 200 else "NOT met"
        lines.append(f"  page p95 (slower of the two): {slowest:.1f} ms — goal < 200 ms, {verdict}")
        lines.append(
            f"  page queries at {args.leads:,} leads: {page_queries} (tests: 7 at 3 and 60)"
        )
        print("\n".join(lines))
        if not args.no_record:
            record(
                HEADING,
                INTRO,
                f"- {today()}, {machine()}: {args.leads:,} leads, {len(reps)} reps, "
                f"{len(partners)} partners, {missing_rows:,} missing; {pairs} blocks of "
                f"{block} requests each way in ABBA order, median / p95 — "
                + "; ".join(entries)
                + f". **Page p95 {slowest:.1f} ms ({verdict}); {page_queries} queries "
                f"whatever the rows.**",
            )
    finally:
        drop_database(DB)


if __name__ == "__main__":
    main()
