"""Benchmark: partner webhook deliveries per second vs no-op Celery tasks, same worker, same run.

    python bench/webhooks.py [--messages 1000] [--runs 4] [--no-record]

Creates its own PostgreSQL database ``leadflow_bench_webhooks`` (dropped first
if it exists, and again at the end) as the owner role, migrates it, starts a
local HTTP receiver in a separate process (answering 204, as a partner's CRM
would) and one real Celery worker (solo pool, in this process) on a queue of
its own on Redis (``REDIS_URL``). The worker connects as the runtime role, so
row-level security applies; ``WEBHOOKS_ALLOW_PRIVATE_TARGETS`` is on (the
receiver is on 127.0.0.1). Two scenarios, timed in ``--runs`` pairs in ABBA
order (``common.alternate``):

* no-op tasks (baseline) — ``--messages`` Celery tasks that do nothing are
  published, and the clock stops when the worker has run the last one;
* deliveries — ``--messages`` events are published to one endpoint (one
  outbox message and one delivery each, written set-based, not timed), one
  dispatcher run is queued, and the clock stops when the last is marked sent:
  per message the endpoint's secret looked up, the body signed (HMAC-SHA256),
  the URL checked (SSRF guard: resolve, address check), a new HTTP connection
  and POST, the attempt logged (headers, body, answer) and the message marked.

Prints deliveries per second for both and the median of the per-pair ratios
with their range (goal: deliveries ≥ 0.5× the no-op task rate), and appends the
figures with the date and the machine to ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid

from common import (
    alternate,
    drop_database,
    fresh_database,
    migrate,
    report_rate_against_noops,
)

DB = "leadflow_bench_webhooks"
HEADING = "## Partner webhook delivery rate"
INTRO = (
    "`python bench/webhooks.py` (see `bench/README.md`): the rate at which partner "
    "webhooks are delivered to a local receiver (another process answering 204) by the "
    "outbox's dispatcher on a real Celery worker — secret looked up, body signed, URL "
    "checked by the SSRF guard, one HTTP POST on a new connection, the attempt logged "
    "and the message marked sent — compared with the rate at which the same worker runs "
    "Celery tasks that do nothing, in the same run on the same machine. Goal: at least "
    "0.5× the no-op task rate. Each run appends its figures here."
)
GOAL = 0.5

RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_port, flush=True)
server.serve_forever()
"""


class Finished:
    """How many no-op tasks the worker ran (the worker runs in this process)."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def add(self) -> None:
        with self.lock:
            self.count += 1


def _wait_for(predicate, *, poll: float, limit: float = 600) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("the worker did not finish in time")
        time.sleep(poll)


def _noop_run(task, finished: Finished, messages: int) -> float:
    before = finished.count
    started = time.perf_counter()
    for _ in range(messages):
        task.delay()
    _wait_for(lambda: finished.count - before >= messages, poll=0.005)
    return time.perf_counter() - started


def _write_deliveries(tenant, endpoint, messages: int, run: int) -> None:
    """``messages`` due events for ``endpoint``, as ``publish`` writes them, set-based."""
    from django.db import connections, transaction

    from leadflow.outbox.models import OutboxMessage, OutboxState, WebhookDelivery
    from leadflow.outbox.webhooks import webhook_id
    from leadflow.tenancy.context import tenant_context

    with tenant_context(tenant), transaction.atomic():
        OutboxMessage.objects.all().delete()
        rows = OutboxMessage.objects.bulk_create(
            [
                OutboxMessage(
                    tenant=tenant,
                    kind="webhook",
                    key=f"webhook:{endpoint.pk}:bench:{run}:{n}",
                    recipient=endpoint.url,
                    payload={
                        "type": "lead.assigned",
                        "data": {"lead": {"id": n, "stage": "accepted", "company": "Volga"}},
                    },
                    state=OutboxState.PENDING,
                    cause_type="webhook-endpoint",
                    cause_id=str(endpoint.pk),
                )
                for n in range(messages)
            ],
            batch_size=1000,
        )
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    tenant=tenant,
                    endpoint=endpoint,
                    message=row,
                    event_type="lead.assigned",
                    webhook_id=webhook_id(row),
                )
                for row in rows
            ],
            batch_size=1000,
        )
    with connections["owner"].cursor() as cur:
        cur.execute("VACUUM ANALYZE outbox_outboxmessage")
        cur.execute("VACUUM ANALYZE outbox_webhookdelivery")


def _delivery_run(tenant, endpoint, messages: int, run: int) -> float:
    from leadflow.outbox.models import OutboxMessage, OutboxState
    from leadflow.outbox.tasks import dispatch_outbox_of_tenant
    from leadflow.tenancy.context import tenant_context

    _write_deliveries(tenant, endpoint, messages, run)

    def all_sent() -> bool:
        with tenant_context(tenant):
            return OutboxMessage.objects.filter(state=OutboxState.SENT).count() >= messages

    started = time.perf_counter()
    dispatch_outbox_of_tenant.delay(tenant_id=tenant.pk)
    _wait_for(all_sent, poll=0.02)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=4, help="pairs; even keeps ABBA balanced")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    args = parser.parse_args()
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    fresh_database(DB, WEBHOOKS_ALLOW_PRIVATE_TARGETS="1")
    try:
        port = int(receiver.stdout.readline())
        migrate()
        from celery.contrib.testing.worker import start_worker

        from leadflow.celery import app
        from leadflow.outbox.endpoints import services as endpoint_services
        from leadflow.tenancy import services
        from leadflow.tenancy.context import tenant_context
        from leadflow.tenancy.models import Partner
        from leadflow.tenancy.principal import Principal

        queue = f"bench-webhooks-{uuid.uuid4().hex[:8]}"
        app.conf.task_default_queue = queue
        finished = Finished()

        @app.task(name="bench.noop", ignore_result=True)
        def noop() -> None:
            finished.add()

        tenant = services.create_tenant(slug="bench-webhooks", name="Bench Webhooks")
        with tenant_context(tenant):
            partner = Partner.objects.create(tenant=tenant, name="Northwind", kind="dealer")
            endpoint = endpoint_services.create_endpoint(
                partner=partner,
                url=f"http://127.0.0.1:{port}/hooks/leadflow",
                events=["lead.assigned"],
                by=Principal.system(tenant, "bench"),
            ).endpoint
        with start_worker(app, pool="solo", queues=[queue], perform_ping_check=False):

            def noop_step(run: int) -> float:
                seconds = _noop_run(noop, finished, args.messages)
                print(f"run {run + 1}: no-op tasks {args.messages / seconds:8,.0f}/s")
                return seconds

            def delivery_step(run: int) -> float:
                seconds = _delivery_run(tenant, endpoint, args.messages, run)
                print(f"run {run + 1}: deliveries  {args.messages / seconds:8,.0f}/s")
                return seconds

            timed = alternate({"noop": noop_step, "deliveries": delivery_step}, args.runs)
        report_rate_against_noops(
            count=args.messages,
            noun="events",
            label="webhook deliveries",
            short="deliveries",
            described="signed deliveries to a local receiver",
            noops=timed["noop"],
            figures=timed["deliveries"],
            runs=args.runs,
            at_least=GOAL,
            heading=HEADING,
            intro=INTRO,
            record_it=not args.no_record,
        )
    finally:
        receiver.terminate()
        receiver.wait()
        drop_database(DB)


if __name__ == "__main__":
    main()
