"""The demo's leads: a few appointments booked for the top of the MQL queue.

Through the booking service a qualifier's click calls: the qualifier books
the best-scored MQLs for the tenant's rep, and (where a partner referred
people) a couple of the partner's referrals for the partner. Runs after the
marketing demo (``inquiries/demo.py``), only into a tenant whose inquiries it
just seeded; the random choices come from a fixed seed.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from inquiries.demo import DEMO_RANDOM_SEED, acting_member
from inquiries.models import Inquiry, Stage
from leadflow.lib import stages, weeks
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.models import Tenant
from leadflow.tenancy.principal import Principal
from leads import stages as lead_stages
from leads.models import Lead
from leads.selectors.weekly import current_week
from leads.services.booking import book_appointment
from leads.services.touches import log_touch
from leads.services.updates import record_weekly_update

DEMO_LEADS = 14  # booked by the qualifier for the tenant's rep (their week: see _rep_week)
DEMO_PARTNER_LEADS = 2  # a partner's referrals booked for the partner (Acme only)


def seed_demo_leads(*, tenant: Tenant) -> int:
    """Book the demo tenant's appointments (its inquiries were just seeded), then its teams,
    rules and this quarter's targets; how many booked."""
    with tenant_context(tenant), transaction.atomic():
        booked = _book(tenant)
        seed_demo_desk(tenant=tenant)
        seed_demo_routing(tenant=tenant)
        booked += seed_demo_partner_weeks(tenant=tenant)
    seed_demo_targets(tenant=tenant)
    seed_demo_registrations(tenant=tenant)
    return booked


def _book(tenant: Tenant) -> int:
    slug = tenant.slug
    rng = random.Random(f"{DEMO_RANDOM_SEED}-{slug}-leads")
    now = timezone.now()
    tz = ZoneInfo(tenant.timezone)
    qualifier = acting_member(tenant, f"qualifier@{slug}.example")
    rep = acting_member(tenant, f"rep@{slug}.example")
    mqls = list(
        Inquiry.objects.filter(stage=Stage.MQL, partner__isnull=True).order_by("-score", "id")
    )
    booked = 0
    reps_leads = []
    # At most half the queue is booked: the rest waits for the qualifier.
    for day, inquiry in enumerate(mqls[: min(DEMO_LEADS, len(mqls) // 2)], start=1):
        lead = book_appointment(
            inquiry=inquiry,
            starts_at=_working_hour(now, day, tz, rng),
            rep=rep.user,
            location="Video call",
            notes="Decision-maker confirmed; wants to see the ROI figures.",
            message_to_buyer="Looking forward to our call.",
            by=qualifier,
        )
        reps_leads.append(lead)
        booked += 1
    _rep_week(reps_leads, rep, tz, rng)
    referrals = Inquiry.objects.filter(stage=Stage.MQL, partner__isnull=False).order_by(
        "-score", "id"
    )
    for day, inquiry in enumerate(referrals[:DEMO_PARTNER_LEADS], start=2):
        book_appointment(
            inquiry=inquiry,
            starts_at=_working_hour(now, day, tz, rng),
            location="On site",
            by=qualifier,
        )
        booked += 1
    return booked


def _working_hour(now: datetime, days_ahead: int, tz: ZoneInfo, rng: random.Random) -> datetime:
    local = (now + timedelta(days=days_ahead)).astimezone(tz)
    while local.weekday() >= 5:
        local += timedelta(days=1)
    return local.replace(hour=rng.choice((9, 10, 11, 14, 15)), minute=0, second=0, microsecond=0)


# What the rep's week shows: (weeks since assigned, stage, touches, this week's report).
# The first two stay awaiting acceptance (the start page's tile and "accept these first").
WEEK_PLAN = [
    (0, "awaiting_acceptance", 0, None),
    (0, "awaiting_acceptance", 0, None),
    (3, "sql", 6, "progress"),
    (2, "accepted", 3, "progress"),
    (4, "sql", 9, "won"),
    (2, "accepted", 2, "lost"),
    (3, "accepted", 5, "postponed"),
    (1, "accepted", 1, None),
    (2, "sql", 4, None),
    (1, "accepted", 0, None),
    (3, "accepted", 7, None),  # the late backlog: no update for two weeks
    (2, "sql", 3, "progress"),
    (1, "accepted", 2, None),
    (2, "accepted", 1, None),
]
KINDS = [("call", "no_answer"), ("email", "replied"), ("call", "reached"), ("meeting", "reached")]
NEXT_STEPS = ["Send the ROI figures", "Call back after the board meeting", "Demo for the IT lead"]


def _rep_week(leads: list[Lead], rep: Principal, tz: ZoneInfo, rng: random.Random) -> None:
    """Accept, qualify, touch and report on the rep's leads so My week shows a real week.

    Through the services (touches, weekly updates, closes); only the dates a
    seed cannot wait for (when the rep got the lead) are set directly.
    """
    now = timezone.now()
    this_week = current_week(tz)
    for n, (lead, (weeks_ago, stage, touches, report)) in enumerate(
        zip(leads, WEEK_PLAN, strict=False)
    ):
        if stage == "awaiting_acceptance":
            continue
        assigned = now - timedelta(weeks=weeks_ago, days=8)
        Lead.objects.filter(pk=lead.pk).update(
            assigned_at=assigned,
            next_step_on=(now + timedelta(days=1 + n % 6)).date() if n % 2 else None,
            next_step=NEXT_STEPS[n % len(NEXT_STEPS)] if n % 2 else "",
        )
        lead.refresh_from_db()
        stages.move(
            lead,
            "accepted",
            by=rep,
            also={"accepted_at": assigned + timedelta(hours=5)},
            only_from=["awaiting_acceptance"],
            machine_name=lead_stages.MACHINE,
        )
        if stage == "sql":
            stages.move(
                lead,
                "sql",
                by=rep,
                also={"qualified_at": now, "budget": "50k", "need": "Fleet tracking"},
                only_from=["accepted"],
                machine_name=lead_stages.MACHINE,
            )
        for t in range(touches):
            kind, outcome = KINDS[(n + t) % len(KINDS)]
            log_touch(
                inquiry=lead.inquiry,
                lead=lead,
                kind=kind,
                outcome=outcome,
                note=rng.choice(["", "Voicemail.", "Asked for pricing.", "Sent the deck."]),
                at=max(lead.inquiry.created_at, now - timedelta(days=touches - t, hours=3)),
                by=rep,
            )
        # Every past week reported, but for one lead: the late backlog.
        first_week = weeks.week_of_moment(assigned, tz)
        past = [this_week - timedelta(weeks=w) for w in range(1, 9)]
        for monday in [] if n == 10 else [m for m in past if m >= first_week]:
            record_weekly_update(
                lead=lead,
                status="progress",
                note=rng.choice(
                    ["Followed up by email.", "Left a voicemail.", "Sent a case study."]
                ),
                week=monday,
                by=rep,
            )
        if report == "progress":
            record_weekly_update(
                lead=lead,
                status="progress",
                note="Talked budget; proposal next week.",
                touch={"kind": "call", "outcome": "reached"},
                by=rep,
            )
        elif report == "won":
            record_weekly_update(lead=lead, status="won", value="18500", note="Signed.", by=rep)
        elif report == "lost":
            record_weekly_update(
                lead=lead,
                status="lost",
                lost_reason="buyer declined",
                note="Chose to keep their spreadsheets.",
                by=rep,
            )
        elif report == "postponed":
            record_weekly_update(
                lead=lead,
                status="postponed",
                postponed_until=(now + timedelta(days=60)).date(),
                note="Budget opens next quarter.",
                by=rep,
            )


# --- Routing: teams, territory rules and a default team (issue 16) ----------------------

# (team, [(member email or partner name, weight)]) per tenant; a partner is named as it is.
DEMO_TEAMS = {
    "acme": [
        ("North America", [("rep@acme.example", 2), ("manager@acme.example", None)]),
        ("Channel", [("Northwind Dealers", None), ("Contoso Value-Added Resellers", None)]),
    ],
    "globex": [
        ("DACH", [("rep@globex.example", 2), ("manager@globex.example", None)]),
    ],
}
# (rule, team, countries, industries, size_min) per tenant, in the router's order.
DEMO_RULES = {
    "acme": [
        ("Latin America and the UK through partners", "Channel", ["MX", "BR", "GB"], [], None),
        ("Large logistics accounts", "North America", [], ["logistics"], 1000),
    ],
    "globex": [
        ("German-speaking countries", "DACH", ["DE", "AT", "CH"], [], None),
    ],
}
DEMO_DEFAULT_TEAM = {"acme": "North America", "globex": "DACH"}
DEMO_SECOND_PARTNER = "Contoso Value-Added Resellers"


def seed_demo_routing(*, tenant: Tenant) -> int:
    """The tenant's demo teams (reps; partners of two tiers), rules and default team, through
    the routing service; nothing when the tenant has teams already. How many rules."""
    from leadflow.tenancy import services as tenancy_services
    from leadflow.tenancy.models import Membership, Partner, PartnerKind, PartnerTier
    from leads.models import Team
    from leads.services import teams as routing

    slug = tenant.slug
    if slug not in DEMO_TEAMS or Team.objects.exists():
        return 0
    by = acting_member(tenant, f"admin@{slug}.example")
    if slug == "acme" and not Partner.objects.filter(name=DEMO_SECOND_PARTNER).exists():
        contoso = tenancy_services.create_partner(
            name=DEMO_SECOND_PARTNER, kind=PartnerKind.VAR, by=by
        )
        # Silver: beside Northwind (gold) the Channel team shows two tiers' weights (3 and 2).
        tenancy_services.set_partner_routing(
            partner=contoso, tier=PartnerTier.SILVER, capacity=None, by=by
        )
    teams = {}
    for name, places in DEMO_TEAMS[slug]:
        members = []
        for who, weight in places:
            row = (
                Membership.objects.select_related("user").filter(user__email=who).first()
                if "@" in who
                else Partner.objects.filter(name=who).first()
            )
            if row is not None:
                members.append((row, weight))
        teams[name] = routing.save_team(team=None, name=name, members=members, by=by)
    for name, team, countries, industries, size_min in DEMO_RULES[slug]:
        routing.create_rule(
            name=name,
            team=teams[team],
            countries=countries,
            industries=industries,
            size_min=size_min,
            by=by,
        )
    routing.set_default_team(team=teams[DEMO_DEFAULT_TEAM[slug]], by=by)
    return len(DEMO_RULES[slug])


# --- Quarterly targets ------------------------------------------------------------------

# (value, won leads) per quarter: the rep's, and each active partner's.
DEMO_REP_TARGET = ("60000", 6)
DEMO_PARTNER_TARGET = ("25000", 3)


def seed_demo_targets(*, tenant: Tenant) -> int:
    """This quarter's targets (tenant's zone) for the demo rep and the active partners; how many.

    Set by the tenant's manager through ``set_target`` (audited, as the page
    does it); a second run replaces them with the same values.
    """
    from leadflow.tenancy.models import Partner, PartnerStatus
    from leads.selectors.targets import current_quarter, selling_reps
    from leads.services.targets import set_target

    with tenant_context(tenant), transaction.atomic():
        manager = acting_member(tenant, f"manager@{tenant.slug}.example")
        quarter = current_quarter(ZoneInfo(tenant.timezone))
        owners: list[dict] = [
            {"rep": user} for user in selling_reps().filter(email=f"rep@{tenant.slug}.example")
        ]
        owners += [{"partner": p} for p in Partner.objects.filter(status=PartnerStatus.ACTIVE)]
        for owner in owners:
            value, count = DEMO_REP_TARGET if "rep" in owner else DEMO_PARTNER_TARGET
            set_target(
                year=quarter.year,
                quarter=quarter.number,
                value=value,
                count=count,
                by=manager,
                **owner,
            )
        return len(owners)


# --- The partner portal (issue 17): one compliant partner, one about to be suspended -----

DEMO_PORTAL_LEADS = 3  # accepted leads each of the two partners works (Acme only)
DEMO_PORTAL_WEEKS = 4
DEMO_MQLS_KEPT = (
    3  # MQLs the portal's bookings leave in the inbox  # how many weeks ago the partners got them
)
DEMO_SECOND_PARTNER_USER = "partner@contoso.example"
DEMO_SECOND_PARTNER_USER_NAME = "Carlos Mendoza"


def seed_demo_partner_weeks(*, tenant: Tenant) -> int:
    """Northwind reports every week (compliant); Contoso missed last week's updates (the
    last closed week: warned, suspended if it misses this one too). How many booked.

    Through the services: the qualifier books the next MQLs, the manager gives
    them to the partners, the partners' users accept and report; only when the
    partner got the lead is set directly (a seed cannot wait four weeks). A
    user of Contoso is added so its portal (and its warning) can be seen.
    """
    from leadflow.tenancy import services as tenancy_services
    from leadflow.tenancy.demo import DEMO_PARTNER, DEMO_PASSWORD
    from leadflow.tenancy.models import Membership, Partner
    from leads.services.ownership import change_owner

    northwind = Partner.objects.filter(name=DEMO_PARTNER).first()
    contoso = Partner.objects.filter(name=DEMO_SECOND_PARTNER).first()
    if tenant.slug != "acme" or northwind is None or contoso is None:
        return 0
    if Lead.objects.filter(partner=contoso).exists():
        return 0
    admin = acting_member(tenant, f"admin@{tenant.slug}.example")
    if not Membership.objects.filter(user__email=DEMO_SECOND_PARTNER_USER).exists():
        tenancy_services.add_member(
            email=DEMO_SECOND_PARTNER_USER,
            role="rep",
            password=DEMO_PASSWORD,
            full_name=DEMO_SECOND_PARTNER_USER_NAME,
            partner=contoso,
            by=admin,
        )
    rng = random.Random(f"{DEMO_RANDOM_SEED}-{tenant.slug}-portal")
    tz = ZoneInfo(tenant.timezone)
    now = timezone.now()
    this_week = current_week(tz)
    last_week = this_week - timedelta(weeks=1)
    qualifier = acting_member(tenant, f"qualifier@{tenant.slug}.example")
    manager = acting_member(tenant, f"manager@{tenant.slug}.example")
    users = {
        northwind.pk: acting_member(tenant, "partner@northwind.example"),
        contoso.pk: acting_member(tenant, DEMO_SECOND_PARTNER_USER),
    }
    # The next MQLs, leaving the inbox a few to triage; then the best of nurture (people
    # nurture brought back, which is what it is for).
    wanted = 2 * DEMO_PORTAL_LEADS
    queue = list(
        Inquiry.objects.filter(stage=Stage.MQL, partner__isnull=True).order_by("-score", "id")
    )
    mqls = queue[: max(0, len(queue) - DEMO_MQLS_KEPT)][:wanted]
    if len(mqls) < wanted:
        mqls += list(
            Inquiry.objects.filter(stage=Stage.NURTURE, partner__isnull=True).order_by(
                "-score", "id"
            )[: wanted - len(mqls)]
        )
    for n, inquiry in enumerate(mqls):
        partner = northwind if n < DEMO_PORTAL_LEADS else contoso
        by = users[partner.pk]
        lead = book_appointment(
            inquiry=inquiry,
            starts_at=_working_hour(now, 1 + n, tz, rng),
            rep=manager.user,
            location="On site",
            by=qualifier,
        )
        change_owner(lead=lead, partner=partner, by=manager, reason="Demo: the partner's region")
        assigned = now - timedelta(weeks=DEMO_PORTAL_WEEKS, days=2)
        Lead.objects.filter(pk=lead.pk).update(assigned_at=assigned)
        lead.refresh_from_db()
        stages.move(
            lead,
            "accepted",
            by=by,
            also={"accepted_at": assigned + timedelta(hours=3 + 6 * n)},
            only_from=["awaiting_acceptance"],
            machine_name=lead_stages.MACHINE,
        )
        first_week = weeks.week_of_moment(assigned, tz)
        past = [this_week - timedelta(weeks=w) for w in range(1, DEMO_PORTAL_WEEKS + 2)]
        for monday in sorted(m for m in past if m >= first_week):
            if partner == contoso and monday == last_week:
                continue  # Contoso's gap: last week's updates are missing
            record_weekly_update(
                lead=lead,
                status="progress",
                note=rng.choice(["Site visit done.", "Quote sent.", "Waiting on their IT."]),
                week=monday,
                by=by,
            )
    return len(mqls)


# --- Deal registrations -----------------------------------------------------------------

DEMO_REGISTERED_DEAL = {
    "company": "Hafenwerk Logistik GmbH",
    "company_domain": "hafenwerk-logistik.example",
    "first_name": "Jana",
    "last_name": "Petersen",
    "email": "jana.petersen@hafenwerk-logistik.example",
    "country": "DE",
    "need": "Twelve autonomous forklifts for the new Hamburg cross-dock, live by Q3.",
}


def seed_demo_registrations(*, tenant: Tenant) -> int:
    """The demo partner's two deal registrations (Acme only); how many made.

    One became a lead (booked by the qualifier, so protected for the partner);
    the other names a buyer the rep already works, so it is refused. Through
    the services the page and the API call; nothing when the tenant has
    registrations already.
    """
    from leadflow.tenancy.models import Membership
    from leads.models import DealRegistration
    from leads.services.registrations import register_deal

    with tenant_context(tenant), transaction.atomic():
        partner_users = Membership.objects.filter(partner__isnull=False).values_list(
            "user__email", flat=True
        )
        if tenant.slug != "acme" or not partner_users or DealRegistration.objects.exists():
            return 0
        partner = acting_member(tenant, partner_users[0])
        if partner.partner is None:
            return 0
        registered = register_deal(partner=partner.partner, by=partner, **DEMO_REGISTERED_DEAL)
        qualifier = acting_member(tenant, f"qualifier@{tenant.slug}.example")
        tz = ZoneInfo(tenant.timezone)
        rng = random.Random(f"{DEMO_RANDOM_SEED}-{tenant.slug}-deals")
        book_appointment(
            inquiry=Inquiry.objects.get(pk=registered.inquiry_id),
            starts_at=_working_hour(timezone.now(), 3, tz, rng),
            location="On site",
            by=qualifier,
        )
        worked = (
            Lead.objects.filter(partner__isnull=True, rep__isnull=False)
            .select_related("inquiry")
            .order_by("id")
            .first()
        )
        if worked is None:
            return 1
        register_deal(
            partner=partner.partner,
            by=partner,
            company=worked.inquiry.company or "Known buyer",
            email=worked.inquiry.email,
            country=worked.inquiry.country,
            need="Heard they are expanding; would like to quote.",
        )
        return 2


def seed_demo_desk(*, tenant: Tenant) -> int:
    """The qualifier's desk (issue 23): the oldest unassigned MQLs taken and worked (touches,
    notes, tasks due today, late and later), and a shared inbox view; how many worked."""
    from inquiries.services import desk, reminders, triage

    now = timezone.now()
    qualifier = acting_member(tenant, f"qualifier@{tenant.slug}.example")
    worked = list(
        Inquiry.objects.filter(stage=Stage.MQL, assigned_to__isnull=True).order_by(
            "created_at", "id"
        )[:3]
    )
    script = [
        (("call", "no_answer"), ("email", "replied"), "Wants pricing for 40 seats; CFO signs.", 2),
        (("call", "left_message"), None, "Assistant says back from a trade fair on Monday.", -3),
        (("email", "no_answer"), ("call", "reached"), "Evaluating two vendors; demo in Q1.", 26),
    ]
    for inquiry, (first, second, note, due_in_hours) in zip(worked, script, strict=False):
        desk.assign_inquiry(inquiry=inquiry, assignee=qualifier.user, by=qualifier)
        for n, touch in enumerate(t for t in (first, second) if t):
            at = max(now - timedelta(hours=30 - 6 * n), inquiry.created_at + timedelta(minutes=5))
            log_touch(
                inquiry=inquiry, kind=touch[0], outcome=touch[1], at=min(at, now), by=qualifier
            )
        desk.add_note(inquiry=inquiry, text=note, by=qualifier)
        reminders.create_task(
            inquiry=inquiry,
            due_at=now + timedelta(hours=due_in_hours),
            note="Call back" if due_in_hours > 0 else "Call back — was due this morning",
            by=qualifier,
        )
    triage.save_inbox_view(
        name="Untouched MQLs", query="stage=mql&touched=none", shared=True, by=qualifier
    )
    return len(worked)
