"""Benchmark: the outbox's dispatch rate vs the rate of no-op Celery tasks, same worker, same run.

    python bench/outbox.py [--messages 2000] [--runs 4] [--no-record]

Creates its own PostgreSQL database ``leadflow_bench_outbox`` (dropped first
if it exists, and again at the end) as the owner role, migrates it, and starts
one real Celery worker (solo pool, in this process) on a queue of its own
on Redis (``REDIS_URL``, default ``redis://127.0.0.1:6379/0``). The worker
connects as the runtime role, so row-level security applies. Two scenarios,
timed in ``--runs`` pairs in ABBA order (``common.alternate``):

* no-op tasks (baseline) — ``--messages`` Celery tasks that do nothing are
  published, and the clock stops when the worker has run the last one: what
  one task per message would cost at the least;
* dispatch — ``--messages`` due email messages are written in one
  transaction (set-based, not timed), one dispatcher run is queued, and the
  clock stops when the last is marked sent: claims of 50 under a lease, each
  email built and written by Django's file backend, each marked sent on its own.

Prints messages per second for both and the median of the per-pair ratios
with their range (goal: dispatch ≥ 0.5× the no-op task rate), and appends the
figures with the date and the machine to ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
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

DB = "leadflow_bench_outbox"
HEADING = "## Outbox dispatch rate"
INTRO = (
    "`python bench/outbox.py` (see `bench/README.md`): the rate at which the outbox's "
    "dispatcher sends due email messages through Django's file backend on a real "
    "Celery worker (claim with `SKIP LOCKED` under a lease, build, send, mark each "
    "one sent), compared with the rate at which the same worker runs Celery tasks "
    "that do nothing, in the same run on the same machine. Goal: at least 0.5× the "
    "no-op task rate. Each run appends its figures here."
)
GOAL = 0.5


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


def _write_due_messages(tenant, messages: int, run: int) -> None:
    from django.db import connections, transaction

    from leadflow.outbox.models import OutboxMessage, OutboxState
    from leadflow.tenancy.context import tenant_context

    with tenant_context(tenant), transaction.atomic():
        OutboxMessage.objects.all().delete()
        OutboxMessage.objects.bulk_create(
            [
                OutboxMessage(
                    tenant=tenant,
                    kind="email",
                    key=f"bench:{run}:{n}",
                    recipient=f"buyer{n}@example.com",
                    payload={
                        "subject": "Your appointment with Acme Robotics",
                        "text": "Thank you for your time. See you on Tuesday at 10:00.\n" * 5,
                    },
                    state=OutboxState.PENDING,
                )
                for n in range(messages)
            ],
            batch_size=1000,
        )
    with connections["owner"].cursor() as cur:
        cur.execute("VACUUM ANALYZE outbox_outboxmessage")


def _dispatch_run(tenant, messages: int, run: int) -> float:
    from leadflow.outbox.models import OutboxMessage, OutboxState
    from leadflow.outbox.tasks import dispatch_outbox_of_tenant
    from leadflow.tenancy.context import tenant_context

    _write_due_messages(tenant, messages, run)

    def all_sent() -> bool:
        with tenant_context(tenant):
            return OutboxMessage.objects.filter(state=OutboxState.SENT).count() >= messages

    started = time.perf_counter()
    dispatch_outbox_of_tenant.delay(tenant_id=tenant.pk)
    _wait_for(all_sent, poll=0.02)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=4, help="pairs; even keeps ABBA balanced")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    args = parser.parse_args()
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    # A log line per task would be timed too, on both sides.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    fresh_database(DB)
    try:
        migrate()
        from celery.contrib.testing.worker import start_worker
        from django.conf import settings

        from leadflow.celery import app
        from leadflow.tenancy import services

        mail_folder = tempfile.mkdtemp(prefix="leadflow-bench-mail-")
        settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
        settings.EMAIL_FILE_PATH = mail_folder
        queue = f"bench-outbox-{uuid.uuid4().hex[:8]}"
        app.conf.task_default_queue = queue
        finished = Finished()

        @app.task(name="bench.noop", ignore_result=True)
        def noop() -> None:
            finished.add()

        tenant = services.create_tenant(slug="bench-outbox", name="Bench Outbox")
        with start_worker(app, pool="solo", queues=[queue], perform_ping_check=False):

            def noop_step(run: int) -> float:
                seconds = _noop_run(noop, finished, args.messages)
                print(f"run {run + 1}: no-op tasks {args.messages / seconds:8,.0f}/s")
                return seconds

            def dispatch_step(run: int) -> float:
                seconds = _dispatch_run(tenant, args.messages, run)
                print(f"run {run + 1}: dispatch     {args.messages / seconds:8,.0f}/s")
                return seconds

            timed = alternate({"noop": noop_step, "dispatch": dispatch_step}, args.runs)
        report_rate_against_noops(
            count=args.messages,
            noun="messages",
            label="outbox dispatch",
            short="dispatch",
            described="email messages (file backend)",
            noops=timed["noop"],
            figures=timed["dispatch"],
            runs=args.runs,
            at_least=GOAL,
            heading=HEADING,
            intro=INTRO,
            record_it=not args.no_record,
        )
    finally:
        drop_database(DB)


if __name__ == "__main__":
    main()
