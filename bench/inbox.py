"""Benchmark: the triage inbox on a tenant with a million inquiries (keyset pages, RLS, counts).

    python bench/inbox.py [--rows 1000000] [--requests 30] [--depth 2000] [--explain]

Creates its own PostgreSQL database ``leadflow_bench_inbox`` (dropped first if
it exists, and again at the end) as ``leadflow_owner``, migrates it and
generates one tenant with ``--rows`` inquiries (``common.generate_tenant``,
no activities: the inbox does not read them; 10% MQLs, 90% in nurture).

The query throughout is the triage view "MQLs, highest score first"
(``stage=mql&sort=score``). Timed, ``--requests`` times each after three
warm-up requests, median and p95 in milliseconds:

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
  ships, then after marking the three functions of the search qual
  ``LEAKPROOF`` in this database (``SEARCH_FUNCTIONS``): under row-level
  security PostgreSQL uses the GIN index only for a leakproof qual.

Prints raw numbers and ratios and appends them to ``docs/performance.md``.
Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import os
import time

from common import (
    HOST,
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


def _sql_timings(tenant, depth: int, requests: int, explain: bool):
    """Keyset vs OFFSET at ``depth``, and the first page under RLS vs as the superuser."""
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

    results = {
        "sql_first_app": _time(as_app(first_sql), requests),
        "sql_first_superuser": _time(as_superuser(first_sql), requests),
        "sql_deep_keyset": _time(as_app(keyset_sql), requests),
        "sql_deep_offset": _time(as_app(offset_sql), requests),
    }
    if explain:
        for name, (sql, params) in (
            ("first page (superuser)", first_sql),
            ("deep keyset (superuser)", keyset_sql),
        ):
            with superuser.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                print(f"--- {name}\n" + "\n".join(row[0] for row in cur.fetchall()))
    superuser.close()
    return results, cursor_text


def _mark_leakproof() -> None:
    """Mark the search functions LEAKPROOF in this throw-away database (superuser only)."""
    import psycopg2

    superuser = psycopg2.connect(f"postgresql://postgres@{HOST}/{DB}")
    superuser.autocommit = True
    with superuser.cursor() as cur:
        for function in SEARCH_FUNCTIONS:
            cur.execute(f"ALTER FUNCTION {function} LEAKPROOF")
    superuser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
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

        sql, deep_cursor = _sql_timings(tenant, args.depth, args.requests, args.explain)
        n = args.requests
        samples = {
            "page_first": _time(_get(browser, "/inquiries/", **QUERY), n),
            "page_default": _time(_get(browser, "/inquiries/"), n),
            "api_first": _time(_get(api, "/api/v1/inquiries/", **QUERY), n),
            "api_deep": _time(_get(api, "/api/v1/inquiries/", **QUERY, cursor=deep_cursor), n),
            **sql,
        }
        search_requests = max(3, n // 6)
        samples["search_stock"] = _time(_get(browser, "/inquiries/", **SEARCH), search_requests)
        _mark_leakproof()
        samples["search_leakproof"] = _time(_get(browser, "/inquiries/", **SEARCH), n)
        deep = _get(api, "/api/v1/inquiries/", **QUERY, cursor=deep_cursor)().json()
        assert len(deep["results"]) == PAGE_SIZE, "the deep page is not full"

        def fmt(name: str) -> str:
            return f"{median(samples[name]):7.1f} / {p95(samples[name]):7.1f} ms"

        def ratio(a: str, b: str, stat=p95) -> float:
            return stat(samples[a]) / stat(samples[b])

        labels = {
            "page_first": "page /inquiries/?stage=mql&sort=score, first page",
            "page_default": "page /inquiries/ (newest first, no filter)",
            "api_first": "API ?stage=mql&sort=score, first page",
            "api_deep": f"API same, page {args.depth:,} by cursor",
            "sql_first_app": "SQL first page, leadflow_app under RLS",
            "sql_first_superuser": "SQL first page, postgres (bypasses RLS)",
            "sql_deep_keyset": f"SQL page {args.depth:,}, keyset (row comparison)",
            "sql_deep_offset": f"SQL page {args.depth:,}, OFFSET {(args.depth - 1) * PAGE_SIZE:,}",
            "search_stock": "page ?q=buyer123456 (1 match), stock PostgreSQL",
            "search_leakproof": "page same, search functions LEAKPROOF",
        }
        lines = [f"{args.rows:,} inquiries, {n} requests each, median / p95:"]
        lines += [f"  {labels[name]:<52} {fmt(name)}" for name in labels]
        deep_ratio = ratio("api_deep", "api_first")
        rls_ratio = ratio("sql_first_app", "sql_first_superuser", median)
        offset_ratio = ratio("sql_deep_offset", "sql_deep_keyset", median)
        lines += [
            f"  deep/first page (API, p95): {deep_ratio:.2f}×  (goal ≤ 1.5×)",
            f"  RLS/superuser (SQL first page, median): {rls_ratio:.2f}×  (goal ≤ 1.1×)",
            f"  OFFSET/keyset at page {args.depth:,} (SQL, median): {offset_ratio:.1f}×",
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
                f"- {today()}, {machine()}: {args.rows:,} inquiries, {n} requests each, "
                f"median / p95 — {figures}. **Deep/first (API p95) {deep_ratio:.2f}×, "
                f"RLS/superuser {rls_ratio:.2f}×, OFFSET/keyset {offset_ratio:.1f}×.**",
            )
    finally:
        drop_database(DB)


if __name__ == "__main__":
    main()
