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
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "leadflow_bench_capture"
HOST = os.environ.get("BENCH_PGHOST", "127.0.0.1:5432")


def _prepare_environment() -> None:
    import psycopg2

    conn = psycopg2.connect(f"postgresql://leadflow_owner@{HOST}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB}")
        cur.execute(f"CREATE DATABASE {DB}")
    conn.close()
    os.environ["DATABASE_URL"] = f"postgres://leadflow_app@{HOST}/{DB}"
    os.environ["DATABASE_OWNER_URL"] = f"postgres://leadflow_owner@{HOST}/{DB}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "leadflow.settings"
    os.environ.setdefault("API_THROTTLE_RATE", "1000000/min")
    os.environ["AXES_ENABLED"] = "0"
    os.environ["ALLOWED_HOSTS"] = "testserver"


def _drop_database() -> None:
    import psycopg2
    from django.db import connections

    connections.close_all()
    conn = psycopg2.connect(f"postgresql://leadflow_owner@{HOST}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB}")
    conn.close()


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
    args = parser.parse_args()
    _prepare_environment()
    import django

    django.setup()
    from django.core.management import call_command

    try:
        call_command("migrate", database="owner", verbosity=0)
        off = _tenant_with_token("scoring-off", scoring_on=False)
        on = _tenant_with_token("scoring-on", scoring_on=True)
        results = {}
        for label, token in (("off", off), ("on", on), ("off-again", off)):
            results[label] = _timings(token, args.requests, label)
        base = results["off"] + results["off-again"]
        p50_off, p50_on = statistics.median(base), statistics.median(results["on"])
        p95 = lambda xs: statistics.quantiles(xs, n=20)[-1]  # noqa: E731
        print(f"capture POST /api/v1/inquiries/, {args.requests} requests per run")
        print(
            f"  scoring off (baseline): p50 {p50_off * 1000:.2f} ms  p95 {p95(base) * 1000:.2f} ms"
        )
        p95_on = p95(results["on"]) * 1000
        print(f"  scoring on:             p50 {p50_on * 1000:.2f} ms  p95 {p95_on:.2f} ms")
        print(f"  ratio on/off (p50): {p50_on / p50_off:.2f}×  (goal ≤ 2×)")
    finally:
        _drop_database()


if __name__ == "__main__":
    main()
