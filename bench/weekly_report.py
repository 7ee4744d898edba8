"""Benchmark: making the Monday report's snapshot for 200,000 leads of 2,000 owners.

    python bench/weekly_report.py [--leads 200000] [--owners 2000] [--pairs 6] [--runs 3]
                                  [--no-record] [--note TEXT] [--keep] [--explain]

Creates its own PostgreSQL database ``leadflow_bench_weekly`` (dropped first if
it exists, and again at the end) as ``leadflow_owner``, migrates it and
generates one tenant (Europe/Berlin) with ``--leads`` leads of ``--owners``
reps in 20 teams (in SQL, not timed): ~30% closed (won, lost, postponed) over
the last 10 weeks, the rest accepted, SQL or awaiting acceptance (some
breached last week); ~40% of the open leads have last week's update and about
one touch in two leads falls in last week.

Timed as the runtime role under row-level security, figure and baseline in
``--pairs`` pairs in ABBA order (``common.alternate``), each side ``--runs``
times a pair (the pair's median counts):

* the snapshot — the report row and every line of last week in one
  ``INSERT … SELECT`` (``reporting.weekly.services.insert_lines``), in a
  transaction rolled back after each run so every run makes it anew; it reads
  the week's facts, filled once before the timing (as the hourly beat fills
  them, printed) and rewritten in each run for the 1,000 leads touched since;
  its baseline — one plain ``SELECT rep_id, stage, count(*) FROM leads_lead
  WHERE tenant_id = … GROUP BY rep_id, stage`` over the same rows (goal ≤ 3×);
* a past week as its page reads it (``week_view`` for a manager: the frozen
  lines plus the changes since, after 50 late updates and 50 reopened leads
  written after the snapshot); its baseline — reading the frozen lines alone
  (``snapshot_lines``), the bare view.

Prints the figures and appends them to ``docs/performance.md``. ``--keep``
leaves the database for a look (``--explain`` prints the snapshot's plan).
Not part of ``make test``.
"""

from __future__ import annotations

import os
import statistics
import time

from common import (
    Ratio,
    alternate,
    bench_args,
    bench_db,
    generate_tenant,
    goal,
    machine,
    record,
    today,
)

DB = "leadflow_bench_weekly"
HEADING = "## Weekly report snapshot"
INTRO = (
    "`python bench/weekly_report.py` (see `bench/README.md`): the Monday report's snapshot "
    "(`reporting.weekly.services.insert_lines`: every rep, partner, team and tenant line of "
    "last week in one `INSERT … SELECT`) for a tenant with 200,000 leads of 2,000 owners, "
    "against one plain `SELECT rep_id, stage, count(*) … GROUP BY rep_id, stage` over the "
    "same rows, as the runtime role under row-level security — goal ≤ 3×. Each run appends "
    "its figures here."
)
TEAMS = 20

TEAMS_SQL = """
INSERT INTO leads_team (tenant_id, name, rotation, created_at)
SELECT %(tenant)s, 'Team ' || g, '{}'::jsonb, now() FROM generate_series(1, %(teams)s) g
"""

APPOINTMENTS_SQL = """
INSERT INTO inquiries_appointment (
    tenant_id, inquiry_id, starts_at, duration_minutes, location, notes,
    message_to_buyer, uid, sequence, booked_by_id, created_at, confirmation_sent_at,
    closed_at, held_at, no_show_at, cancelled_at, cancel_reason)
SELECT i.tenant_id, i.id, now() - (i.id %% 50) * interval '1 day', 30,
    '', '', '', 'bench-' || i.id || '@leadflow.bench',
    0, NULL, now(), NULL, NULL, NULL, NULL, NULL, ''
FROM inquiries_inquiry i WHERE i.tenant_id = %(tenant)s
"""

# Stages by id: 0–2 closed (won, lost, postponed) in one of the last 10 weeks, 3 awaiting
# (every 4th of them breached last week), 4–6 accepted, 7–9 SQL.
LEADS_SQL = """
INSERT INTO leads_lead (
    tenant_id, inquiry_id, appointment_id, stage, rep_id, partner_id, team_id, profile, score,
    score_breakdown, definition_version, created_at, closed_at, assigned_at,
    acceptance_due_at, accepted_at, breached_at, reject_kind, reject_reason, qualified_at,
    budget, authority, need, timeline, value, closed_on, lost_reason, postponed_until,
    next_step_on, next_step, reported_weeks)
SELECT a.tenant_id, a.inquiry_id, a.id,
    (ARRAY['won', 'lost', 'postponed', 'awaiting_acceptance', 'accepted', 'accepted',
           'accepted', 'sql', 'sql', 'sql'])[1 + a.id %% 10],
    %(first_rep)s + (a.inquiry_id %% %(owners)s), NULL, %(first_team)s + (a.id %% %(teams)s),
    '{}'::jsonb, a.id %% 90,
    '[]'::jsonb, 1, %(start)s - interval '90 days',
    CASE WHEN a.id %% 10 < 3 THEN %(start)s - (a.id / 10 %% 10 - 1) * interval '7 days'
        + (a.id %% 600000) * interval '1 second' END,
    %(start)s - (1 + a.id %% 60) * interval '1 day', NULL, NULL,
    CASE WHEN a.id %% 10 = 3 AND a.id %% 40 = 3 THEN %(start)s + interval '2 days' END,
    '', '', NULL, '', '', '', '',
    CASE WHEN a.id %% 10 = 0 THEN 1000 + a.id %% 5000 END, NULL,
    CASE WHEN a.id %% 10 = 1 THEN (ARRAY['no budget', 'chose a competitor', 'no decision'])
        [1 + a.id %% 3] ELSE '' END,
    CASE WHEN a.id %% 10 = 2 THEN %(week)s::date + (30 + a.id %% 60)::int END,
    NULL, '', 0
FROM inquiries_appointment a WHERE a.tenant_id = %(tenant)s
"""

UPDATES_SQL = """
INSERT INTO leads_weeklyupdate (
    tenant_id, lead_id, week, status, note, touch_id, user_id, partner_id, late, created_at)
SELECT l.tenant_id, l.id, %(week)s, 'progress', 'Called', NULL, l.rep_id, NULL, false,
    %(start)s + (l.id %% 604800) * interval '1 second'
FROM leads_lead l
WHERE l.tenant_id = %(tenant)s AND l.stage IN ('accepted', 'sql') AND l.id %% 5 < 2
"""

TOUCHES_SQL = """
INSERT INTO leads_touch (
    tenant_id, inquiry_id, lead_id, user_id, partner_id, kind, outcome, note, at, created_at)
SELECT l.tenant_id, l.inquiry_id, l.id, l.rep_id, NULL, 'call', 'no_answer', '',
    %(start)s + (l.id %% 604800) * interval '1 second',
    %(start)s + (l.id %% 604800) * interval '1 second'
FROM leads_lead l WHERE l.tenant_id = %(tenant)s AND l.id %% 2 = 0
"""

# After the snapshot: late updates for the week on leads it counted as missing, and leads
# it counted as won reopened (as ``reopen_lead`` leaves them, with their stage change).
LATE_CHANGES = 50
LATE_SQL = """
INSERT INTO leads_weeklyupdate (
    tenant_id, lead_id, week, status, note, touch_id, user_id, partner_id, late, created_at)
SELECT l.tenant_id, l.id, %(week)s, 'progress', 'Late', NULL, l.rep_id, NULL, true, now()
FROM leads_lead l
WHERE l.tenant_id = %(tenant)s AND l.stage = 'accepted' AND l.id %% 5 >= 2
  AND NOT EXISTS (SELECT 1 FROM leads_weeklyupdate u WHERE u.lead_id = l.id AND u.week = %(week)s)
ORDER BY l.id LIMIT %(count)s
"""
REOPEN_SQL = """
WITH moved AS (
    UPDATE leads_lead SET stage = 'accepted', closed_at = NULL, value = NULL
    WHERE id IN (SELECT id FROM leads_lead WHERE tenant_id = %(tenant)s AND stage = 'won'
                 ORDER BY closed_at DESC LIMIT %(count)s)
    RETURNING tenant_id, id)
INSERT INTO tenancy_stagechange (
    tenant_id, machine, object_id, from_stage, to_stage, reason, actor_id, actor_label,
    created_at)
SELECT tenant_id, 'lead', id, 'won', 'accepted', 'reopened', NULL, 'bench', now() FROM moved
"""

# Since the facts' last hourly upkeep: touches logged on leads (a few backdated into last week),
# written "now" — the leads whose facts the snapshot rewrites before adding them up.
HOUR_TOUCHES = 1000
HOUR_SQL = """
INSERT INTO leads_touch (
    tenant_id, inquiry_id, lead_id, user_id, partner_id, kind, outcome, note, at, created_at)
SELECT l.tenant_id, l.inquiry_id, l.id, l.rep_id, NULL, 'email', 'replied', '',
    %(start)s + (l.id %% 604800) * interval '1 second', now()
FROM leads_lead l WHERE l.tenant_id = %(tenant)s AND l.id %% 200 = 1 LIMIT %(count)s
"""

BASELINE_SQL = (
    "SELECT rep_id, stage, count(*) FROM leads_lead WHERE tenant_id = %s GROUP BY rep_id, stage"
)


def _reps(tenant, count: int):
    from django.contrib.auth.hashers import make_password

    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.models import Membership, Role, User

    password = make_password("bench-password")
    users = User.objects.bulk_create(
        [
            User(email=f"rep{n}@weekly.bench", full_name=f"Rep {n}", password=password)
            for n in range(count)
        ]
    )
    with tenant_context(tenant):
        Membership.objects.bulk_create(
            [Membership(tenant=tenant, user=user, role=Role.REP) for user in users]
        )
    return users


def _generate(tenant, owners: int, week, start) -> int:
    from django.db import connections, transaction

    from leadflow.tenancy.context import tenant_context

    reps = _reps(tenant, owners)
    first = reps[0].pk
    assert reps[-1].pk == first + owners - 1, "the reps' ids are not consecutive"
    owner = connections["owner"]
    params = {"tenant": tenant.pk, "week": week, "start": start, "teams": TEAMS}
    with tenant_context(tenant), transaction.atomic(using="owner"), owner.cursor() as cur:
        cur.execute(TEAMS_SQL, params)
        cur.execute("SELECT min(id) FROM leads_team WHERE tenant_id = %s", [tenant.pk])
        params["first_team"] = cur.fetchone()[0]
        cur.execute(APPOINTMENTS_SQL, {**params, "first_rep": first, "owners": owners})
        cur.execute(LEADS_SQL, {**params, "first_rep": first, "owners": owners})
        cur.execute(UPDATES_SQL, params)
        cur.execute(TOUCHES_SQL, params)
        cur.execute("SELECT count(*) FROM leads_lead WHERE tenant_id = %s", [tenant.pk])
        total = cur.fetchone()[0]
    with owner.cursor() as cur:
        for table in ("leads_lead", "leads_weeklyupdate", "leads_touch", "inquiries_appointment"):
            cur.execute(f"VACUUM ANALYZE {table}")
    return total


class Rollback(Exception):
    """Undo one timed snapshot, so the next run makes it anew."""


def _timed(call, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _late_changes(tenant, week, count: int) -> int:
    """After the snapshot: ``count`` late updates for last week and ``count`` reopened leads."""
    from django.db import connections

    from leadflow.tenancy.context import tenant_context

    with tenant_context(tenant), connections["owner"].cursor() as cur:
        cur.execute(LATE_SQL, {"tenant": tenant.pk, "week": week, "count": count})
        cur.execute(REOPEN_SQL, {"tenant": tenant.pk, "count": count})
        return count


def main() -> None:
    parser = bench_args(__doc__, leads=200_000, owners=2_000, runs=3)
    parser.add_argument("--explain", action="store_true", help="print the snapshot's plan")
    args = parser.parse_args()
    os.environ.pop("REDIS_URL", None)
    with bench_db(DB, keep=args.keep):
        from datetime import timedelta

        from django.db import connection, transaction
        from django.utils import timezone

        from leadflow.tenancy.context import tenant_context
        from leadflow.tenancy.principal import Principal
        from reporting.weekly.models import WeeklyReport, WeeklyReportLine
        from reporting.weekly.selectors import (
            Window,
            current_week,
            snapshot_lines,
            tenant_zone,
            week_view,
        )
        from reporting.weekly.services import generate_weekly_report, insert_lines

        started = time.perf_counter()
        tenant, _, _ = generate_tenant("bench", args.leads, activities=False)
        tenant.timezone = "Europe/Berlin"
        tenant.save()
        tz = tenant_zone(tenant)
        week = current_week(tz) - timedelta(weeks=1)
        window = Window.of(week, tz)
        total = _generate(tenant, args.owners, week, window.start)
        print(
            f"generated {total:,} leads of {args.owners:,} owners in {TEAMS} teams "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        # The hourly beat fills the week's facts at its first run of the week and rewrites the
        # changed leads' facts every hour since (reporting.weekly.services.keep_week_facts):
        # the fill here, then an hour's changes the timed snapshot rewrites before it adds up.
        from reporting.weekly.services import bring_week_facts_up_to_date

        started = time.perf_counter()
        with tenant_context(tenant):
            bring_week_facts_up_to_date(window, tenant_id=tenant.pk)
        filled_ms = (time.perf_counter() - started) * 1000
        from django.db import connections

        with connections["owner"].cursor() as cur:
            cur.execute("VACUUM ANALYZE reporting_weekfact")
        with tenant_context(tenant), connections["owner"].cursor() as cur:
            cur.execute(
                HOUR_SQL, {"tenant": tenant.pk, "start": window.start, "count": HOUR_TOUCHES}
            )
            cur.execute("SELECT count(*) FROM reporting_weekfact WHERE tenant_id = %s", [tenant.pk])
            facts = cur.fetchone()[0]
        print(f"filled the week's facts ({facts:,} rows) in {filled_ms:.0f} ms", flush=True)
        lines: list[int] = []

        def figure() -> None:
            try:
                with tenant_context(tenant), transaction.atomic():
                    report = WeeklyReport.objects.create(
                        tenant=tenant, week=week, generated_at=timezone.now(), timezone="bench"
                    )
                    insert_lines(report, window)
                    lines.append(WeeklyReportLine.objects.filter(report=report).count())
                    raise Rollback
            except Rollback:
                pass

        def baseline() -> None:
            with tenant_context(tenant), connection.cursor() as cur:
                cur.execute(BASELINE_SQL, [tenant.pk])
                cur.fetchall()

        if args.explain:
            from reporting.weekly.selectors import figures_from_facts_sql, tuned

            with tenant_context(tenant), tuned() as cur:
                cur.execute(
                    "EXPLAIN (ANALYZE, BUFFERS) " + figures_from_facts_sql(),
                    window.params(tenant.pk),
                )
                print("\n".join(row[0] for row in cur.fetchall()), flush=True)
        figure()
        print(f"one snapshot: {lines[-1]:,} lines", flush=True)
        counted = alternate(
            {
                "figure": lambda run: _timed(figure, args.runs),
                "baseline": lambda run: _timed(baseline, args.runs),
            },
            args.pairs,
        )
        ratio = Ratio.of(counted["figure"], counted["baseline"])
        made, plain = statistics.median(counted["figure"]), statistics.median(counted["baseline"])
        print(
            f"snapshot {made:.1f} ms, plain GROUP BY {plain:.1f} ms (medians); ratio {ratio} "
            f"— goal ≤ 3×, {goal(ratio, at_most=3)}",
            flush=True,
        )

        # The past week's page: the frozen snapshot plus the changes since, against reading
        # the frozen lines alone.
        with tenant_context(tenant):
            report = generate_weekly_report(
                week=week, by=Principal.system(tenant, "bench"), send=False
            ).report
        changed = _late_changes(tenant, week, LATE_CHANGES)
        reader = Principal.system(tenant, "bench reader")
        changes: list[int] = []

        def page() -> None:
            with tenant_context(tenant):
                view = week_view(reader, week)
                changes.append(sum(len(view.changes_of(line)) for line in view.lines))

        def frozen() -> None:
            with tenant_context(tenant):
                snapshot_lines(report)

        page()
        past = alternate(
            {
                "figure": lambda run: _timed(page, args.runs),
                "baseline": lambda run: _timed(frozen, args.runs),
            },
            args.pairs,
        )
        page_ratio = Ratio.of(past["figure"], past["baseline"])
        read, bare = statistics.median(past["figure"]), statistics.median(past["baseline"])
        print(
            f"past week's lines with changes since ({changed} late updates and {changed} "
            f"reopened leads, {changes[-1]:,} line changes) {read:.1f} ms, frozen lines alone "
            f"{bare:.1f} ms (medians); ratio {page_ratio}",
            flush=True,
        )
        # The week's facts once its snapshot exists: the next upkeep deletes them (timed once,
        # undone).
        from reporting.weekly.models import WeekFact

        started = time.perf_counter()
        try:
            with tenant_context(tenant), transaction.atomic():
                WeekFact.objects.filter(week=week).delete()
                raise Rollback
        except Rollback:
            pass
        purged_ms = (time.perf_counter() - started) * 1000
        print(f"deleting the week's facts after its snapshot: {purged_ms:.0f} ms", flush=True)
        if not args.no_record:
            note = f" ({args.note})" if args.note else ""
            record(
                HEADING,
                INTRO,
                f"- {today()}{note}, {machine()}: {total:,} leads of {args.owners:,} owners in "
                f"{TEAMS} teams, {lines[-1]:,} lines; {args.pairs} pairs in ABBA order, "
                f"{args.runs} runs a side a pair — snapshot {made:.1f} ms vs plain "
                f"GROUP BY {plain:.1f} ms: **{ratio}** ({goal(ratio, at_most=3)}); the snapshot "
                f"from the week's facts ({facts:,} rows, filled once by the hourly upkeep in "
                f"{filled_ms:.0f} ms, not timed; each timed snapshot first rewrites the facts of "
                f"{HOUR_TOUCHES:,} leads touched since), deleting them after it "
                f"{purged_ms:.0f} ms. The past "
                f"week read (the snapshot, plus the changes since: {changed} late updates and "
                f"{changed} reopened leads) {read:.1f} ms vs the frozen lines alone "
                f"{bare:.1f} ms: **{page_ratio}**.",
            )


if __name__ == "__main__":
    main()
