"""Benchmark: the single-inquiry capture path with scoring on vs off.

    python bench/capture.py [--requests 100] [--pairs 6]

Runs in-process through Django's test client (the whole middleware, auth,
idempotency-free path and the API view) against a fresh PostgreSQL database
``leadflow_bench_capture`` as the runtime role under row-level security. The
baseline is the same endpoint for a tenant with no active lead definition
(scoring switched off); the figure is the tenant with the articles' template
definition active. The two are timed in ``--pairs`` blocks of ``--requests``
each, in ABBA order (``common.alternate``); prints p50 and p95 of both and the
median of the per-block p50 ratios with their range (goal: ≤ 2×). Not part of `make test`.
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
    p95,
    record,
    today,
)

DB = "leadflow_bench_capture"
HEADING = "## Capturing one inquiry"
INTRO = (
    "`python bench/capture.py`: `POST /api/v1/inquiries/` in-process through the whole "
    "middleware stack as the runtime role under row-level security, for a tenant with the "
    "articles' template definition active (scoring on) against a tenant with no active "
    "definition (scoring off), alternated in one run. Goal: p50 with scoring ≤ 2× without."
)


def _tenant_with_token(slug: str, *, scoring_on: bool) -> str:
    from inquiries.models import DefinitionStatus, LeadDefinition
    from inquiries.services import definitions
    from leadflow.tenancy import services
    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.principal import Principal

    tenant = services.create_tenant(slug=slug, name=slug)
    by = Principal.system(tenant, "bench")
    with tenant_context(tenant):
        member = services.add_member(email=f"marketer@{slug}.bench", role="marketer", by=by)
        token = services.issue_user_token(membership=member, by=by).secret
        if scoring_on:
            draft = definitions.create_draft(by=by)
            LeadDefinition.objects.filter(pk=draft.pk).update(status=DefinitionStatus.ACTIVE)
    return token


def _timings(token: str, requests: int, tag: str) -> list[float]:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    samples = []
    for n in range(requests):
        body = {
            "email": f"buyer{n}@{tag}.bench",
            "title": "VP Operations",
            "company_size": 250,
            "industry": "manufacturing",
            "country": "US",
            "timeline": "0-3m",
        }
        started = time.perf_counter()
        response = client.post("/api/v1/inquiries/", body, format="json")
        samples.append(time.perf_counter() - started)
        if response.status_code != 201:
            raise SystemExit(f"unexpected {response.status_code}: {response.content[:200]!r}")
    return samples[requests // 10 :]  # the first tenth warms caches and connections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="requests per block")
    parser.add_argument("--pairs", type=int, default=6, help="blocks each way (ABBA)")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    args = parser.parse_args()
    fresh_database(
        DB,
        API_THROTTLE_RATE="1000000/min",
        AXES_ENABLED="0",
        ALLOWED_HOSTS="testserver",
    )
    try:
        migrate()
        off = _tenant_with_token("scoring-off", scoring_on=False)
        on = _tenant_with_token("scoring-on", scoring_on=True)
        block = args.requests
        timed = alternate(
            {
                "on": lambda run: _timings(on, block, f"on{run}"),
                "off": lambda run: _timings(off, block, f"off{run}"),
            },
            args.pairs,
        )
        ratio = Ratio.of(
            [statistics.median(b) for b in timed["on"]],
            [statistics.median(b) for b in timed["off"]],
        )
        base = [x for b in timed["off"] for x in b]
        scored = [x for b in timed["on"] for x in b]
        p50_off, p50_on = statistics.median(base), statistics.median(scored)
        p95_off, p95_on = p95(base) * 1000, p95(scored) * 1000
        print(
            f"capture POST /api/v1/inquiries/, {args.pairs} blocks of {block} requests each "
            "way in ABBA order (the first tenth of each block warms up)"
        )
        print(f"  scoring off (baseline): p50 {p50_off * 1000:.2f} ms  p95 {p95_off:.2f} ms")
        print(f"  scoring on:             p50 {p50_on * 1000:.2f} ms  p95 {p95_on:.2f} ms")
        print(f"  on/off, median of the per-block p50 ratios: {ratio} — goal ≤ 2×, "
              f"{goal(ratio, at_most=2)}")  # fmt: skip
        if not args.no_record:
            record(
                HEADING,
                INTRO,
                f"- {today()}, {machine()}: {args.pairs} blocks of {block} requests each way "
                f"in ABBA order — scoring off p50 {p50_off * 1000:.2f} ms (p95 {p95_off:.2f} "
                f"ms), scoring on p50 {p50_on * 1000:.2f} ms (p95 {p95_on:.2f} ms), "
                f"**per-block p50 ratio {ratio}** ({goal(ratio, at_most=2)}).",
            )
    finally:
        drop_database(DB)


if __name__ == "__main__":
    main()
