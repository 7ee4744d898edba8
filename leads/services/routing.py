"""The router wired in (issue 16): giving leads to owners, recording why, telling people.

:func:`route_leads` is the one way the router changes owners — at booking
(``BOOKED``), after a ``cannot_serve`` rejection, and on recall. It is
set-based: the leads, the rules and the tenant's settings are read once, the
involved teams' rows (and the settings row, for the no-teams round robin) are
locked so two bookings at once never take the same turn, each lead is decided
in memory with the pure router (open counts grow within the run, so caps
hold), and then one statement writes the leads and their
:class:`~leads.models.Assignment` records (an ``UPDATE`` and an ``INSERT`` of
what it updated), and one the run's audit row. People are told through the
outbox: each new owner one email listing their leads (buyer, company, need,
meeting time in their zone, the lead's link — never the score breakdown or
internal notes), a recalled owner one email saying why, and managers one
alert when a lead found nobody or was recalled. A meeting still ahead also
moves calendars (``ownership``'s invites; that part is one message per
meeting).

:func:`record_assignment` records a booking's named owner or referring
partner (no routing). :func:`recall_leads` is the 15-minute scan: awaiting
leads past their acceptance window are marked breached and rerouted, and
accepted/SQL leads without a touch, an update or a new owner for
``recall_after_days`` are rerouted too; a rerun finds nothing to do.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.fields.json import KT
from django.utils import timezone

from leadflow import outbox
from leadflow.lib import times
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import Membership, Partner, Tenant, User
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leadflow.tenancy.services import record_audit
from leads.models import (
    CLOSED_STAGES,
    REPORTED_STAGES,
    Assignment,
    AssignmentKind,
    Lead,
    LeadSettings,
    LeadStage,
    Team,
    TeamMember,
    Touch,
    WeeklyUpdate,
)
from leads.routing import LeadFacts, TeamState
from leads.selectors.appointments import owner_people
from leads.selectors.routing import (
    Pool,
    RouteDecision,
    decide,
    ids_of,
    load_pools,
    tenant_day,
    territory,
    workload,
)
from leads.selectors.settings import lead_settings
from leads.services import webhook_events
from leads.services.booking import acceptance_due

logger = logging.getLogger(__name__)

# Kinds whose previous owner gave the lead up: they are not offered it again.
REROUTES = (
    AssignmentKind.CANNOT_SERVE,
    AssignmentKind.RECALL_UNACCEPTED,
    AssignmentKind.RECALL_IDLE,
)
RECALLS = (AssignmentKind.RECALL_UNACCEPTED, AssignmentKind.RECALL_IDLE)
WHY = {
    AssignmentKind.RECALL_UNACCEPTED: "not accepted in time",
    AssignmentKind.RECALL_IDLE: "no touch or update",
    AssignmentKind.CANNOT_SERVE: "the owner cannot serve it",
}

# The leads and their records in one statement: the UPDATE gives each lead its owner and
# hands its row of the arrays on to the INSERT of the lead's Assignment record (only the leads
# it updated get one). Nothing is returned: the emails and the caller read the decisions.
ROUTE_SQL = """
WITH moved AS (
    UPDATE leads_lead AS l SET
        rep_id = v.rep_id,
        partner_id = v.partner_id,
        team_id = v.team_id,
        assigned_at = %(now)s,
        acceptance_due_at = CASE WHEN l.stage = 'awaiting_acceptance'
            THEN (CASE WHEN v.owned THEN %(due)s::timestamptz END) ELSE l.acceptance_due_at END,
        breached_at = CASE WHEN l.stage = 'awaiting_acceptance' AND v.owned
            THEN NULL ELSE l.breached_at END
    FROM unnest(%(ids)s::bigint[], %(reps)s::bigint[], %(partners)s::bigint[],
                %(teams)s::bigint[], %(owned)s::boolean[], %(previous_reps)s::bigint[],
                %(previous_partners)s::bigint[], %(rules)s::text[], %(team_names)s::text[],
                %(turns)s::integer[], %(skips)s::text[])
        AS v(id, rep_id, partner_id, team_id, owned, previous_rep_id, previous_partner_id,
             rule, team, turn, skips)
    WHERE l.tenant_id = %(tenant)s AND l.id = v.id
    RETURNING v.id, v.rep_id, v.partner_id, v.previous_rep_id, v.previous_partner_id, v.rule,
        v.team, v.turn, v.skips
)
INSERT INTO leads_assignment (
    tenant_id, lead_id, kind, rep_id, partner_id, previous_rep_id, previous_partner_id,
    "rule", "team", turn, skips, actor_label, created_at)
SELECT %(tenant)s, m.id, %(kind)s, m.rep_id, m.partner_id, m.previous_rep_id,
    m.previous_partner_id, m.rule, m.team, m.turn, coalesce(m.skips::jsonb, '[]'::jsonb),
    %(actor)s, %(now)s
FROM moved AS m
"""


class Routed(NamedTuple):
    """What :func:`route_leads` recorded for one lead: its ``Assignment`` record's values
    (plain values, not the stored row; the record's id is not read back)."""

    lead_id: int
    kind: str
    rep_id: int | None
    partner_id: int | None
    previous_rep_id: int | None
    previous_partner_id: int | None
    rule: str
    team: str
    turn: int | None
    skips: list[dict[str, str]]


class _Row:
    """What routing reads of one lead (plain values: 10,000 model instances cost seconds)."""

    __slots__ = (
        "pk",
        "lead_stage",
        "rep_id",
        "partner_id",
        "appointment_id",
        "need",
        "starts_at",
        "duration_minutes",
        "meeting_live",
        "country",
        "region",
        "industry",
        "size",
        "first",
        "last",
        "email",
        "company",
        "interest",
        "span",
    )

    def __init__(
        self,
        pk: int,
        stage: str,
        rep_id: int | None,
        partner_id: int | None,
        appointment_id: int,
        need: str,
        starts_at: datetime,
        duration_minutes: int,
        meeting_live: bool | None,
        country: str | None,
        region: str | None,
        industry: str | None,
        size: str | None,
        first: str | None,
        last: str | None,
        email: str | None,
        company: str | None,
        interest: str | None,
    ) -> None:
        self.pk = pk
        self.lead_stage = stage  # a read copy; the lead's stage moves only through the mover
        self.rep_id = rep_id
        self.partner_id = partner_id
        self.appointment_id = appointment_id
        self.need = need
        self.starts_at = starts_at
        self.duration_minutes = duration_minutes
        self.meeting_live = bool(meeting_live)
        self.country = country or ""
        self.region = region or ""
        self.industry = industry or ""
        self.size = size
        self.first = first or ""
        self.last = last or ""
        self.email = email or ""
        self.company = company or ""
        self.interest = interest or ""
        # The meeting as a span when it is still to be held (not cancelled or marked).
        self.span = (
            (starts_at, starts_at + timedelta(minutes=duration_minutes))
            if self.meeting_live
            else None
        )


@dataclass(slots=True)
class _Routed:
    lead: _Row
    decision: RouteDecision
    previous_rep_id: int | None
    previous_partner_id: int | None


@dataclass
class _Letter:
    """One email being put together for one person: their address, name and lines."""

    email: str
    name: str
    tz_name: str
    items: list[_Routed] = field(default_factory=list)


# --- Routing --------------------------------------------------------------------------


@transaction.atomic
def route_leads(
    *,
    leads: Sequence[Lead],
    kind: AssignmentKind,
    by: Principal,
    invite: bool = True,
) -> list[Routed]:
    """Give each open lead of ``leads`` to the owner the router picks; returns what was
    recorded for each (its ``Assignment`` record's values, as :class:`Routed`).

    ``kind`` says why (``BOOKED``, ``CANNOT_SERVE``, a recall, ``ROUTED``). For a
    reroute the current owner and everyone who gave the lead up before are
    skipped as ``declined``. A lead nobody can take is left without an owner
    (its assignment names none) and the managers are alerted. ``invite=False``
    leaves the calendars alone (booking: its confirmations invite the owner).
    The ``leads`` instances given get their new owner.
    """
    ids = sorted({lead.pk for lead in leads})
    if not ids:
        return []
    tenant = Tenant.objects.get(pk=require_tenant_id())
    locked = _locked_leads(ids)
    if not locked:
        return []
    settings_row = (
        LeadSettings.objects.select_for_update(of=("self",))
        .select_related("default_team")
        .filter(tenant_id=tenant.pk)
        .first()
    )
    land = territory(settings_row or lead_settings())
    wanted: dict[int, tuple[str, Team | None]] = {}
    # Leads with the same facts match the same rule: each set of facts is matched once.
    matched: dict[tuple[str, str, str, str | None], tuple[str, Team | None]] = {}
    for lead in locked:
        facts = (lead.country, lead.region, lead.industry, lead.size)
        found = matched.get(facts)
        if found is None:
            found = matched[facts] = land.team_for(_facts(lead))
        wanted[lead.pk] = found
    team_ids = sorted({team.pk for _, team in wanted.values() if team is not None})
    teams = {
        team.pk: team
        for team in Team.objects.select_for_update().filter(pk__in=team_ids).order_by("pk")
    }
    fallback = any(team is None for _, team in wanted.values())
    if fallback and settings_row is None:
        LeadSettings.objects.get_or_create(tenant_id=tenant.pk)
        settings_row = LeadSettings.objects.select_for_update().get(tenant_id=tenant.pk)
    states: dict[int | None, TeamState] = {
        pk: TeamState(t.rotation or {}) for pk, t in teams.items()
    }
    if settings_row is not None:
        states[None] = TeamState(settings_row.rotation or {})
    pool_teams: list[Team | None] = list(teams.values()) + ([None] if fallback else [])
    pools = load_pools(pool_teams, today=tenant_day(tenant), states=states)
    # Only a lead with an owner now can be counted in an owner's load: the others need no
    # leaving out (a booking's 10,000 unowned leads would be an anti-join for nothing).
    owned_now = [lead.pk for lead in locked if lead.rep_id or lead.partner_id]
    load = workload(pools.values(), window=_window(locked), not_leads=owned_now)
    declined = _declined(ids)
    rerouting = kind in REROUTES

    routed: list[_Routed] = []
    nobody: tuple[set[int], set[int]] = (set(), set())
    for lead in locked:
        rule, team = wanted[lead.pk]
        pool = pools[team.pk if team is not None else None]
        reps, partners = declined.get(lead.pk, nobody)
        if rerouting:
            reps = reps | ({lead.rep_id} if lead.rep_id else set())
            partners = partners | ({lead.partner_id} if lead.partner_id else set())
        exclude = exclude_keys(reps=reps, partners=partners, pool=pool)
        meeting = lead.span
        decision = decide(
            pool,
            load,
            rule=rule,
            starts_at=meeting[0] if meeting else None,
            duration_minutes=lead.duration_minutes,
            exclude=exclude,
            default=not rule and team is not None,
        )
        pool.state = decision.state
        if decision.owner_key is not None:
            load.took(decision.owner_key)
            if meeting:
                load.book(decision.owner_key, meeting)
        routed.append(_Routed(lead, decision, lead.rep_id, lead.partner_id))

    now = timezone.now()
    due = acceptance_due(now, by)
    records = _store(routed, kind=kind, tenant=tenant, by=by, now=now, due=due)
    _save_rotation(pools, settings_row)
    _audit(routed, kind=kind, tenant=tenant, by=by, now=now)
    _update_given(leads, routed, now=now, due=due)
    if invite:
        _invite(routed, now=now)
    _email_new_owners(routed, tenant=tenant, at=now)
    webhook_events.routed(routed, kind=kind, at=now)
    if kind in RECALLS:
        _email_old_owners(routed, kind=kind, tenant=tenant, at=now)
    _alert_managers(routed, kind=kind, tenant=tenant, pools=pools, at=now)
    logger.info(
        "%s lead(s) routed (%s), %s without an owner",
        len(routed),
        kind,
        sum(1 for item in routed if not item.decision.has_owner),
        extra={"tenant_id": tenant.pk},
    )
    return records


def _locked_leads(ids: list[int]) -> list[_Row]:
    """The open leads among ``ids``, locked, with what routing reads (not the whole profile)."""
    query = (
        Lead.objects.select_for_update(of=("self",))
        .filter(pk__in=ids_of(ids))
        .exclude(stage__in=[str(stage) for stage in CLOSED_STAGES])
        .annotate(
            live=Q(
                appointment__cancelled_at__isnull=True,
                appointment__closed_at__isnull=True,
                appointment__held_at__isnull=True,
                appointment__no_show_at__isnull=True,
            ),
            f_country=KT("profile__country"),
            f_region=KT("profile__region"),
            f_industry=KT("profile__industry"),
            f_size=KT("profile__company_size"),
            f_first=KT("profile__first_name"),
            f_last=KT("profile__last_name"),
            f_email=KT("profile__email"),
            f_company=KT("profile__company"),
            f_interest=KT("profile__interest"),
        )
        .order_by("pk")
        .values_list(
            "pk",
            "stage",
            "rep_id",
            "partner_id",
            "appointment_id",
            "need",
            "appointment__starts_at",
            "appointment__duration_minutes",
            "live",
            "f_country",
            "f_region",
            "f_industry",
            "f_size",
            "f_first",
            "f_last",
            "f_email",
            "f_company",
            "f_interest",
        )
    )
    if connection.vendor != "postgresql":  # the embedded SQLite: its converters are needed
        return [_Row(*row) for row in query]
    # The queryset's own SQL through a plain cursor: the values as the driver returns them
    # (every column here needs no converter on PostgreSQL), without Django's per-row pass.
    sql, params = query.query.get_compiler(using=query.db).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [_Row(*row) for row in cursor.fetchall()]


def _facts(lead: _Row) -> LeadFacts:
    company_size = None
    if lead.size:
        try:
            company_size = int(lead.size)
        except ValueError:
            company_size = None
    return LeadFacts(
        country=lead.country,
        region=lead.region,
        industry=lead.industry,
        company_size=company_size,
    )


def _meeting(lead: _Row) -> tuple[datetime, datetime] | None:
    """The lead's meeting as a span, when it is still to be held (not cancelled or marked)."""
    return lead.span


def _window(leads: Iterable[_Row]) -> tuple[datetime, datetime] | None:
    spans = [span for span in (_meeting(lead) for lead in leads) if span is not None]
    if not spans:
        return None
    return min(start for start, _ in spans), max(end for _, end in spans)


def _declined(ids: list[int]) -> dict[int, tuple[set[int], set[int]]]:
    """Per lead, the reps and partners who gave it up before (one query)."""
    found: dict[int, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    rows = Assignment.objects.filter(lead_id__in=ids_of(ids), kind__in=list(REROUTES)).values_list(
        "lead_id", "previous_rep_id", "previous_partner_id"
    )
    for lead_id, rep_id, partner_id in rows:
        reps, partners = found[lead_id]
        if rep_id is not None:
            reps.add(rep_id)
        if partner_id is not None:
            partners.add(partner_id)
    return found


def _save_rotation(pools: dict[int | None, Pool], settings_row: LeadSettings | None) -> None:
    """Each team's new round-robin memory (one UPDATE a team), under the locks taken."""
    for pool in pools.values():
        weights = dict(pool.state.current_weights)
        if pool.team is not None:
            if weights != (pool.team.rotation or {}):
                Team.objects.filter(pk=pool.team.pk).update(rotation=weights)
                pool.team.rotation = weights
        elif settings_row is not None and weights != (settings_row.rotation or {}):
            LeadSettings.objects.filter(pk=settings_row.pk).update(rotation=weights)
            settings_row.rotation = weights


def _store(
    routed: list[_Routed],
    *,
    kind: str,
    tenant: Tenant,
    by: Principal,
    now: datetime,
    due: datetime,
) -> list[Routed]:
    """One statement: the leads' new owners and each lead's record of why (``ROUTE_SQL``).

    Returns the records' values, worked out here from the decisions (nothing read back).
    """
    actor = by.label[:200]
    kind = str(kind)
    records: list[Routed] = []
    ids: list[int] = []
    reps: list[int | None] = []
    partners: list[int | None] = []
    teams: list[int | None] = []
    owned: list[bool] = []
    previous_reps: list[int | None] = []
    previous_partners: list[int | None] = []
    rules: list[str] = []
    team_names: list[str] = []
    turns: list[int | None] = []
    skips: list[str | None] = []
    for item in routed:
        decision = item.decision
        rep_id = decision.rep.pk if decision.rep is not None else None
        partner_id = decision.partner.pk if decision.partner is not None else None
        rule = decision.rule[:100]
        team_name = decision.team_name[:100]
        # Most leads skip nobody: their record's empty list is the statement's default.
        skipped = decision.skips_record() if decision.skips else []
        ids.append(item.lead.pk)
        reps.append(rep_id)
        partners.append(partner_id)
        teams.append(decision.team.pk if decision.team is not None else None)
        owned.append(rep_id is not None or partner_id is not None)
        previous_reps.append(item.previous_rep_id)
        previous_partners.append(item.previous_partner_id)
        rules.append(rule)
        team_names.append(team_name)
        turns.append(decision.turn)
        skips.append(json.dumps(skipped) if skipped else None)
        records.append(
            Routed(
                item.lead.pk,
                kind,
                rep_id,
                partner_id,
                item.previous_rep_id,
                item.previous_partner_id,
                rule,
                team_name,
                decision.turn,
                skipped,
            )
        )
    if connection.vendor != "postgresql":
        _store_row_by_row(routed, records, tenant=tenant, actor=actor, now=now, due=due)
        return records
    params: dict[str, Any] = {
        "tenant": tenant.pk,
        "kind": kind,
        "actor": actor,
        "now": now,
        "due": due,
        "ids": ids,
        "reps": reps,
        "partners": partners,
        "teams": teams,
        "owned": owned,
        "previous_reps": previous_reps,
        "previous_partners": previous_partners,
        "rules": rules,
        "team_names": team_names,
        "turns": turns,
        "skips": skips,
    }
    with connection.cursor() as cursor:
        cursor.execute(ROUTE_SQL, params)
    return records


def _owner_values(item: _Routed, now: datetime, due: datetime) -> dict[str, Any]:
    """What routing writes on the lead: its owner, team and assignment time; a lead awaiting
    acceptance gets a fresh window (none without an owner) and loses an old breach."""
    decision = item.decision
    values: dict[str, Any] = {
        "rep_id": decision.rep.pk if decision.rep else None,
        "partner_id": decision.partner.pk if decision.partner else None,
        "team_id": decision.team.pk if decision.team else None,
        "assigned_at": now,
    }
    if item.lead.lead_stage == LeadStage.AWAITING_ACCEPTANCE:
        values["acceptance_due_at"] = due if decision.has_owner else None
        if decision.has_owner:
            values["breached_at"] = None
    return values


def _store_row_by_row(
    routed: list[_Routed],
    records: list[Routed],
    *,
    tenant: Tenant,
    actor: str,
    now: datetime,
    due: datetime,
) -> None:
    """``_store`` for the embedded SQLite of ``make run`` (no arrays): a few leads at a time
    there, so one UPDATE of each lead and one INSERT of its record."""
    for item, record in zip(routed, records, strict=True):
        if not Lead.objects.filter(pk=item.lead.pk).update(**_owner_values(item, now, due)):
            continue
        Assignment.objects.create(
            tenant_id=tenant.pk,
            lead_id=record.lead_id,
            kind=record.kind,
            rep_id=record.rep_id,
            partner_id=record.partner_id,
            previous_rep_id=record.previous_rep_id,
            previous_partner_id=record.previous_partner_id,
            rule=record.rule,
            team=record.team,
            turn=record.turn,
            skips=record.skips,
            actor_label=actor,
            created_at=now,
        )


# A run's audit row names at most this many of its leads; its Assignment records name all.
AUDITED_LEADS = 100


def _audit(
    routed: list[_Routed], *, kind: str, tenant: Tenant, by: Principal, now: datetime
) -> None:
    """One audit row for the run: who routed how many leads, and why.

    Each lead's own record of who got it and why — the owner before and after,
    the rule, team, turn and skips, who acted and when — is its ``Assignment``
    (the lead's timeline reads it), so the run writes no second row a lead.
    """
    without = sum(1 for item in routed if not item.decision.has_owner)
    record_audit(
        action="routing.run",
        obj=tenant,
        after={
            "kind": str(kind),
            "leads": len(routed),
            "without_owner": without,
            "lead_ids": [item.lead.pk for item in routed[:AUDITED_LEADS]],
            "assigned_at": now.isoformat(),
        },
        by=by,
    )


def _update_given(
    leads: Sequence[Lead], routed: list[_Routed], *, now: datetime, due: datetime
) -> None:
    """The caller's instances get what was stored.

    Straight into the instance's values when it holds no related object that could go
    stale (the common case: ``Lead(pk=…)`` or ``.only("pk")``), else through the fields.
    """
    by_pk = {item.lead.pk: item for item in routed}
    for lead in leads:
        item = by_pk.get(lead.pk)
        if item is None:
            continue
        values = _owner_values(item, now, due)
        if lead._state.fields_cache:
            for name, value in values.items():
                setattr(lead, name, value)
        else:
            lead.__dict__.update(values)


def _invite(routed: list[_Routed], *, now: datetime) -> None:
    """Move calendars for meetings still ahead whose owner changed (one meeting at a time)."""
    from leads.services.ownership import send_owner_invites

    moving = []
    for item in routed:
        decision = item.decision
        new = (
            decision.rep.pk if decision.rep else None,
            decision.partner.pk if decision.partner else None,
        )
        meeting = _meeting(item.lead)
        if new != (item.previous_rep_id, item.previous_partner_id) and meeting and meeting[0] > now:
            moving.append(item)
    if not moving:
        return
    leads = Lead.objects.in_bulk([item.lead.pk for item in moving])
    for item in moving:
        lead = leads[item.lead.pk]
        send_owner_invites(
            lead,
            old_rep_id=item.previous_rep_id,
            old_partner_id=item.previous_partner_id,
            new_rep=item.decision.rep,
        )


# --- The emails -----------------------------------------------------------------------


def lead_link(lead_id: int) -> str:
    """``SITE_URL``/leads/<id>/ (relative when no site address is configured)."""
    return f"{getattr(settings, 'SITE_URL', '') or ''}/leads/{lead_id}/"


def _buyer(lead: _Row) -> str:
    name = f"{lead.first} {lead.last}".strip()
    return name or lead.email or f"lead {lead.pk}"


def _offered_buyer(item: _Routed) -> str:
    """The buyer as the new owner's email names them: a partner is offered the lead and
    learns who the buyer is only by accepting it (as the API and pages hide it)."""
    if item.decision.partner is None:
        return _buyer(item.lead)
    return f"a buyer at {item.lead.company}" if item.lead.company else "a buyer"


def _digest(items: Iterable[_Routed], at: datetime) -> str:
    """The email's part of its key: the run's time and its leads (each lead gets one record a
    run, so this names the records the email is about without reading their ids back)."""
    ids = ",".join(str(item.lead.pk) for item in items)
    return hashlib.sha256(f"{at.isoformat()}:{ids}".encode()).hexdigest()[:16]


def _zone(name: str, tenant: Tenant) -> Any:
    for candidate in (name, tenant.timezone, "UTC"):
        if candidate:
            try:
                return times.zone(candidate)
            except KeyError:
                continue
    return times.zone("UTC")


def _people_of(
    rep: User | None, partner: Partner | None, tenant: Tenant
) -> list[tuple[str, str, str]]:
    """(email, name, zone) of an owner: the rep, or the partner's contacts."""
    if rep is not None:
        return [(rep.email, rep.display_name, rep.timezone)] if rep.is_active else []
    if partner is not None:
        return [
            (person.email, person.name or partner.name, "")
            for person in owner_people(rep=None, partner_id=partner.pk, tenant=tenant)
        ]
    return []


def _message(
    letter_key: str, letter: _Letter, subject: str, text: str, cause: str
) -> outbox.Message:
    """One email for ``outbox.enqueue_many``: each function writes its emails in one INSERT
    (an address no mail server would take is logged and left out there)."""
    return outbox.message(
        key=letter_key,
        recipient=letter.email,
        payload={"subject": subject, "text": text},
        cause=(cause, letter_key.rsplit(":", 1)[-1]),
    )


def _email_new_owners(routed: list[_Routed], *, tenant: Tenant, at: datetime) -> None:
    """One email per new owner listing their leads: the buyer's profile and the accept link.

    Names the buyer, the company, the need and the meeting time in the owner's
    zone; never the score breakdown or the meeting's internal notes.
    """
    letters: dict[str, _Letter] = {}
    # Each owner's people once, not once a lead (a partner's are a query).
    people: dict[tuple[int | None, int | None], list[tuple[str, str, str]]] = {}
    for item in routed:
        decision = item.decision
        if not decision.has_owner:
            continue
        owner = (
            decision.rep.pk if decision.rep else None,
            decision.partner.pk if decision.partner else None,
        )
        if owner not in people:
            people[owner] = _people_of(decision.rep, decision.partner, tenant)
        for email, name, tz_name in people[owner]:
            letter = letters.setdefault(email.lower(), _Letter(email, name, tz_name))
            letter.items.append(item)
    messages: list[outbox.Message] = []
    site = lead_link(0)[: -len("/leads/0/")]  # the link's start, read from the settings once
    for address, letter in letters.items():
        tz = _zone(letter.tz_name, tenant)
        zone_name = times.zone_name(tz)
        blocks = []
        for item in letter.items:
            lead = item.lead
            need = lead.need or lead.interest or "not recorded yet"
            if lead.meeting_live:
                when = f"{lead.starts_at.astimezone(tz):%a %d %b %Y, %H:%M} ({zone_name})"
            else:
                when = "no meeting planned"
            if item.decision.partner is not None:
                buyer = _offered_buyer(item)  # the company named once, in the offered buyer
            else:
                buyer = f"{_buyer(lead)}, {lead.company}" if lead.company else _buyer(lead)
            link = f"{site}/leads/{lead.pk}/"
            blocks.append(
                f"- {buyer}\n"
                f"  Need:    {need}\n"
                f"  Meeting: {when}\n"
                f"  Lead:    {link}\n"
                f"  Accept:  {link}#accept"
            )
        count = len(letter.items)
        first = letter.items[0]
        subject = (
            f"New lead for you: {_offered_buyer(first)}"
            + (
                f" ({first.lead.company})"
                if first.lead.company and first.decision.partner is None
                else ""
            )
            if count == 1
            else f"{count} new leads for you"
        )
        text = (
            f"Hello {letter.name},\n\n"
            + ("A lead is yours now. " if count == 1 else f"{count} leads are yours now. ")
            + "Open it in LeadFlow and accept it there:\n\n"
            + "\n\n".join(blocks)
            + "\n"
        )
        key = f"lead-assigned:{address}:{_digest(letter.items, at)}"
        messages.append(_message(key, letter, subject, text, "lead-assigned"))
    outbox.enqueue_many("email", messages)


def _email_old_owners(routed: list[_Routed], *, kind: str, tenant: Tenant, at: datetime) -> None:
    """The recalled owner learns which leads went back and why (one email each)."""
    rep_ids = {item.previous_rep_id for item in routed if item.previous_rep_id}
    partner_ids = {item.previous_partner_id for item in routed if item.previous_partner_id}
    reps = {user.pk: user for user in User.objects.filter(pk__in=rep_ids)} if rep_ids else {}
    partners = {p.pk: p for p in Partner.objects.filter(pk__in=partner_ids)} if partner_ids else {}
    letters: dict[str, _Letter] = {}
    for item in routed:
        rep = reps.get(item.previous_rep_id) if item.previous_rep_id else None
        partner = partners.get(item.previous_partner_id) if item.previous_partner_id else None
        for email, name, tz_name in _people_of(rep, partner, tenant):
            letter = letters.setdefault(email.lower(), _Letter(email, name, tz_name))
            letter.items.append(item)
    why = WHY.get(AssignmentKind(kind), "recalled")
    messages: list[outbox.Message] = []
    for address, letter in letters.items():
        lines = []
        for item in letter.items:
            lead = item.lead
            company = f" ({lead.company})" if lead.company else ""
            lines.append(f"- {_buyer(lead)}{company}: {lead_link(lead.pk)}")
        count = len(letter.items)
        noun = "lead was" if count == 1 else "leads were"
        text = (
            f"Hello {letter.name},\n\n"
            f"{count} {noun} recalled from you ({why}) and given to someone else:\n\n"
            + "\n".join(lines)
            + "\n\nNothing to do; ask your manager if this is a mistake.\n"
        )
        key = f"lead-recalled:{address}:{_digest(letter.items, at)}"
        subject = f"Recalled ({why}): {count} {noun.split()[0]}"
        messages.append(_message(key, letter, subject, text, "lead-recalled"))
    outbox.enqueue_many("email", messages)


def _alert_managers(
    routed: list[_Routed],
    *,
    kind: str,
    tenant: Tenant,
    pools: dict[int | None, Pool],
    at: datetime,
) -> None:
    """One alert per manager for the recalled leads and those nobody could take.

    A lead's managers are its team's members with role manager or admin; a
    team without any (or the no-teams fallback) alerts every manager.
    """
    # At booking a lead nobody could take is the managers' meeting: its confirmation
    # already goes to them (``meeting_people``), so no second email.
    alerting = [
        item
        for item in routed
        if kind in RECALLS or (not item.decision.has_owner and kind != AssignmentKind.BOOKED)
    ]
    if not alerting:
        return
    team_ids = {item.decision.team.pk for item in alerting if item.decision.team}
    by_team: dict[int, list[User]] = defaultdict(list)
    if team_ids:
        members = (
            TeamMember.objects.filter(
                team_id__in=list(team_ids),
                membership__role__in=MANAGERS,
                membership__is_active=True,
                membership__partner__isnull=True,
                membership__user__is_active=True,
            )
            .select_related("membership__user")
            .order_by("position", "id")
        )
        for member in members:
            by_team[member.team_id].append(member.membership.user)
    everyone: list[User] | None = None
    letters: dict[str, _Letter] = {}
    for item in alerting:
        team = item.decision.team
        managers = by_team.get(team.pk, []) if team is not None else []
        if not managers:
            if everyone is None:
                everyone = [
                    m.user
                    for m in Membership.objects.filter(
                        role__in=MANAGERS,
                        partner__isnull=True,
                        is_active=True,
                        user__is_active=True,
                    )
                    .select_related("user")
                    .order_by("id")
                ]
            managers = everyone
        for user in managers:
            letter = letters.setdefault(
                user.email.lower(), _Letter(user.email, user.display_name, user.timezone)
            )
            if item not in letter.items:
                letter.items.append(item)
    names = _previous_names(alerting)
    why = WHY.get(AssignmentKind(kind), "")
    messages: list[outbox.Message] = []
    for address, letter in letters.items():
        lines = []
        for item in letter.items:
            lead = item.lead
            company = f" ({lead.company})" if lead.company else ""
            before = names.get(item.lead.pk, "nobody")
            after = item.decision.owner_name or "NOBODY (give it to someone)"
            what = (
                f"recalled from {before} ({why}) → {after}"
                if kind in RECALLS
                else (f"no owner could take it ({item.decision.reason})")
            )
            lines.append(f"- {_buyer(lead)}{company}: {what} — {lead_link(lead.pk)}")
        count = len(letter.items)
        subject = (
            f"{tenant.name}: {count} lead{'s' if count != 1 else ''} recalled"
            if kind in RECALLS
            else f"{tenant.name}: {count} lead{'s' if count != 1 else ''} without an owner"
        )
        text = f"Hello {letter.name},\n\n" + "\n".join(lines) + "\n"
        key = f"lead-routing-alert:{address}:{_digest(letter.items, at)}"
        messages.append(_message(key, letter, subject, text, "lead-routing-alert"))
    outbox.enqueue_many("email", messages)


def _previous_names(routed: list[_Routed]) -> dict[int, str]:
    """The display name of each lead's previous owner (two queries at most)."""
    rep_ids = {item.previous_rep_id for item in routed if item.previous_rep_id}
    partner_ids = {item.previous_partner_id for item in routed if item.previous_partner_id}
    reps = {u.pk: u.display_name for u in User.objects.filter(pk__in=rep_ids)} if rep_ids else {}
    partners = (
        dict(Partner.objects.filter(pk__in=partner_ids).values_list("pk", "name"))
        if partner_ids
        else {}
    )
    names = {}
    for item in routed:
        if item.previous_rep_id in reps:
            names[item.lead.pk] = reps[item.previous_rep_id]
        elif item.previous_partner_id in partners:
            names[item.lead.pk] = partners[item.previous_partner_id]
    return names


# --- A booking's own owner ------------------------------------------------------------


def record_assignment(*, lead: Lead, kind: AssignmentKind, by: Principal) -> Assignment:
    """Record the owner a booking named (``NAMED``) or the referring partner (``REFERRAL``)."""
    rep = lead.rep if lead.rep_id else None
    partner = lead.partner if lead.partner_id else None
    return Assignment.objects.create(
        tenant_id=lead.tenant_id,
        lead=lead,
        kind=kind,
        rep=rep,
        partner=partner,
        actor_label=by.label[:200],
        created_at=lead.assigned_at,
    )


# --- Recall ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Recall:
    """What one recall run did: leads breached, and leads rerouted by kind."""

    breached: list[int]
    unaccepted: list[int]
    idle: list[int]


def recall_leads(*, now: datetime | None = None) -> Recall:
    """The current tenant's 15-minute scan: mark lapsed windows breached, then reroute.

    Awaiting leads past their acceptance window are marked breached (as the
    acceptance scan always did) and rerouted away from their owner
    (``RECALL_UNACCEPTED``); accepted and SQL leads whose last touch, update
    and assignment are all older than the tenant's ``recall_after_days`` (0:
    never) are rerouted too (``RECALL_IDLE``). A lead still protected for the
    partner whose deal registration it came from (``protected_until``) is never
    recalled. Set-based; a rerun finds
    nothing (a rerouted lead has a fresh window and ``assigned_at``).
    """
    from leads.services.lifecycle import scan_acceptance_breaches

    now = now or timezone.now()
    tenant = Tenant.objects.get(pk=require_tenant_id())
    by = Principal.system(tenant, "recall")
    breached = scan_acceptance_breaches(now=now, alert=False).breached
    owned = Q(rep__isnull=False) | Q(partner__isnull=False)
    with transaction.atomic():
        lapsed = list(
            Lead.objects.filter(
                owned, stage=LeadStage.AWAITING_ACCEPTANCE, acceptance_due_at__lt=now
            )
            # A registered deal's lead stays its partner's until its protection ends.
            .exclude(protected_until__gt=now)
            .only("pk")
            .order_by("pk")
        )
        unaccepted = route_leads(leads=lapsed, kind=AssignmentKind.RECALL_UNACCEPTED, by=by)
    days = lead_settings().recall_after_days
    idle: list[Routed] = []
    if days:
        cutoff = now - timedelta(days=days)
        with transaction.atomic():
            stale = list(
                Lead.objects.filter(
                    owned, stage__in=[str(s) for s in REPORTED_STAGES], assigned_at__lt=cutoff
                )
                .exclude(protected_until__gt=now)
                .exclude(Exists(Touch.objects.filter(lead_id=OuterRef("pk"), at__gte=cutoff)))
                .exclude(
                    Exists(
                        WeeklyUpdate.objects.filter(lead_id=OuterRef("pk"), created_at__gte=cutoff)
                    )
                )
                .only("pk")
                .order_by("pk")
            )
            idle = route_leads(leads=stale, kind=AssignmentKind.RECALL_IDLE, by=by)
    return Recall(
        breached=breached,
        unaccepted=[a.lead_id for a in unaccepted],
        idle=[a.lead_id for a in idle],
    )


def exclude_keys(*, reps: Collection[int], partners: Collection[int], pool: Pool) -> set[str]:
    """The pool's keys of the given reps (user ids) and partners (partner ids)."""
    if not reps and not partners:
        return set()
    return {
        owner.key
        for owner in pool.owners
        if (owner.rep is not None and owner.rep.pk in reps)
        or (owner.partner is not None and owner.partner.pk in partners)
    }
