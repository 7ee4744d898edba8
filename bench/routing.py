"""Benchmark: routing 10,000 booked leads with ``route_leads`` against a plain UPDATE.

    python bench/routing.py [--leads 10000] [--pairs 6] [--no-record] [--note TEXT]

Creates its own PostgreSQL database ``leadflow_bench_routing`` (dropped first
if it exists, and again at the end) as ``leadflow_owner``, migrates it and
generates one tenant with ``--leads`` inquiries, each booked as a lead awaiting
acceptance with no owner (its meeting spread over the last year, so no
calendar moves: those are one message per meeting, by design), and 2 teams ×
10 reps: a rule sends DE/FR/NL/GB leads to one team, the rest go to the default
team (all in SQL, not timed). Timed as the runtime role under row-level
security, figure and baseline in ``--pairs`` pairs in ABBA order
(``common.alternate``):

* figure — ``leads.services.routing.route_leads`` over every lead (kind
  ``routed``): rules, locks, candidates, the pure router per lead, one statement
  writing the leads and their Assignment records (an UPDATE into an INSERT since
  2026-12-08; the meeting's rep is read through its lead since 2026-12-07), the
  run's one audit row, the rotation, one assignment email per owner;
* baseline — one plain ``UPDATE leads_lead SET rep_id = v.rep FROM (VALUES …)``
  giving the same leads the same owners (the figure's own result).

Between runs the leads are given back (no owner) and the run's assignments,
audit rows and emails deleted, untimed. Goal ≤ 2×. Prints the figures and
appends them to ``docs/performance.md``. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from common import (
    Ratio,
    alternate,
    drop_database,
    fresh_database,
    generate_tenant,
    goal,
    machine,
    migrate,
    record,
    today,
)

DB = "leadflow_bench_routing"
HEADING = "## Routing booked leads"
INTRO = (
    "`python bench/routing.py` (see `bench/README.md`): 10,000 booked leads awaiting an "
    "owner, 2 teams × 10 reps (a territory rule and a default team). "
    "`leads.services.routing.route_leads` (rules, team locks, candidates, the pure router per "
    "lead, one statement writing the leads and their Assignment records, one audit row a run, one "
    "email per owner) against one plain `UPDATE leads_lead SET rep_id = v.rep "
    "FROM (VALUES …)` of the same owners, as the runtime role under row-level security — "
    "goal ≤ 2×. Each run appends its figures here."
)
TEAM_SIZE = 10

APPOINTMENTS_SQL = """
INSERT INTO inquiries_appointment (
    tenant_id, inquiry_id, starts_at, duration_minutes, location, notes,
    message_to_buyer, uid, sequence, booked_by_id, created_at, confirmation_sent_at,
    closed_at, held_at, no_show_at, cancelled_at, cancel_reason)
SELECT i.tenant_id, i.id, now() - interval '1 hour' - ((i.id * 53) %% 525600) * interval '1 minute',
    30, '', 'internal', '', 'bench-' || i.id || '@leadflow.bench', 0, NULL, now(),
    NULL, NULL, NULL, NULL, NULL, ''
FROM inquiries_inquiry i WHERE i.tenant_id = %(tenant)s
"""

LEADS_SQL = """
INSERT INTO leads_lead (
    tenant_id, inquiry_id, appointment_id, stage, rep_id, partner_id, team_id, profile, score,
    score_breakdown, definition_version, created_at, closed_at, assigned_at,
    acceptance_due_at, accepted_at, breached_at, reject_kind, reject_reason, qualified_at,
    budget, authority, need, timeline, value, closed_on, lost_reason, postponed_until,
    next_step_on, next_step, last_update_week)
SELECT a.tenant_id, a.inquiry_id, a.id, 'awaiting_acceptance', NULL, NULL, NULL,
    jsonb_build_object('first_name', i.first_name, 'last_name', i.last_name,
        'email', i.email, 'company', i.company, 'country', i.country,
        'industry', i.industry, 'company_size', i.company_size, 'interest', i.interest),
    i.score, '[]'::jsonb, 1, now(), NULL, now(), NULL, NULL, NULL, '', '', NULL,
    '', '', '', '', NULL, NULL, '', NULL, NULL, '', NULL
FROM inquiries_appointment a JOIN inquiries_inquiry i ON i.id = a.inquiry_id
WHERE a.tenant_id = %(tenant)s
"""

RESET_SQL = [
    "UPDATE leads_lead SET rep_id = NULL, partner_id = NULL, team_id = NULL, "
    "acceptance_due_at = NULL WHERE tenant_id = %(tenant)s",
    "DELETE FROM leads_assignment WHERE tenant_id = %(tenant)s",
    "DELETE FROM tenancy_auditevent WHERE tenant_id = %(tenant)s AND action = 'routing.run'",
    "DELETE FROM outbox_outboxmessage WHERE tenant_id = %(tenant)s",
    "UPDATE leads_team SET rotation = '{}'::jsonb WHERE tenant_id = %(tenant)s",
]


def _teams(tenant):
    """2 teams × 10 reps, a rule for one of them and the other as the default team."""
    from django.contrib.auth.hashers import make_password

    from leadflow.tenancy.context import tenant_context
    from leadflow.tenancy.models import Membership, Role, User
    from leads.models import LeadSettings, RoutingRule, Team, TeamMember

    password = make_password("bench-password")
    users = User.objects.bulk_create(
        [
            User(email=f"rep{n}@routing.bench", full_name=f"Rep {n}", password=password)
            for n in range(2 * TEAM_SIZE)
        ]
    )
    with tenant_context(tenant):
        members = Membership.objects.bulk_create(
            [Membership(tenant=tenant, user=user, role=Role.REP) for user in users]
        )
        west = Team.objects.create(tenant=tenant, name="West")
        rest = Team.objects.create(tenant=tenant, name="Everywhere else")
        TeamMember.objects.bulk_create(
            [
                TeamMember(
                    tenant=tenant,
                    team=west if n < TEAM_SIZE else rest,
                    membership=membership,
                    position=n,
                    weight=1 + n % 3,
                )
                for n, membership in enumerate(members)
            ]
        )
        RoutingRule.objects.create(
            tenant=tenant, name="Western Europe", team=west, countries=["DE", "FR", "NL", "GB"]
        )
        LeadSettings.objects.create(tenant=tenant, default_team=rest)


def _generate(tenant) -> int:
    from django.db import connections, transaction

    from leadflow.tenancy.context import tenant_context

    _teams(tenant)
    owner = connections["owner"]
    with tenant_context(tenant), transaction.atomic(using="owner"), owner.cursor() as cur:
        cur.execute(APPOINTMENTS_SQL, {"tenant": tenant.pk})
        cur.execute(LEADS_SQL, {"tenant": tenant.pk})
        cur.execute("SELECT count(*) FROM leads_lead WHERE tenant_id = %s", [tenant.pk])
        total = cur.fetchone()[0]
    with owner.cursor() as cur:
        for table in ("inquiries_appointment", "leads_lead"):
            cur.execute(f"VACUUM ANALYZE {table}")
    return total


def _reset(tenant) -> None:
    from django.db import connections, transaction

    from leadflow.tenancy.context import tenant_context

    owner = connections["owner"]
    with tenant_context(tenant), transaction.atomic(using="owner"), owner.cursor() as cur:
        for sql in RESET_SQL:
            cur.execute(sql, {"tenant": tenant.pk})


def _time_phases(call) -> None:
    """Time each step of ``route_leads`` (wrapping the module's functions) over one call."""
    from collections import defaultdict

    from leads.services import routing

    spent: dict[str, float] = defaultdict(float)
    names = [
        "_locked_leads",
        "territory",
        "load_pools",
        "workload",
        "_declined",
        "decide",
        "_store",
        "_save_rotation",
        "_audit",
        "_update_given",
        "_invite",
        "_email_new_owners",
        "_alert_managers",
    ]
    for name in names:
        original = getattr(routing, name)

        def timed(*a, __original=original, __name=name, **k):
            begun = time.perf_counter()
            try:
                return __original(*a, **k)
            finally:
                spent[__name] += (time.perf_counter() - begun) * 1000

        setattr(routing, name, timed)
    from django.db import connection

    statements: list[tuple[float, str]] = []

    def timer(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = (time.perf_counter() - began) * 1000
            statements.append((elapsed, " ".join(sql.split())[:80]))

    with connection.execute_wrapper(timer):
        total = call()
    for name in names:
        print(f"  {name:22} {spent[name]:8.1f} ms")
    print(f"  {'total':22} {total:8.1f} ms")
    print("  statements over 5 ms (the commit is not one):")
    for elapsed, sql in statements:
        if elapsed > 5:
            print(f"    {elapsed:8.1f} ms  {sql}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=6, help="figure/baseline pairs (ABBA)")
    parser.add_argument("--no-record", action="store_true", help="leave docs/performance.md")
    parser.add_argument("--profile", action="store_true", help="cProfile one routing, no pairs")
    parser.add_argument("--phases", action="store_true", help="time route_leads' steps, no pairs")
    parser.add_argument("--note", default="", help="said beside the figures (e.g. busy machine)")
    args = parser.parse_args()
    os.environ.pop("REDIS_URL", None)
    fresh_database(DB)
    try:
        migrate()
        from django.db import connection, transaction

        from leadflow.tenancy.context import tenant_context
        from leadflow.tenancy.principal import Principal
        from leads.models import AssignmentKind, Lead
        from leads.services.routing import route_leads

        started = time.perf_counter()
        tenant, _, _ = generate_tenant("bench", args.leads, activities=False)
        total = _generate(tenant)
        print(
            f"generated {total:,} leads awaiting an owner in {time.perf_counter() - started:.1f} s"
        )
        with tenant_context(tenant):
            ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
        by = Principal.system(tenant, "bench")
        owners: dict[int, int | None] = {}
        unowned = [0]

        def figure(run: int) -> float:
            _reset(tenant)
            leads = [Lead(pk=pk, tenant_id=tenant.pk) for pk in ids]
            with tenant_context(tenant):
                begun = time.perf_counter()
                assignments = route_leads(leads=leads, kind=AssignmentKind.ROUTED, by=by)
                elapsed = (time.perf_counter() - begun) * 1000
            owners.clear()
            owners.update({a.lead_id: a.rep_id for a in assignments})
            unowned[0] = sum(1 for rep in owners.values() if rep is None)
            return elapsed

        def baseline(run: int) -> float:
            if not owners:  # the first pair in reverse order: the figure's owners first
                figure(run)
            _reset(tenant)
            values = ", ".join(["(%s::bigint, %s::bigint)"] * len(owners))
            params: list[int | None] = []
            for lead_id, rep_id in owners.items():
                params += [lead_id, rep_id]
            params.append(tenant.pk)
            sql = (
                "UPDATE leads_lead SET rep_id = v.rep FROM (VALUES "
                + values
                + ") AS v(id, rep) WHERE leads_lead.tenant_id = %s AND leads_lead.id = v.id"
            )
            with tenant_context(tenant):
                begun = time.perf_counter()
                with transaction.atomic(), connection.cursor() as cur:
                    cur.execute(sql, params)
                    updated = cur.rowcount
                elapsed = (time.perf_counter() - begun) * 1000
            assert updated == len(owners), f"baseline updated {updated} of {len(owners)}"
            return elapsed

        if args.phases:
            _time_phases(lambda: figure(0))
            return
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(figure, 0)
            pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(40)
            return
        counted = alternate({"figure": figure, "baseline": baseline}, args.pairs)
        ratio = Ratio.of(counted["figure"], counted["baseline"])
        figure_ms = statistics.median(counted["figure"])
        baseline_ms = statistics.median(counted["baseline"])
        lines = [
            f"{total:,} leads, 2 teams × {TEAM_SIZE} reps, {unowned[0]} without an owner",
            f"  route_leads: {figure_ms:.1f} ms, plain UPDATE … FROM (VALUES …): "
            f"{baseline_ms:.1f} ms (medians)",
            f"  ratio {ratio} — goal ≤ 2×, {goal(ratio, at_most=2)}",
        ]
        print("\n".join(lines))
        if not args.no_record:
            note = f" ({args.note})" if args.note else ""
            record(
                HEADING,
                INTRO,
                f"- {today()}{note}, {machine()}: {total:,} leads, 2 teams × {TEAM_SIZE} reps; "
                f"{args.pairs} pairs in ABBA order — route_leads {figure_ms:.1f} ms vs plain "
                f"UPDATE {baseline_ms:.1f} ms: **{ratio}** ({goal(ratio, at_most=2)}).",
            )
    finally:
        drop_database(DB)


if __name__ == "__main__":
    main()
