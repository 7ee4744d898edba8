"""Benchmark: the triage inbox on a tenant with a million inquiries (keyset pages, RLS, counts).

    python bench/inbox.py [--rows 1000000] [--requests 100] [--pairs 6] [--depth 2000] [--explain]

Creates its own PostgreSQL database ``leadflow_bench_inbox`` (dropped first if
it exists, and again at the end) as ``leadflow_owner``, migrates it and
generates one tenant with ``--rows`` inquiries (``common.generate_tenant``,
no activities: the inbox does not read them; 10% MQLs, 90% in nurture).

The query throughout is the triage view "MQLs, highest score first"
(``stage=mql&sort=score``). Each figure and its baseline are timed in
``--pairs`` blocks of ``--requests`` requests (after three warm-up requests a
block), the blocks in ABBA order (``common.alternate``): a ratio is the median
of the per-block ratios with their range, and a p95 rests on a hundred
samples a block (600 in all), not one sample in thirty. Median and p95 in
milliseconds:

* the inbox page ``GET /inquiries/?stage=mql&sort=score`` (Django test client,
  a logged-in marketer, as ``leadflow_app`` under row-level security): first
  page, with the capped counts per stage; and the unfiltered default page;
* the API ``GET /api/v1/inquiries/?stage=mql&sort=score`` (bearer token):
  first page, and page ``--depth`` by cursor (keyset) — goal: deep p95 ≤ 1.5×
  the first page's;
* the page query alone in SQL at the same depth: keyset (row comparison on
  ``(score, id)``) against ``OFFSET`` for contrast;
* the first page's SQL as ``leadflow_app`` under RLS (tenant set with
  ``set_config`` in the transaction) against the superuser ``postgres``, which
  bypasses RLS, running the same SQL with its explicit ``tenant_id`` filter —
  goal: ≤ 1.1×;
* a selective full-text search (one match) on the page, first as PostgreSQL
  ships (checked in ``pg_proc.proleakproof`` before it is called stock, and
  reset if ``template1`` carried marks in), then after marking the three
  functions of the search qual ``LEAKPROOF`` in this database
  (``SEARCH_FUNCTIONS``): under row-level security PostgreSQL uses the GIN
  index only for a leakproof qual.

Prints raw numbers and ratios and appends them to ``docs/performance.md``.
Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import os
import time

from common import (
    HOST,
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

DB = "leadflow_bench_inbox"
HEADING = "## Triage inbox"
INTRO = (
    "`python bench/inbox.py` (see `bench/README.md`): a tenant with a million inquiries; "
    "the inbox page and `GET /api/v1/inquiries/` filtered to MQLs and sorted by score, "
    "as the runtime role under row-level security. Goals: first page under 200 ms; a deep "
    "page by cursor (keyset) p95 ≤ 1.5× the first page's (OFFSET at the same depth shown "
    "for contrast); the page's SQL under RLS ≤ 1.1× the superuser running it with its "
    'explicit `tenant_id` filter. Counts are capped at 10,000 ("10,000+"), never an exact '
    "`COUNT(*)` of the tenant. A selective full-text search is timed as PostgreSQL ships "
    "and with its functions marked `LEAKPROOF` (under row-level security only a leakproof "
    "qual may use the GIN index). Each run appends its figures here."
)
QUERY = {"stage": "mql", "sort": "score"}
SEARCH = {"q": "buyer123456"}  # one match: a selective search
# What the full-text qual calls on the row's columns. None is LEAKPROOF in a stock
# PostgreSQL, so under row-level security the planner may not use the GIN index
# for it (the policy's qual must run first) and reads the whole tenant.
SEARCH_FUNCTIONS = [
    "pg_catalog.ts_match_vq(tsvector, tsquery)",
    "pg_catalog.to_tsvector(regconfig, text)",
    "pg_catalog.textcat(text, text)",
]
PAGE_SIZE = 50


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


def _setup_people(tenant):
    from leadflow.tenancy import services
    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.principal import Principal

    by = Principal.system(tenant, "bench")
    with tenant_context(tenant):
        member = services.add_member(email="marketer@inbox.bench", role="marketer", by=by)
        token = services.issue_user_token(membership=member, by=by).secret
    return member.user, token


def _page_queryset(tenant):
    """The API's filtered queryset for QUERY, as the inbox builds it (in the tenant's scope)."""
    from django.http import QueryDict

    from inquiries.selectors.inbox import InboxFilter
    from inquiries.selectors.inquiries import inquiry_list

    bound = InboxFilter(QueryDict("stage=mql"), queryset=inquiry_list().filter(tenant_id=tenant.pk))
    assert bound.is_valid(), bound.errors
    return bound.qs


def _rows(tenant):
    from inquiries.selectors.inquiries import inquiry_list

    return inquiry_list().filter(tenant_id=tenant.pk).select_related("assigned_to")


def _deep_cursor(tenant, depth: int) -> str:
    from inquiries.selectors.inbox import SORTS, encode_cursor
    from leadflow.tenancy.context import tenant_context

    sort = SORTS["score"]
    with tenant_context(tenant):
        last = _page_queryset(tenant).order_by(*sort.order_by())[(depth - 1) * PAGE_SIZE - 1]
        return encode_cursor(sort, last)


def _sql(queryset) -> tuple[str, tuple]:
    return queryset.query.get_compiler(using=queryset.db).as_sql()


def _sql_calls(tenant, depth: int, explain: bool):
    """Keyset vs OFFSET at ``depth``, and the first page under RLS vs as the superuser:
    the calls to time, the deep cursor, and what closes the superuser's connection."""
    import psycopg2
    from django.db import connection, transaction

    from inquiries.selectors.inbox import SORTS, keyset_queryset
    from leadflow.tenancy.context import tenant_context

    sort = SORTS["score"]
    cursor_text = _deep_cursor(tenant, depth)
    with tenant_context(tenant):
        base, rows = _page_queryset(tenant), _rows(tenant)

        def page(**kwargs):
            return _sql(keyset_queryset(base, sort=sort, size=PAGE_SIZE, rows_from=rows, **kwargs))

        first_sql = page(cursor=None)
        keyset_sql = page(cursor=cursor_text)
        offset_sql = page(cursor=None, offset=(depth - 1) * PAGE_SIZE)

    def as_app(sql_params):
        sql, params = sql_params

        def call():
            with tenant_context(tenant), transaction.atomic(), connection.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall()
            assert rows, "no rows under RLS"

        return call

    superuser = psycopg2.connect(f"postgresql://postgres@{HOST}/{DB}")
    superuser.autocommit = True

    def as_superuser(sql_params):
        sql, params = sql_params

        def call():
            with superuser.cursor() as cur:
                cur.execute(sql, params)
                assert cur.fetchall()

        return call

    calls = {
        "sql_first_app": as_app(first_sql),
        "sql_first_superuser": as_superuser(first_sql),
        "sql_deep_keyset": as_app(keyset_sql),
        "sql_deep_offset": as_app(offset_sql),
    }
    if explain:
        for name, (sql, params) in (
            ("first page (superuser)", first_sql),
            ("deep keyset (superuser)", keyset_sql),
        ):
            with superuser.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                print(f"--- {name}\n" + "\n".join(row[0] for row in cur.fetchall()))
    return calls, cursor_text, superuser.close


def _leakproof() -> dict[str, bool]:
    """Which of the search functions this database has marked LEAKPROOF (pg_proc.proleakproof).

    A new database is a copy of ``template1``: if someone marked them there, the
    "stock" figure would not be stock, so the run checks before it claims it."""
    import psycopg2

    conn = psycopg2.connect(f"postgresql://postgres@{HOST}/{DB}")
    with conn.cursor() as cur:
        cur.execute(
            "SELECT p.oid::regprocedure::text, p.proleakproof FROM pg_proc p "
            "WHERE p.oid = ANY(%s::regprocedure[])",
            [SEARCH_FUNCTIONS],
        )
        marked = dict(cur.fetchall())
    conn.close()
    if len(marked) != len(SEARCH_FUNCTIONS):
        raise SystemExit(f"search functions not found: {SEARCH_FUNCTIONS} -> {marked}")
    return marked


def _mark_leakproof(leakproof: bool = True) -> None:
    """Mark the search functions (NOT) LEAKPROOF in this throw-away database (superuser only)."""
    import psycopg2

    superuser = psycopg2.connect(f"postgresql://postgres@{HOST}/{DB}")
    superuser.autocommit = True
    with superuser.cursor() as cur:
        for function in SEARCH_FUNCTIONS:
            cur.execute(f"ALTER FUNCTION {function} {'' if leakproof else 'NOT '}LEAKPROOF")
    superuser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100, help="requests per block")
    parser.add_argument(
        "--pairs", type=int, default=6, help="blocks of figure and of baseline (ABBA)"
    )
    parser.add_argument("--depth", type=int, default=2000, help="the deep page's number")
    parser.add_argument("--explain", action="store_true", help="print the plans")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    args = parser.parse_args()
    os.environ.pop("REDIS_URL", None)
    fresh_database(DB, ALLOWED_HOSTS="testserver")
    try:
        migrate()
        started = time.perf_counter()
        tenant, _, _ = generate_tenant("bench", args.rows, activities=False)
        print(f"generated {args.rows:,} inquiries in {time.perf_counter() - started:.1f} s")
        from django.test import Client
        from rest_framework.test import APIClient

        user, token = _setup_people(tenant)
        browser = Client()
        browser.force_login(user)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

        sql, deep_cursor, close_superuser = _sql_calls(tenant, args.depth, args.explain)
        block, pairs = args.requests, args.pairs

        def blocks(figure, baseline) -> tuple[list[list[float]], list[list[float]]]:
            """``pairs`` blocks of ``block`` requests each, figure and baseline in ABBA order."""
            timed = alternate(
                {
                    "figure": lambda run: _time(figure, block),
                    "base": lambda run: _time(baseline, block),
                },
                pairs,
            )
            return timed["figure"], timed["base"]

        page_first = _get(browser, "/inquiries/", **QUERY)
        api_first = _get(api, "/api/v1/inquiries/", **QUERY)
        api_deep = _get(api, "/api/v1/inquiries/", **QUERY, cursor=deep_cursor)
        measured = {
            ("api_deep", "api_first"): blocks(api_deep, api_first),
            ("page_first", "page_default"): blocks(page_first, _get(browser, "/inquiries/")),
            ("sql_first_app", "sql_first_superuser"): blocks(
                sql["sql_first_app"], sql["sql_first_superuser"]
            ),
            ("sql_deep_offset", "sql_deep_keyset"): blocks(
                sql["sql_deep_offset"], sql["sql_deep_keyset"]
            ),
        }
        close_superuser()
        samples = {}
        per_pair = {}
        for (a, b), (a_blocks, b_blocks) in measured.items():
            samples[a] = [x for one in a_blocks for x in one]
            samples[b] = [x for one in b_blocks for x in one]
            per_pair[a] = a_blocks
            per_pair[b] = b_blocks
        stock = _leakproof()
        reset = [name for name, marked in stock.items() if marked]
        if reset:
            # template1 carried the marks into this database: put it back as PostgreSQL ships.
            _mark_leakproof(False)
            if any(_leakproof().values()):
                raise SystemExit("could not restore the search functions to NOT LEAKPROOF")
        samples["search_stock"] = _time(_get(browser, "/inquiries/", **SEARCH), 3)
        _mark_leakproof()
        if not all(_leakproof().values()):
            raise SystemExit("marking the search functions LEAKPROOF did not take")
        samples["search_leakproof"] = _time(_get(browser, "/inquiries/", **SEARCH), block)
        deep = api_deep().json()
        assert len(deep["results"]) == PAGE_SIZE, "the deep page is not full"

        def fmt(name: str) -> str:
            return f"{median(samples[name]):7.1f} / {p95(samples[name]):7.1f} ms"

        def per_pair_ratio(a: str, b: str, stat) -> Ratio:
            return Ratio.of([stat(x) for x in per_pair[a]], [stat(x) for x in per_pair[b]])

        labels = {
            "page_first": "page /inquiries/?stage=mql&sort=score, first page",
            "page_default": "page /inquiries/ (newest first, no filter)",
            "api_first": "API ?stage=mql&sort=score, first page",
            "api_deep": f"API same, page {args.depth:,} by cursor",
            "sql_first_app": "SQL first page, leadflow_app under RLS",
            "sql_first_superuser": "SQL first page, postgres (bypasses RLS)",
            "sql_deep_keyset": f"SQL page {args.depth:,}, keyset (row comparison)",
            "sql_deep_offset": f"SQL page {args.depth:,}, OFFSET {(args.depth - 1) * PAGE_SIZE:,}",
            "search_stock": "page ?q=buyer123456 (1 match), stock PostgreSQL (3 requests)",
            "search_leakproof": "page same, search functions LEAKPROOF",
        }
        n = pairs * block
        deep_ratio = per_pair_ratio("api_deep", "api_first", p95)
        deep_median = per_pair_ratio("api_deep", "api_first", median)
        rls_ratio = per_pair_ratio("sql_first_app", "sql_first_superuser", median)
        offset_ratio = per_pair_ratio("sql_deep_offset", "sql_deep_keyset", median)
        first_p95 = max(p95(samples["page_first"]), p95(samples["api_first"]))
        first_goal = "met" if first_p95 < 200 else "NOT met"
        stock_note = (
            f"; template1 had {', '.join(reset)} LEAKPROOF, reset to NOT LEAKPROOF here"
            if reset
            else "; checked NOT LEAKPROOF in pg_proc before timing"
        )
        lines = [
            f"{args.rows:,} inquiries, {n} requests each ({pairs} blocks of {block} in ABBA "
            "order), median / p95 over all blocks:"
        ]
        lines += [f"  {labels[name]:<62} {fmt(name)}" for name in labels]
        lines += [
            f"  first page p95 (page and API, the slower): {first_p95:.1f} ms — goal < 200 ms, "
            f"{first_goal}",
            f"  deep/first page (API), per-block p95 ratio: {deep_ratio} — goal ≤ 1.5×, "
            f"{goal(deep_ratio, at_most=1.5)}; per-block median ratio {deep_median}",
            f"  RLS/superuser (SQL first page, per-block median): {rls_ratio} — goal ≤ 1.1×, "
            f"{goal(rls_ratio, at_most=1.1)}",
            f"  OFFSET/keyset at page {args.depth:,} (SQL, per-block median): {offset_ratio}",
            f"  search functions in the stock run{stock_note}",
        ]
        print("\n".join(lines))
        if not args.no_record:
            figures = "; ".join(
                f"{labels[name]} {median(samples[name]):.1f} / {p95(samples[name]):.1f} ms"
                for name in labels
            )
            record(
                HEADING,
                INTRO,
                f"- {today()}, {machine()}: {args.rows:,} inquiries, {n} requests each in "
                f"{pairs} blocks of {block}, figure and baseline blocks in ABBA order, median "
                f"/ p95 — {figures}. **First page p95 {first_p95:.1f} ms ({first_goal}); "
                f"deep/first (API, per-block p95) {deep_ratio} "
                f"({goal(deep_ratio, at_most=1.5)}; per-block median {deep_median}); "
                f"RLS/superuser {rls_ratio} ({goal(rls_ratio, at_most=1.1)}); OFFSET/keyset "
                f"{offset_ratio}**{stock_note}.",
            )
    finally:
        drop_database(DB)


if __name__ == "__main__":
    main()
