"""Benchmark: a partner's update endpoint served by gunicorn, under load from another process.

    python bench/partner_api.py [--seconds 8] [--pairs 4] [--concurrency 8] [--workers 2]
                                [--leads 2000] [--no-record] [--keep]

Creates its own PostgreSQL database ``leadflow_bench_partner_api`` (dropped
first if it exists, and again at the end), migrates it and generates one tenant
(Europe/Berlin) whose partner owns ``--leads`` accepted leads, with an API key
for the partner (all before timing). Then starts gunicorn (``--workers`` sync
workers, the app's WSGI application, as the runtime role under row-level
security) on a free loopback port and drives it from another process — this
script run with ``--drive``: ``--concurrency`` threads, one HTTP/1.1 request at
a time each, for ``--seconds`` (bounded in time, not in requests). Three loads,
in ``--pairs`` rounds in ABBA order (``common.alternate``):

* update — ``POST /api/v1/leads/{id}/updates/`` with the partner's key, a
  progress update with a note, the leads taken in turn (the whole stack:
  middleware, bearer key, throttle, the lead's visibility, the service's row
  lock, checks and writes, the audit row);
* update + key — the same, each request with a new ``Idempotency-Key`` (its
  claim and its stored answer are two more transactions);
* bare — a bare DRF view (``bench/partner_api_urls.py``: no authentication,
  permission or throttle) that inserts one row, the same body.

Prints throughput (2xx answers a second), p50 and p95 latency of each, and per
round the ratios: update ÷ bare throughput (goal ≥ 0.5×) and update ÷ update +
key throughput, the Idempotency-Key's overhead (goal ≤ 1.2×). Appends them to
``docs/performance.md``. Not part of ``make test``.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.client import HTTPConnection
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DB = "leadflow_bench_partner_api"
HEADING = "## Partner update endpoint under load (gunicorn)"
INTRO = (
    "`python bench/partner_api.py` (see its docstring and `bench/README.md`): "
    "`POST /api/v1/leads/{id}/updates/` with a partner's API key, served by gunicorn on this "
    "machine and driven over loopback by a load process for a fixed time, against a bare DRF "
    "view that inserts one row, in the same run (ABBA rounds) — goals: throughput ≥ 0.5× the "
    "bare view's, the `Idempotency-Key` overhead ≤ 1.2×; p95 reported. Each run appends its "
    "figures here."
)
BODY = {"status": "progress", "note": "Called the buyer; demo booked for next week."}
# As in production, the throttle's counters (and any task queued on commit) live in Redis:
# a database of its own, emptied before and after (on the default file cache each request
# wrote and renamed a file).
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


# --- The load process ---------------------------------------------------------------------


def drive(port: int, mode: str, seconds: float, concurrency: int, secret: str, leads: list[int]):
    """Send requests for ``seconds`` from ``concurrency`` threads; print a JSON summary."""
    deadline = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    statuses: list[dict[int, int]] = [{} for _ in range(concurrency)]

    def worker(n: int) -> None:
        turn = n
        connection = HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < deadline:
            lead = leads[turn % len(leads)]
            turn += concurrency
            headers = {"Content-Type": "application/json"}
            if mode == "bare":
                path = "/bench/bare/"
                body = json.dumps({**BODY, "lead": lead})
            else:
                path = f"/api/v1/leads/{lead}/updates/"
                body = json.dumps(BODY)
                headers["Authorization"] = f"Bearer {secret}"
                if mode == "update_key":
                    headers["Idempotency-Key"] = str(uuid.uuid4())
            started = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except (OSError, ConnectionError):
                connection.close()
                status = 0
            if time.perf_counter() > deadline:
                break  # answered after the bell: not counted
            latencies[n].append((time.perf_counter() - started) * 1000)
            statuses[n][status] = statuses[n].get(status, 0) + 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = min(time.perf_counter(), deadline) - began
    counted: dict[int, int] = {}
    for found in statuses:
        for status, count in found.items():
            counted[status] = counted.get(status, 0) + count
    samples = sorted(sample for found in latencies for sample in found)
    ok = sum(count for status, count in counted.items() if 200 <= status < 300)
    print(
        json.dumps(
            {
                "mode": mode,
                "ok": ok,
                "statuses": counted,
                "seconds": elapsed,
                "rate": ok / elapsed,
                "p50": statistics.median(samples) if samples else 0.0,
                "p95": statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else 0.0,
            }
        )
    )


# --- The run ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _setup(leads: int):
    """The tenant, its partner with ``leads`` accepted leads and an API key; the bare table."""
    from common import generate_tenant
    from django.db import connections
    from partner_sync import _generate

    from leadflow.tenancy import services
    from leadflow.tenancy.context import tenant_context
    from leads.models import Lead

    tenant, by, _ = generate_tenant("bench-partner-api", leads, activities=False)
    tenant.timezone = "Europe/Berlin"
    tenant.save(update_fields=["timezone"])
    partner, own, _total = _generate(tenant, leads)
    with tenant_context(tenant):
        secret = services.issue_api_key(name="dealer system", partner=partner, by=by).secret
        ids = list(Lead.objects.filter(partner=partner).order_by("pk").values_list("pk", flat=True))
    with connections["owner"].cursor() as cur:
        cur.execute(
            "CREATE TABLE bench_bare_row (id bigserial PRIMARY KEY, lead_id bigint, "
            "status text NOT NULL, note text NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        )
        cur.execute("GRANT SELECT, INSERT ON bench_bare_row TO leadflow_app")
        cur.execute("GRANT USAGE ON SEQUENCE bench_bare_row_id_seq TO leadflow_app")
    connections.close_all()
    return secret, ids, own


def _start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "partner_api_settings",
        "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)]),
        "DEBUG": "0",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "leadflow.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=environment,
    )
    for _ in range(300):
        try:
            connection = HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request(
                "POST",
                "/bench/bare/",
                body=json.dumps({**BODY, "lead": 0}),
                headers={"Content-Type": "application/json"},
            )
            if connection.getresponse().status == 201:
                return server
        except OSError:
            pass
        if server.poll() is not None:
            raise SystemExit("gunicorn did not start")
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not answer within a minute")


def _load(port, mode, seconds, concurrency, secret, ids_file) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--drive",
            mode,
            "--port",
            str(port),
            "--seconds",
            str(seconds),
            "--concurrency",
            str(concurrency),
            "--secret",
            secret,
            "--ids",
            str(ids_file),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    bad = {s: n for s, n in result["statuses"].items() if not 200 <= int(s) < 300}
    if bad:
        raise SystemExit(f"{mode}: answers other than 2xx: {bad}")
    print(
        f"  {mode:<11} {result['rate']:7.1f}/s  p50 {result['p50']:6.1f} ms  "
        f"p95 {result['p95']:6.1f} ms  ({result['ok']} in {result['seconds']:.1f} s)",
        flush=True,
    )
    return result


def main() -> None:
    from common import Ratio, bench_args, bench_db, goal, machine, record, today

    parser = bench_args(__doc__, seconds=8, concurrency=8, workers=2, leads=2000, pairs=4)
    args = parser.parse_args()
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    with bench_db(DB, keep=args.keep, REDIS_URL=REDIS_URL):
        secret, ids, own = _setup(args.leads)
        described = machine()
        load = os.getloadavg()
        ids_file = Path(f"/tmp/{DB}-ids.json")
        ids_file.write_text(json.dumps(ids))
        port = _free_port()
        server = _start_gunicorn(port, args.workers)
        try:
            _load(port, "update", 2, args.concurrency, secret, ids_file)  # warm every worker
            _load(port, "bare", 2, args.concurrency, secret, ids_file)
            steps = {
                mode: (
                    lambda run, mode=mode: _load(
                        port, mode, args.seconds, args.concurrency, secret, ids_file
                    )
                )
                for mode in ("update", "update_key", "bare")
            }
            from common import alternate

            results = alternate(steps, args.pairs)
        finally:
            server.terminate()
            server.wait(timeout=30)
            ids_file.unlink(missing_ok=True)
            redis.Redis.from_url(REDIS_URL).flushdb()
    rate = {mode: [r["rate"] for r in found] for mode, found in results.items()}
    p50 = {mode: statistics.median(r["p50"] for r in found) for mode, found in results.items()}
    p95 = {mode: statistics.median(r["p95"] for r in found) for mode, found in results.items()}
    throughput = Ratio.of(rate["update"], rate["bare"])
    overhead = Ratio.of(rate["update"], rate["update_key"])
    latency = Ratio.of(
        [r["p50"] for r in results["update_key"]], [r["p50"] for r in results["update"]]
    )
    loads = " ".join(f"{x:.2f}" for x in load)
    entry = (
        f"- {today()}{f' ({args.note})' if args.note else ''} (load {loads} at start), "
        f"{described}: gunicorn {args.workers} sync workers, Redis cache, "
        f"{args.concurrency} connections from a load process for {args.seconds} s a run, "
        f"{own:,} leads of one partner; "
        f"{args.pairs} rounds in ABBA order, medians — update "
        f"{statistics.median(rate['update']):.1f}/s (p50 {p50['update']:.1f} ms, "
        f"p95 {p95['update']:.1f} ms), update with `Idempotency-Key` "
        f"{statistics.median(rate['update_key']):.1f}/s (p50 {p50['update_key']:.1f} ms, "
        f"p95 {p95['update_key']:.1f} ms), bare DRF insert "
        f"{statistics.median(rate['bare']):.1f}/s (p50 {p50['bare']:.1f} ms, "
        f"p95 {p95['bare']:.1f} ms): **throughput {throughput}** of the bare view "
        f"({goal(throughput, at_least=0.5)}, ≥ 0.5×); **`Idempotency-Key` overhead "
        f"{overhead}** (update ÷ update with key, {goal(overhead, at_most=1.2)}, ≤ 1.2×; "
        f"p50 latency with ÷ without the key {latency})."
    )
    print(entry)
    if not args.no_record:
        record(HEADING, INTRO, entry)


if __name__ == "__main__":
    if "--drive" in sys.argv:
        import argparse

        parser = argparse.ArgumentParser()
        parser.add_argument("--drive", required=True)
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--seconds", type=float, required=True)
        parser.add_argument("--concurrency", type=int, required=True)
        parser.add_argument("--secret", required=True)
        parser.add_argument("--ids", required=True)
        given = parser.parse_args()
        drive(
            given.port,
            given.drive,
            given.seconds,
            given.concurrency,
            given.secret,
            json.loads(Path(given.ids).read_text()),
        )
    else:
        sys.path.insert(0, str(HERE))
        main()
