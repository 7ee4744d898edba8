"""Chaos run: 10,000 scheduled nurture sends while the worker is SIGKILLed and two beats run.

    python bench/nurture_chaos.py [--sends 10000] [--kill-min 8] [--kill-max 15] [--no-record]

Not in CI. Creates its own PostgreSQL database ``leadflow_bench_nurture_chaos``
(dropped first if it exists, and again at the end) and a folder for the
file email backend, then starts, as separate processes with the app's own
settings (PostgreSQL as the runtime role, Redis as the broker on database
13, flushed first):

* one Celery worker (prefork, 2 processes), SIGKILLed — with its children,
  as a crash or the OOM killer would — ``--kill-min``…``--kill-max`` seconds
  after it said it was ready, and started again at once;
* TWO ``celery beat`` processes, so every scheduler tick and every outbox
  sweep is queued twice (nurture every 5 s, the outbox every 2 s).

The tenant has ``--sends`` nurture inquiries enrolled in a one-email program,
all due at the start. The scheduler turns them into outbox messages and the
outbox dispatches them through Django's file backend. When every enrollment
has its send and no message is pending or being sent, the worker and beats
stop and the delivered files are counted against the database:

* missing — a due step with no delivered email (must be 0);
* duplicates from retries or concurrency — a second copy of a message its
  outbox row says was claimed once, or a second email to the same person
  with another Message-ID (must be 0);
* crash duplicates — a second copy of a message that was claimed again after
  its lease ran out, which only a worker dying between the send and its mark
  causes (at most the number of kills, each with the Message-ID of its first
  send — counting is by Message-ID, so any other id would be a duplicate of
  the previous kind).

The outbox's lease is 10 s here (120 s in production) so the run does not wait
minutes for crashed claims; the guarantees do not depend on its length.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import time as clock
from pathlib import Path

from common import (
    ROOT,
    drop_database,
    fresh_database,
    generate_tenant,
    machine,
    migrate,
    record,
    today,
)

DB = "leadflow_bench_nurture_chaos"
REDIS = "redis://127.0.0.1:6379/13"
HEADING = "## Nurture chaos run"
INTRO = (
    "`python bench/nurture_chaos.py` (not in CI): `--sends` nurture sends (10,000 by "
    "default) scheduled at once "
    "while a real Celery worker (prefork, 2 processes) is SIGKILLed 8–15 s after each "
    "start and two "
    "`celery beat` processes queue every scheduler tick and outbox sweep twice; the "
    "emails the file backend delivered are counted against the database. Guarantees: "
    "missing 0, duplicates from retries or concurrency 0, crash duplicates at most the "
    "number of kills, each with the Message-ID of its first send."
)
BODY = (
    "Hi {{ first_name }},\n\nour buyer's guide for {{ company }}: "
    "https://acme.example/guide.pdf\n\nBest, the Acme team"
)
CELERY = str(Path(sys.executable).with_name("celery"))


def setup_nurture(slug: str, people: int, due: int):
    """A tenant with ``people`` nurture inquiries in a one-email program, ``due`` due now.

    Sending settings that never hold an email back: opt-out mode, an
    always-open window, a cap of 5 and the highest throttle. Returns
    (tenant, program). The enrollments are written in SQL by the owner role
    in the tenant's scope, then vacuumed and analysed.
    """
    from django.db import connections, transaction

    from leadflow.tenancy.context import tenant_context
    from nurture.models import NurtureSettings
    from nurture.services import programs

    tenant, by, _ = generate_tenant(slug, people, activities=False)
    with tenant_context(tenant):
        NurtureSettings.objects.create(
            consent_mode="opt_out",
            window_start=clock(0, 0),
            window_end=clock(0, 0),
            cap_emails=5,
            throttle_per_minute=100000,
            from_name="Acme Marketing",
            from_address="news@acme.example",
            postal_address="Acme Inc., 1 Main St, Springfield",
        )
        program = programs.create_program(
            name="Buyer's guide",
            # A wait after the email keeps each person in this program (finished, they would
            # move on to the long-term program and its own emails).
            steps=[
                {"kind": "email", "subject": "Your guide, {{ first_name }}", "body": BODY},
                {"kind": "wait", "wait_days": 30},
            ],
            by=by,
        )
    owner = connections["owner"]
    params = {"tenant": tenant.pk, "program": program.pk, "due": due}
    with tenant_context(tenant), transaction.atomic(using="owner"), owner.cursor() as cur:
        cur.execute(
            """
            INSERT INTO nurture_enrollment (tenant_id, inquiry_id, program_id, state, position,
                due_at, step_started_at, reason, enrolled_by, enrolled_at, exit_reason)
            SELECT %(tenant)s, i.id, %(program)s, 'active', 0,
                CASE WHEN i.rn <= %(due)s THEN now() - interval '1 minute'
                     ELSE now() + interval '30 days' + (i.rn %% 1000) * interval '1 minute' END,
                now(), 'below_threshold', 'bench', now(), ''
            FROM (SELECT id, row_number() OVER (ORDER BY random()) AS rn
                  FROM inquiries_inquiry WHERE tenant_id = %(tenant)s) AS i
            """,
            params,
        )
    with owner.cursor() as cur:
        cur.execute("VACUUM ANALYZE nurture_enrollment")
        cur.execute("VACUUM ANALYZE inquiries_inquiry")
    return tenant, program


def _start(args: list[str], log: Path) -> subprocess.Popen:
    # A session of its own: the kill reaches the worker's pool processes too.
    return subprocess.Popen(
        [CELERY, "-A", "leadflow", *args],
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _progress(tenant):
    """(sends written by the scheduler, messages not yet finished) as the database has them."""
    from leadflow.outbox.models import OutboxMessage
    from leadflow.tenancy.context import tenant_context
    from nurture.models import NurtureSend

    with tenant_context(tenant):
        sends = NurtureSend.objects.count()
        open_ = OutboxMessage.objects.filter(state__in=("pending", "sending")).count()
    return sends, open_


def delivered_ids(folder: Path) -> collections.Counter:
    """Message-ID → copies, read from every file Django's file backend wrote."""
    counts: collections.Counter = collections.Counter()
    for path in folder.glob("*"):
        text = path.read_bytes().decode(errors="replace")
        counts.update(re.findall(r"^Message-ID: <([^@>]+)@", text, flags=re.MULTILINE))
    return counts


def count(tenant, folder: Path, kills: int) -> dict[str, int]:
    from inquiries.models import Inquiry
    from leadflow.outbox.models import OutboxMessage
    from leadflow.outbox.senders import message_identity
    from leadflow.tenancy.context import tenant_context

    copies = delivered_ids(folder)
    with tenant_context(tenant):
        messages = list(OutboxMessage.objects.filter(kind="nurture_email"))
        emails = dict(Inquiry.objects.values_list("pk", "email"))
    identity = {message_identity(m): m for m in messages}
    expected_people = {int(m.cause_id) for m in messages}
    missing = sum(1 for key in identity if copies[key] == 0)
    retry_duplicates = crash_duplicates = 0
    for key, n in copies.items():
        message = identity.get(key)
        if message is None:
            retry_duplicates += n  # an email with an id the database never gave out
            continue
        extra = n - 1
        if extra <= 0:
            continue
        if message.attempts >= 2:
            crash_duplicates += extra
        else:
            retry_duplicates += extra
    per_recipient = collections.Counter(
        m.recipient for m in messages if copies[message_identity(m)] > 0
    )
    retry_duplicates += sum(n - 1 for n in per_recipient.values() if n > 1)
    return {
        "due": len(messages),
        "scheduled_people": len(expected_people),
        "delivered_copies": sum(copies.values()),
        "missing": missing,
        "retry_duplicates": retry_duplicates,
        "crash_duplicates": crash_duplicates,
        "kills": kills,
        "recipients": len(emails),
    }


def run(args, folder: Path, tenant) -> tuple[dict[str, int], float]:
    logs = folder.parent
    # INFO: the worker's "ready." line starts the clock to its next kill, so a loaded
    # machine's slow start-up does not turn the run into kills of workers still starting.
    worker_args = ["worker", "-l", "INFO", "-c", "2", "--pool", "prefork", "-n", "chaos@%h"]
    worker_log = logs / "worker.log"
    beats = [
        _start(
            [
                "beat",
                "-l",
                "WARNING",
                "--pidfile",
                str(logs / f"beat{n}.pid"),
                "-s",
                str(logs / f"beat{n}"),
            ],
            logs / f"beat{n}.log",
        )
        for n in (1, 2)
    ]
    worker = _start(worker_args, worker_log)
    offset = 0
    kills = 0
    started = time.monotonic()
    next_kill: float | None = None
    try:
        while True:
            time.sleep(0.5)
            sends, open_ = _progress(tenant)
            if sends >= args.sends and open_ == 0:
                break
            if time.monotonic() - started > args.timeout:
                print(f"timed out: {sends} sends scheduled, {open_} messages open")
                break
            if next_kill is None:
                with worker_log.open("rb") as log:
                    log.seek(offset)
                    if b" ready." in log.read():
                        next_kill = time.monotonic() + random.uniform(args.kill_min, args.kill_max)
                continue
            if time.monotonic() >= next_kill:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
                kills += 1
                print(
                    f"  {time.monotonic() - started:6.1f} s: kill {kills} "
                    f"({sends:,} scheduled, {open_:,} open)",
                    flush=True,
                )
                offset = worker_log.stat().st_size
                worker = _start(worker_args, worker_log)
                next_kill = None
    finally:
        _stop(worker)
        for beat in beats:
            _stop(beat)
    seconds = time.monotonic() - started
    return count(tenant, folder, kills), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=10000)
    parser.add_argument("--kill-min", type=float, default=8.0)
    parser.add_argument("--kill-max", type=float, default=15.0)
    parser.add_argument("--timeout", type=float, default=1500.0, help="seconds")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    args = parser.parse_args()
    # A SIGTERM (timeout, Ctrl-C in a pipeline) still stops the worker and the beats.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    var = Path(tempfile.mkdtemp(prefix="leadflow-chaos-"))
    folder = var / "mail"
    folder.mkdir()
    fresh_database(
        DB,
        REDIS_URL=REDIS,
        VAR_DIR=str(var),
        LOG_LEVEL="WARNING",
        SITE_URL="https://leadflow.example",
        OUTBOX_LEASE_SECONDS="10",
        OUTBOX_BEAT_SECONDS="2",
        NURTURE_BEAT_SECONDS="5",
    )
    try:
        migrate()
        import redis

        redis.Redis.from_url(REDIS).flushdb()
        tenant, _program = setup_nurture("bench-chaos", args.sends, args.sends)
        from django.db import connections

        connections.close_all()
        figures, seconds = run(args, folder, tenant)
        ok = (
            figures["missing"] == 0
            and figures["retry_duplicates"] == 0
            and figures["crash_duplicates"] <= figures["kills"]
            and figures["due"] == args.sends
        )
        verdict = "all guarantees held" if ok else "A GUARANTEE FAILED"
        lines = [
            f"{args.sends:,} sends due, {figures['kills']} SIGKILLs of the worker, two beats, "
            f"{seconds:.0f} s",
            f"  outbox messages scheduled:            {figures['due']:,}",
            f"  email copies delivered (file backend): {figures['delivered_copies']:,}",
            f"  missing:                              {figures['missing']} (must be 0)",
            f"  duplicates from retries/concurrency:  {figures['retry_duplicates']} (must be 0)",
            f"  crash duplicates (same Message-ID):   {figures['crash_duplicates']} "
            f"(at most {figures['kills']}, the kills)",
            f"  {verdict}",
        ]
        print("\n".join(lines))
        print(f"(logs in {var})")
        if not args.no_record:
            record(
                HEADING,
                INTRO,
                f"- {today()}, {machine()}: {args.sends:,} sends, {figures['kills']} kills, "
                f"{seconds:.0f} s — {figures['delivered_copies']:,} copies delivered; "
                f"**missing {figures['missing']}, retry/concurrency duplicates "
                f"{figures['retry_duplicates']}, crash duplicates {figures['crash_duplicates']} "
                f"(≤ {figures['kills']} kills)** — {verdict}.",
            )
        if not ok:
            raise SystemExit(1)
    finally:
        drop_database(DB)


if __name__ == "__main__":
    main()
