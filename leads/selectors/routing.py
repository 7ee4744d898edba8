"""Reads of the router: which team a lead's facts name, and who in it may take the lead.

The pure router (``leads.routing``) decides from plain values; this module
loads those values in a fixed number of queries whatever the team's size
(rules, settings, the teams' members, one grouped count of open leads, one
read of the appointments that could clash) and turns them into candidates.
:func:`preview_route` is the "which owner would get this lead?" tester: it
writes nothing. ``leads.services.routing`` uses the same pieces under the
teams' row locks and stores what it decides.

Keys are the router's: ``m<membership id>`` for a member, ``p<partner id>``
for a partner. A member's open leads are counted by their user (``Lead.rep``),
a partner's by the partner.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from django.db import connection
from django.db.models import Count, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from leadflow.lib import times
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import (
    TIER_WEIGHTS,
    Membership,
    Partner,
    PartnerStatus,
    PartnerTier,
    Role,
    Tenant,
    User,
)
from leads.models import CLOSED_STAGES, Lead, LeadSettings, RoutingRule, Team, TeamMember
from leads.routing import Candidate, LeadFacts, Rule, SkipReason, TeamState, choose
from leads.selectors.settings import lead_settings

# How the no-teams fallback (round robin over every active rep) is named.
ALL_REPS = "All reps"
# The longest appointment booking allows: an older start cannot reach into a new one.
LONGEST_MEETING = timedelta(minutes=480)
SKIP_WORDS = {
    SkipReason.DEACTIVATED: "deactivated",
    SkipReason.SUSPENDED: "suspended",
    SkipReason.ON_LEAVE: "on leave",
    SkipReason.AT_CAPACITY: "at capacity",
    SkipReason.DOUBLE_BOOKED: "booked at that time",
    SkipReason.DECLINED: "declined",
}


@dataclass(frozen=True)
class Owner:
    """One possible owner of a pool, with what the router and people read about them."""

    key: str
    name: str
    rep: User | None
    partner: Partner | None
    weight: int
    capacity: int | None
    on_leave: bool
    active: bool
    suspended: bool


@dataclass
class Pool:
    """The owners a lead may go to: a team's members, or every active rep (``team`` None)."""

    team: Team | None
    name: str
    owners: list[Owner]
    state: TeamState
    # Candidates already built, by (key, open leads, busy, declined): a run of many leads
    # builds one new candidate a lead (the winner's count grew), not the whole team.
    candidates: dict[tuple[str, int, bool, bool], Candidate] = field(default_factory=dict)
    # The owners as candidates with no clash and no decline, in order, as of ``load.grown``
    # up to ``seen``: from one lead to the next only the owners whose count grew change.
    plain: list[Candidate] = field(default_factory=list)
    load: Workload | None = None
    seen: int = 0

    @cached_property
    def index(self) -> dict[str, int]:
        """Each owner's place in ``owners`` (0 for the first)."""
        return {owner.key: n for n, owner in enumerate(self.owners)}

    @cached_property
    def by_key(self) -> dict[str, Owner]:
        return {owner.key: owner for owner in self.owners}

    @cached_property
    def turns(self) -> dict[str, int]:
        """Each owner's place in the team's round (1 for the first)."""
        return {owner.key: n for n, owner in enumerate(self.owners, start=1)}

    @property
    def key(self) -> int | None:
        return self.team.pk if self.team is not None else None


@dataclass(frozen=True)
class Territory:
    """The tenant's active rules in order, its settings and its default team."""

    rules: list[RoutingRule]
    settings: LeadSettings

    @property
    def default_team(self) -> Team | None:
        return self.settings.default_team if self.settings.default_team_id else None

    @cached_property
    def pure_rules(self) -> list[tuple[Rule, RoutingRule]]:
        """Each stored rule with its pure router's view, built once (a run decides thousands)."""
        return [(as_rule(rule), rule) for rule in self.rules]

    def team_for(self, facts: LeadFacts) -> tuple[str, Team | None]:
        """The first matching rule's name and team, else ("", the default team or None)."""
        for pure, rule in self.pure_rules:
            if pure.matches(facts):
                return rule.name, rule.team
        return "", self.default_team


@dataclass(slots=True)
class RouteDecision:
    """Who gets a lead and why: the rule, the team, the owner, their turn and who was skipped.

    Slotted and not frozen (nothing changes one once made): a run makes one a lead, and a
    frozen dataclass's ``__init__`` sets each of its fields the slow way.
    """

    rule: str
    team: Team | None
    team_name: str
    rep: User | None
    partner: Partner | None
    owner_name: str
    turn: int | None
    skips: list[tuple[str, str]]
    state: TeamState
    owner_key: str | None = None
    # The team was the tenant's default (no rule matched): said in ``reason``.
    default: bool = False

    @property
    def reason(self) -> str:
        """The decision in one sentence (worked out when read: a run of 10,000 leads reads it
        only for the few nobody could take)."""
        return explain(
            rule=self.rule,
            team_name=self.team_name,
            fallback=self.team is None,
            default=self.default,
            owner_name=self.owner_name,
            turn=self.turn,
            skips=self.skips,
        )

    @property
    def has_owner(self) -> bool:
        return self.rep is not None or self.partner is not None

    def skips_record(self) -> list[dict[str, str]]:
        """The skips as ``Assignment.skips`` stores them."""
        return [{"owner": name, "reason": reason} for name, reason in self.skips]


@dataclass
class Workload:
    """Open leads per owner key and the appointments that could clash, indexed by time once.

    ``spans`` holds every owner's meetings in one list sorted by start, each with
    the owner's key: a lead's clashes are one bisection and a short scan (the
    meetings starting within the longest meeting before it and before its end),
    whatever the number of owners, instead of one search per owner.
    """

    open_leads: Counter[str] = field(default_factory=Counter)
    spans: list[tuple[datetime, datetime, str]] = field(default_factory=list)
    # The keys whose open count grew within a run (``took``), in order: the pools' candidate
    # lists catch up with them.
    grown: list[str] = field(default_factory=list)

    def took(self, key: str) -> None:
        """``key`` was given one more open lead within the run."""
        self.open_leads[key] += 1
        self.grown.append(key)

    def busy_keys(self, starts_at: datetime | None, duration_minutes: int) -> set[str]:
        """The owner keys with a meeting overlapping ``[starts_at, +duration)``."""
        if starts_at is None or not self.spans:
            return set()
        ends_at = starts_at + timedelta(minutes=duration_minutes)
        spans = self.spans
        found: set[str] = set()
        for index in range(bisect_left(spans, (starts_at - LONGEST_MEETING,)), len(spans)):
            start, end, key = spans[index]
            if start >= ends_at:
                break
            if end > starts_at:
                found.add(key)
        return found

    def busy(self, key: str, starts_at: datetime | None, duration_minutes: int) -> bool:
        """Whether one of ``key``'s meetings overlaps ``[starts_at, +duration)``."""
        return key in self.busy_keys(starts_at, duration_minutes)

    def book(self, key: str, span: tuple[datetime, datetime]) -> None:
        """Add a meeting of ``key`` (a lead given to them within a run), keeping starts sorted."""
        insort(self.spans, (span[0], span[1], key))


def ids_of(ids: Collection[int]) -> RawSQL | list[int]:
    """``ids`` for ``__in`` as one array parameter (10,000 ids: one value, not 10,000); the
    plain list on the embedded SQLite of ``make run``, which has no arrays."""
    if connection.vendor != "postgresql":
        return list(ids)
    return RawSQL("SELECT unnest(%s::bigint[])", (list(ids),))


def as_rule(rule: RoutingRule) -> Rule:
    """The pure router's view of a stored rule."""
    return Rule(
        team=str(rule.team_id),
        countries=frozenset(rule.countries or ()),
        regions=frozenset(rule.regions or ()),
        industries=frozenset(rule.industries or ()),
        size_min=rule.size_min,
        size_max=rule.size_max,
    )


def facts_of(lead: Lead) -> LeadFacts:
    """What the rules look at in a lead's buyer profile."""
    profile: Mapping[str, Any] = lead.profile or {}
    size = profile.get("company_size")
    return LeadFacts(
        country=str(profile.get("country") or ""),
        region=str(profile.get("region") or ""),
        industry=str(profile.get("industry") or ""),
        company_size=size if isinstance(size, int) and not isinstance(size, bool) else None,
    )


def territory(settings: LeadSettings | None = None) -> Territory:
    """The active rules by position with their teams, and the settings. Two queries."""
    rules = list(
        RoutingRule.objects.filter(is_active=True).select_related("team").order_by("position", "id")
    )
    if settings is None:
        settings = lead_settings()
        if settings.default_team_id is not None:
            settings.default_team = Team.objects.filter(pk=settings.default_team_id).first()
    return Territory(rules=rules, settings=settings)


def tenant_day(tenant: Tenant, at: datetime | None = None) -> date:
    """The date in the tenant's time zone (leave is in tenant days)."""
    return (at or timezone.now()).astimezone(times.zone(tenant.timezone)).date()


def load_pools(
    teams: Iterable[Team | None], *, today: date, states: Mapping[int | None, TeamState]
) -> dict[int | None, Pool]:
    """The owners of each team (and of the fallback, for ``None``). One query per kind."""
    teams = list(teams)
    wanted = {team.pk: team for team in teams if team is not None}
    fallback = any(team is None for team in teams)
    pools: dict[int | None, Pool] = {}
    if wanted:
        members = (
            TeamMember.objects.filter(team_id__in=list(wanted))
            .select_related("membership__user", "partner")
            .order_by("team_id", "position", "id")
        )
        for team in wanted.values():
            pools[team.pk] = Pool(
                team=team,
                name=team.name,
                owners=[],
                state=states.get(team.pk, TeamState(team.rotation or {})),
            )
        for member in members:
            pools[member.team_id].owners.append(_owner_of(member, today))
    if fallback:
        reps = (
            Membership.objects.filter(
                role=Role.REP, partner__isnull=True, is_active=True, user__is_active=True
            )
            .select_related("user")
            .order_by("id")
        )
        pools[None] = Pool(
            team=None,
            name=ALL_REPS,
            owners=[_member_owner(membership, None, today) for membership in reps],
            state=states.get(None, TeamState()),
        )
    return pools


def _owner_of(member: TeamMember, today: date) -> Owner:
    if member.membership_id is not None:
        return _member_owner(member.membership, member.weight, today)
    partner: Partner = member.partner
    tier = PartnerTier(partner.tier) if partner.tier in PartnerTier.values else None
    return Owner(
        key=f"p{partner.pk}",
        name=partner.name,
        rep=None,
        partner=partner,
        weight=member.weight or (TIER_WEIGHTS[tier] if tier else 1),
        capacity=partner.capacity,
        on_leave=False,
        active=True,
        suspended=partner.status != PartnerStatus.ACTIVE,
    )


def _member_owner(membership: Membership, weight: int | None, today: date) -> Owner:
    user: User = membership.user
    return Owner(
        key=f"m{membership.pk}",
        name=user.display_name,
        rep=user,
        partner=None,
        weight=weight or 1,
        capacity=membership.capacity,
        on_leave=membership.on_leave(today),
        # A partner's user is never a team's rep: the partner is (one owner per lead).
        active=membership.is_active and user.is_active and membership.partner_id is None,
        suspended=False,
    )


def workload(
    pools: Iterable[Pool],
    *,
    window: tuple[datetime, datetime] | None = None,
    not_leads: Collection[int] = (),
) -> Workload:
    """Open leads per owner (one grouped query) and, when ``window`` is given, the owners'
    open, not cancelled meetings that reach into it (one query). ``not_leads`` are left out
    of both (the leads being routed)."""
    by_user: dict[int, set[str]] = defaultdict(set)
    by_partner: dict[int, set[str]] = defaultdict(set)
    for pool in pools:
        for owner in pool.owners:
            if owner.rep is not None:
                by_user[owner.rep.pk].add(owner.key)
            elif owner.partner is not None:
                by_partner[owner.partner.pk].add(owner.key)
    load = Workload()
    if not by_user and not by_partner:
        return load
    mine = Q(rep_id__in=list(by_user)) | Q(partner_id__in=list(by_partner))
    if not_leads:
        mine &= ~Q(pk__in=ids_of(not_leads))
    open_leads = (
        Lead.objects.filter(mine)
        .exclude(stage__in=[str(stage) for stage in CLOSED_STAGES])
        .values("rep_id", "partner_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in open_leads:
        for key in _keys(row["rep_id"], row["partner_id"], by_user, by_partner):
            load.open_leads[key] += row["n"]
    if window is None:
        return load
    start, end = window
    meetings = (
        Lead.objects.filter(mine)
        .filter(
            appointment__closed_at__isnull=True,
            appointment__cancelled_at__isnull=True,
            appointment__starts_at__lt=end,
            appointment__starts_at__gt=start - LONGEST_MEETING,
        )
        .values_list(
            "rep_id", "partner_id", "appointment__starts_at", "appointment__duration_minutes"
        )
    )
    for rep_id, partner_id, starts_at, minutes in meetings:
        ends_at = starts_at + timedelta(minutes=minutes)
        for key in _keys(rep_id, partner_id, by_user, by_partner):
            load.spans.append((starts_at, ends_at, key))
    load.spans.sort()
    return load


def _keys(
    rep_id: int | None,
    partner_id: int | None,
    by_user: Mapping[int, set[str]],
    by_partner: Mapping[int, set[str]],
) -> set[str]:
    keys: set[str] = set()
    if rep_id is not None:
        keys |= by_user.get(rep_id, set())
    if partner_id is not None:
        keys |= by_partner.get(partner_id, set())
    return keys


def decide(
    pool: Pool,
    load: Workload,
    *,
    rule: str,
    starts_at: datetime | None,
    duration_minutes: int,
    exclude: Collection[str] = (),
    default: bool = False,
) -> RouteDecision:
    """Choose an owner of ``pool`` for one lead with the pure router; changes nothing stored.

    ``exclude`` are the owner keys (``m<id>``/``p<id>``) who declined this lead.
    """
    busy = load.busy_keys(starts_at, duration_minutes)
    candidates = _plain(pool, load)
    if busy or exclude:
        candidates = list(candidates)
        index = pool.index
        for key in busy | set(exclude):
            place = index.get(key)
            if place is not None:
                candidates[place] = _candidate(
                    pool, pool.owners[place], load.open_leads[key], key in busy, key in exclude
                )
    choice = choose(candidates, pool.state)
    by_key = pool.by_key
    skips = (
        [(by_key[key].name, str(reason)) for key, reason in choice.skipped]
        if choice.skipped
        else []
    )
    if choice.key is None:
        return RouteDecision(
            rule, pool.team, pool.name, None, None, "", None, skips, choice.state, None, default
        )
    winner = by_key[choice.key]
    return RouteDecision(
        rule,
        pool.team,
        pool.name,
        winner.rep,
        winner.partner,
        winner.name,
        pool.turns[winner.key],
        skips,
        choice.state,
        winner.key,
        default,
    )


def _plain(pool: Pool, load: Workload) -> list[Candidate]:
    """The pool's owners as candidates with no clash and no decline, caught up with ``load``:
    built once a run, then only the owners whose open count grew (``Workload.took``)."""
    if pool.load is not load:
        pool.plain = [
            _candidate(pool, owner, load.open_leads[owner.key], False, False)
            for owner in pool.owners
        ]
        pool.load = load
        pool.seen = len(load.grown)
    elif pool.seen < len(load.grown):
        index = pool.index
        for key in load.grown[pool.seen :]:
            place = index.get(key)
            if place is not None:
                pool.plain[place] = _candidate(
                    pool, pool.owners[place], load.open_leads[key], False, False
                )
        pool.seen = len(load.grown)
    return pool.plain


def _candidate(pool: Pool, owner: Owner, open_leads: int, busy: bool, declined: bool) -> Candidate:
    """The router's view of ``owner`` with these counts (made once, then reused)."""
    facts = (owner.key, open_leads, busy, declined)
    candidate = pool.candidates.get(facts)
    if candidate is None:
        candidate = pool.candidates[facts] = Candidate(
            key=owner.key,
            weight=owner.weight,
            open_leads=open_leads,
            capacity=owner.capacity,
            on_leave=owner.on_leave,
            active=owner.active,
            suspended=owner.suspended,
            busy_at_time=busy,
            declined=declined,
        )
    return candidate


def explain(
    *,
    rule: str,
    team_name: str,
    fallback: bool,
    default: bool,
    owner_name: str,
    turn: int | None,
    skips: Sequence[tuple[str, str]],
) -> str:
    """One sentence: ``Rule “DACH” → team Central → Robin Rep (turn 3; skipped: Sam on leave)``."""
    parts = [f"Rule “{rule}”"] if rule else ["No rule matched"]
    if fallback:
        parts.append(f"{team_name} (no team)")
    else:
        parts.append(f"{'default ' if default else ''}team {team_name}")
    skipped = ", ".join(f"{name} {SKIP_WORDS.get(SkipReason(r), r)}" for name, r in skips)
    if owner_name:
        details = [f"turn {turn}"] if turn is not None else []
        if skipped:
            details.append(f"skipped: {skipped}")
        parts.append(f"{owner_name} ({'; '.join(details)})" if details else owner_name)
    else:
        parts.append(f"nobody eligible ({skipped})" if skipped else "nobody eligible (no owners)")
    return " → ".join(parts)


def preview_route(
    *,
    facts: LeadFacts,
    starts_at: datetime | None = None,
    duration_minutes: int = 30,
    exclude: Collection[str] = (),
) -> RouteDecision:
    """Who would get a lead with ``facts`` at ``starts_at`` now, and why. Writes nothing.

    At most seven queries whatever the teams' sizes: the tenant, the settings and
    the default team, the rules, the pool's owners, one grouped count of open leads,
    and (given a time) the meetings that could clash.
    """
    tenant = Tenant.objects.get(pk=require_tenant_id())
    land = territory()
    rule, team = land.team_for(facts)
    states: dict[int | None, TeamState] = {None: TeamState(land.settings.rotation or {})}
    pools = load_pools([team], today=tenant_day(tenant), states=states)
    pool = pools[team.pk if team is not None else None]
    window = None
    if starts_at is not None:
        window = (starts_at, starts_at + timedelta(minutes=duration_minutes))
    load = workload([pool], window=window)
    return decide(
        pool,
        load,
        rule=rule,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        exclude=exclude,
        default=not rule and team is not None,
    )
