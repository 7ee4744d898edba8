"""Benchmark: the single-inquiry capture path with scoring on vs off.

    python bench/capture.py [--requests 400]

Runs in-process through Django's test client (the whole middleware, auth,
idempotency-free path and the API view) against a fresh PostgreSQL database
``leadflow_bench_capture`` as the runtime role under row-level security. The
baseline is the same endpoint for a tenant with no active lead definition
(scoring switched off); the figure is the tenant with the articles' template
definition active. Prints p50 and p95 of both and the ratio of the p50s
(goal: ≤ 2×). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import drop_database, fresh_database, machine, migrate, p95, record, today

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
    parser.add_argument("--requests", type=int, default=400)
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
        results = {}
        for label, token in (("off", off), ("on", on), ("off-again", off)):
            results[label] = _timings(token, args.requests, label)
        base = results["off"] + results["off-again"]
        p50_off, p50_on = statistics.median(base), statistics.median(results["on"])
        print(f"capture POST /api/v1/inquiries/, {args.requests} requests per run")
        print(
            f"  scoring off (baseline): p50 {p50_off * 1000:.2f} ms  p95 {p95(base) * 1000:.2f} ms"
        )
        p95_on = p95(results["on"]) * 1000
        print(f"  scoring on:             p50 {p50_on * 1000:.2f} ms  p95 {p95_on:.2f} ms")
        print(f"  ratio on/off (p50): {p50_on / p50_off:.2f}×  (goal ≤ 2×)")
        if not args.no_record:
            record(
                HEADING,
                INTRO,
                f"- {today()}, {machine()}: {args.requests} requests per run — scoring off "
                f"p50 {p50_off * 1000:.2f} ms (p95 {p95(base) * 1000:.2f} ms), scoring on "
                f"p50 {p50_on * 1000:.2f} ms (p95 {p95_on:.2f} ms), "
                f"**ratio {p50_on / p50_off:.2f}×**.",
            )
    finally:
        drop_database(DB)


if __name__ == "__main__":
    main()
