"""The Monday digest: one email per owner listing the leads that still owe this week's update,
and below them the late backlog (earlier weeks with no update).

Owners are reps (the email goes to the rep) and partners (to the partner's
``contact_email``; a partner without one gets nothing). The digest is due on
Monday at ``DIGEST_HOUR`` in the tenant's zone; the hourly beat may run late,
so any later run in the same ISO week still sends it, and the outbox key
(``digest:missing:<week>:<owner>``) makes a second run add nothing.

Set-based, one query for all owners whatever their number: one scan of the
open leads that owe an update (``owing_update``) with the buyer and the owner
joined. The backlog is read from the lead row alone — ``Lead.reported_weeks``
(a bit a week, kept by ``record_weekly_update``) and the lead's assignment and
acceptance decide, in SQL, which of the last ``LATE_WEEKS`` closed weeks were
owed and have no update (``missed_in_window``, My week's rule); no update is
read. An email of a hundred lead lines is not read, so the query also ranks
each owner's leads (``row_number() over (partition by owner)``: this week's
missing first) and returns at most ``DIGEST_LIMIT`` of them with the owner's
counts; the email then says "and 57 more — see My week". Python only groups
the rows by owner. An owner with only a backlog still gets the one email.

The email names the buyer and the company and links the lead — never the
score or internal notes, which may be forwarded outside.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    When,
)
from django.utils import timezone

from inquiries.models import Inquiry
from leadflow import outbox
from leadflow.lib import times, weeks
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import Membership, Partner, Tenant, User
from leads.models import Lead
from leads.selectors.weekly import (
    LATE_WEEKS,
    current_week,
    late_weeks,
    missed_in_window,
    owing_update,
    past_weeks,
)
from leads.services import webhook_events

logger = logging.getLogger(__name__)

# Local hour on Monday from which the week's digest goes out.
DIGEST_HOUR = 7
CAUSE = "digest-missing"

# At most this many leads listed in one owner's email; the rest are counted and left to My week.
DIGEST_LIMIT = 25


# The owner's rows the digest reads, in this order (``_Owner``): the counts, the listed leads'
# keys (``_KEY_*``, sorted) and their buyers as the email names them, in the same order, and
# who gets the email.
class _Owner(NamedTuple):
    partner_id: int | None
    rep_id: int | None
    leads: int
    missing: int
    late: int
    keys: list[int]
    persons: list[str]
    rep_name: str | None
    rep_email: str | None
    rep_is_active: bool | None
    partner_name: str | None
    partner_email: str | None
    rep_is_member: bool


class _Buyer(NamedTuple):
    """The columns ``Inquiry.display_name`` reads, and the company."""

    first_name: str
    last_name: str
    email: str
    phone: str
    external_id: str
    company: str


# A listed lead travels as one bigint key, so that sorting the keys sorts the owner's leads as
# the email lists them (this week's missing first, then by id) and carries the late weeks:
# bit 62 set when this week's update is not missing, the lead's id from bit 9, and the
# ``missed_in_window`` mask (bits 1 … ``LATE_WEEKS``) below.
_KEY_LATE_ONLY = 62
_KEY_ID_SHIFT = 9
_KEY_MISSED = (1 << _KEY_ID_SHIFT) - 1
_KEY_ID = (1 << (_KEY_LATE_ONLY - _KEY_ID_SHIFT)) - 1
assert LATE_WEEKS < _KEY_ID_SHIFT, "the late weeks' mask must fit below the id"


class DigestLead(NamedTuple):
    """A lead as the email shows it: its id (for the link) and the buyer (and company)."""

    id: int
    person: str


@dataclass
class DigestOwner:
    key: str
    name: str
    email: str


@dataclass
class DigestRow:
    """One owner's share of the digest: this week's missing leads and the late ones.

    ``missing`` and ``late`` are the leads listed (at most ``DIGEST_LIMIT``
    leads in all, this week's first); the counts are the owner's whole.
    ``owner`` is None when there is nobody to write to (a partner without a
    contact email, a rep who left or whose account is closed).
    """

    owner_key: str
    owner: DigestOwner | None
    missing: list[DigestLead] = field(default_factory=list)
    # Leads with earlier weeks missing, and those weeks (oldest first).
    late: list[tuple[DigestLead, list[date]]] = field(default_factory=list)
    # The owner's leads in the digest, missing this week, with late weeks (listed or not).
    leads_count: int = 0
    missing_count: int = 0
    late_count: int = 0

    @property
    def unlisted(self) -> int:
        """The owner's leads in the digest the email does not list."""
        listed = {lead.id for lead in self.missing} | {lead.id for lead, _ in self.late}
        return self.leads_count - len(listed)


def digest_due(now: datetime, tz: tzinfo) -> bool:
    """Whether ``now`` is at or after Monday ``DIGEST_HOUR``:00 of its ISO week, read in ``tz``."""
    local = now.astimezone(tz)
    start = datetime.combine(weeks.week_of(local.date()), time(DIGEST_HOUR), tzinfo=local.tzinfo)
    return local >= start


def _owner_key(partner_id: int | None, rep_id: int | None) -> str:
    """A partner owns its partner's leads; otherwise the rep does (as in My week)."""
    if partner_id is not None:
        return f"partner:{partner_id}"
    return f"rep:{rep_id}"


def _owner_order(key: str) -> tuple[bool, int]:
    """Partners first, then reps, each by id."""
    kind, _, pk = key.partition(":")
    return kind != "partner", int(pk)


def _owner(row: _Owner, key: str) -> DigestOwner | None:
    """Who gets the digest for ``row``'s owner, or None when there is nobody to write to."""
    if row.partner_id is not None:
        if not row.partner_email:
            return None
        return DigestOwner(key=key, name=row.partner_name or "", email=row.partner_email)
    # A rep who left the team (membership ended) or whose account is closed gets nothing.
    if row.rep_id is None or not row.rep_is_active or not row.rep_email or not row.rep_is_member:
        return None
    name = User.display_name.fget(SimpleNamespace(full_name=row.rep_name, email=row.rep_email))  # type: ignore[attr-defined]
    return DigestOwner(key=key, name=name, email=row.rep_email)


def _person(buyer: _Buyer) -> str:
    """The buyer as the email names them: ``Inquiry.display_name`` and the company (``PERSON_SQL``
    says the same in the query)."""
    person = Inquiry.display_name.fget(buyer)  # type: ignore[attr-defined]
    company = f" ({buyer.company})" if buyer.company else ""
    return f"{person}{company}"


# ``_person`` in SQL, over the inquiry ``i``: the name (``display_name``: first and last name
# stripped, else the email, the phone, the external id) and " (company)" when there is one.
# Worked out by the query for the 45,000 listed leads at 200,000: no buyer's columns sent to
# Python and no object a lead there.
PERSON_SQL = (
    "COALESCE(NULLIF(btrim(i.first_name || ' ' || i.last_name, E' \\t\\n\\r\\f\\v'), ''), "
    "NULLIF(i.email, ''), NULLIF(i.phone, ''), i.external_id)"
    " || CASE WHEN i.company <> '' THEN ' (' || i.company || ')' ELSE '' END"
)


def _lead_url(lead: DigestLead, site: str | None = None) -> str:
    """``SITE_URL``/leads/<id>/, or the relative path when no site address is configured."""
    if site is None:
        site = getattr(settings, "SITE_URL", "") or ""
    return f"{site}/leads/{lead.id}/"


@lru_cache(maxsize=1024)
def _week_labels(missed: tuple[date, ...]) -> str:
    """The late weeks as the email names them, worked out once for each set of weeks."""
    return ", ".join(weeks.week_label(monday) for monday in missed)


def _text(owner: DigestOwner, row: DigestRow, label: str) -> str:
    site = getattr(settings, "SITE_URL", "") or ""
    parts = [f"Hello {owner.name},\n"]
    count = row.missing_count
    if count:
        noun = "lead still needs" if count == 1 else "leads still need"
        lines = [f"- {lead.person}: {_lead_url(lead, site)}" for lead in row.missing]
        parts.append(f"{count} {noun} this week's update ({label}):\n\n" + "\n".join(lines) + "\n")
    else:
        parts.append(f"Every lead has this week's update ({label}) or does not owe it yet.\n")
    if row.late:
        lines = []
        for lead, missed in row.late:
            noun = "week" if len(missed) == 1 else "weeks"
            lines.append(
                f"- Late: {len(missed)} {noun} missing for {lead.person} — "
                f"{_week_labels(tuple(missed))}: {_lead_url(lead, site)}"
            )
        parts.append(
            f"Earlier weeks with no update (the last {LATE_WEEKS} weeks):\n\n"
            + "\n".join(lines)
            + "\n"
        )
    unlisted = row.unlisted
    if unlisted:
        parts.append(f"And {unlisted} more — see My week: {site}/leads/week/\n")
    else:
        parts.append(f"Report them in My week: {site}/leads/week/\n")
    return "\n".join(parts)


def _owner_partition() -> list[Any]:
    """A partner owns its partner's leads; otherwise the rep does (``_owner_key``)."""
    return [
        F("partner_id"),
        Case(When(partner__isnull=True, then=F("rep_id")), output_field=IntegerField()),
    ]


def owing_leads(week: date, tz: tzinfo) -> QuerySet[Any]:
    """Every owned lead that owes ``week``'s update, from the lead row alone: its owner,
    whether ``week``'s update is missing (``last_update_week`` before it) and which earlier
    weeks are (``missed``: ``missed_in_window``). A lead is in the digest when either is."""
    owned = Lead.objects.filter(Q(partner__isnull=False) | Q(rep__isnull=False))
    missing = Q(last_update_week__isnull=True) | Q(last_update_week__lt=week)
    return (
        owing_update(owned, week=week, tz=tz)
        .annotate(
            missing=ExpressionWrapper(missing, output_field=BooleanField()),
            missed=missed_in_window(week, past_weeks(week, tz)),
            owner_rep=_owner_partition()[1],
        )
        .order_by()
        .values("id", "inquiry_id", "partner_id", "owner_rep", "missing", "missed")
    )


def digest_query(week: date, tz: tzinfo) -> tuple[str, tuple[Any, ...]]:
    """The digest's one query on PostgreSQL (SQL and parameters): one row an owner.

    One scan of the owing leads (``owing_leads``; ``OFFSET 0`` keeps it a subquery,
    so each row's rules are worked out once), grouped by owner: the owner's counts
    and every digest lead's key (``_KEY_*``) and inquiry as arrays. No sort of the
    tenant's leads: each owner's keys are sorted on their own and cut at
    ``DIGEST_LIMIT`` (a ``LATERAL`` over the owner's ~100 keys), and only those
    leads' buyers are read (by primary key) and returned as parallel arrays, with
    the owner's name and address.
    """
    inner, params = owing_leads(week, tz).query.sql_with_params()
    tenant_id = require_tenant_id()
    digest = "d.missing OR d.missed > 0"
    sql = f"""
SELECT o.partner_id, o.owner_rep, o.leads, o.missing, o.late, x.keys, x.persons,
    u.full_name, u.email, u.is_active, p.name, p.contact_email, (m.is_active IS TRUE)
FROM (
    SELECT d.partner_id, d.owner_rep,
        count(*) FILTER (WHERE {digest}) AS leads,
        count(*) FILTER (WHERE d.missing) AS missing,
        count(*) FILTER (WHERE d.missed > 0) AS late,
        array_agg(
            ((CASE WHEN d.missing THEN 0 ELSE 1 END)::bigint << {_KEY_LATE_ONLY})
            | (d.id::bigint << {_KEY_ID_SHIFT}) | d.missed
        ) FILTER (WHERE {digest}) AS keys,
        array_agg(d.inquiry_id) FILTER (WHERE {digest}) AS inquiries
    FROM ({inner} OFFSET 0) d
    GROUP BY d.partner_id, d.owner_rep
    HAVING count(*) FILTER (WHERE {digest}) > 0
) o
CROSS JOIN LATERAL (
    SELECT array_agg(t.key ORDER BY t.key) AS keys,
        array_agg({PERSON_SQL} ORDER BY t.key) AS persons
    FROM (
        SELECT k.key, k.inquiry_id FROM unnest(o.keys, o.inquiries) AS k(key, inquiry_id)
        ORDER BY k.key LIMIT %s
    ) t
    JOIN {Inquiry._meta.db_table} i ON i.id = t.inquiry_id AND i.tenant_id = %s
) x
LEFT JOIN {User._meta.db_table} u ON u.id = o.owner_rep
LEFT JOIN {Partner._meta.db_table} p ON p.id = o.partner_id AND p.tenant_id = %s
LEFT JOIN {Membership._meta.db_table} m ON m.user_id = o.owner_rep AND m.tenant_id = %s
"""
    return sql, (*params, DIGEST_LIMIT, tenant_id, tenant_id, tenant_id)


# Sent with the query, in the same round trip, for its transaction only. JIT would compile
# this plan on every run (its estimated cost is over ``jit_above_cost``: 0.2-0.4 s of
# compiling for a query of a few hundred milliseconds), and the grouping of the digest leads
# (160,000 narrow rows at 200,000 leads) spills to disk at the default 4 MB of ``work_mem``.
QUERY_SETTINGS = "SET LOCAL jit = off; SET LOCAL work_mem = '32MB'; "


def _owner_rows(week: date, tz: tzinfo) -> list[_Owner]:
    """``digest_query``'s rows; elsewhere (SQLite: ``make run``'s few leads) the same rows
    worked out in Python from the digest leads and their buyers, one query too."""
    if connection.vendor == "postgresql":
        sql, params = digest_query(week, tz)
        # One string, one round trip: the settings last until the transaction ends (the one the
        # statement runs in, or the caller's).
        with connection.cursor() as cursor:
            cursor.execute(QUERY_SETTINGS + sql, params)
            return [_Owner._make(row) for row in cursor.fetchall()]
    return _owner_rows_in_python(week, tz)


def _owner_rows_in_python(week: date, tz: tzinfo) -> list[_Owner]:
    leads = (
        owing_leads(week, tz)
        .filter(Q(missing=True) | Q(missed__gt=0))
        .values_list(
            "id",
            "partner_id",
            "owner_rep",
            "missing",
            "missed",
            "inquiry__first_name",
            "inquiry__last_name",
            "inquiry__email",
            "inquiry__phone",
            "inquiry__external_id",
            "inquiry__company",
            "rep__full_name",
            "rep__email",
            "rep__is_active",
            "partner__name",
            "partner__contact_email",
        )
    )
    members = set(Membership.objects.filter(is_active=True).values_list("user_id", flat=True))
    grouped: dict[tuple[int | None, int | None], list[tuple[Any, ...]]] = defaultdict(list)
    for row in leads:
        grouped[(row[1], row[2])].append(row)
    found = []
    for (partner_id, rep_id), rows in grouped.items():
        keyed = sorted(
            (
                (0 if missing else 1) << _KEY_LATE_ONLY | pk << _KEY_ID_SHIFT | missed,
                _person(_Buyer(*buyer)),
            )
            for pk, _, _, missing, missed, *buyer, _, _, _, _, _ in rows
        )[:DIGEST_LIMIT]
        first = rows[0]
        found.append(
            _Owner._make(
                [
                    partner_id,
                    rep_id,
                    len(rows),
                    sum(1 for row in rows if row[3]),
                    sum(1 for row in rows if row[4]),
                    [key for key, _ in keyed],
                    [person for _, person in keyed],
                    *first[11:16],
                    rep_id in members,
                ]
            )
        )
    return found


def digest_rows(week: date, tz: tzinfo) -> list[DigestRow]:
    """Every owner's missing and late leads for ``week``: one query whatever the owners.

    Rows are in owner order (partners, then reps); an owner appears only when
    something is missing, this week or in the backlog.
    """
    result: list[DigestRow] = []
    for row in _owner_rows(week, tz):
        owner_key = _owner_key(row.partner_id, row.rep_id)
        digest = DigestRow(
            owner_key=owner_key,
            owner=_owner(row, owner_key),
            leads_count=row.leads,
            missing_count=row.missing,
            late_count=row.late,
        )
        # The keys come sorted (this week's missing first, then by id), each with its buyer.
        for key, person in zip(row.keys, row.persons, strict=True):
            lead = DigestLead(id=key >> _KEY_ID_SHIFT & _KEY_ID, person=person)
            missed = key & _KEY_MISSED
            if not key >> _KEY_LATE_ONLY:
                digest.missing.append(lead)
            if missed:
                digest.late.append((lead, list(_late_weeks(missed, week))))
        result.append(digest)
    result.sort(key=lambda row: _owner_order(row.owner_key))
    return result


@lru_cache(maxsize=1024)
def _late_weeks(missed: int, week: date) -> tuple[date, ...]:
    """``late_weeks``, worked out once a mask: ``LATE_WEEKS`` bits make at most 256 masks."""
    return tuple(late_weeks(missed, week))


def _subject(tenant: str, missing: int, late: int, label: str) -> str:
    parts = []
    if missing:
        parts.append(f"{missing} lead update{'s' if missing != 1 else ''} due ({label})")
    if late:
        parts.append(f"{late} lead{'s' if late != 1 else ''} with late weeks")
    return f"{tenant}: " + ", ".join(parts)


def queue_missing_update_digests(now: datetime | None = None) -> int:
    """Queue this week's digest for the current tenant's owners; the number newly queued.

    Nothing before Monday ``DIGEST_HOUR``:00 in the tenant's zone. Owners whose
    leads are all up to date (this week and the backlog) get nothing; an owner
    already sent this week's digest is skipped (and the outbox key would
    refuse a duplicate anyway).
    """
    now = now or timezone.now()
    tenant = Tenant.objects.get(pk=require_tenant_id())
    tz = times.zone(tenant.timezone)
    if not digest_due(now, tz):
        return 0
    week = current_week(tz, now)
    label = weeks.week_label(week)
    rows = digest_rows(week, tz)
    sent_keys = set(outbox.messages_for((CAUSE, label)).values_list("key", flat=True))
    # Each owner's email rendered once from its row (no query a lead or an owner), then every
    # email written through the outbox in one INSERT.
    messages = [
        outbox.message(
            key=key,
            recipient=row.owner.email,
            payload={
                "subject": _subject(tenant.name, row.missing_count, row.late_count, label),
                "text": _text(row.owner, row, label),
            },
            cause=(CAUSE, label),
        )
        for row in rows
        if row.owner is not None
        and (key := f"digest:missing:{label}:{row.owner_key}") not in sent_keys
    ]
    with transaction.atomic():
        # Partners' webhook endpoints hear of the same leads (issue 18), listed or not here.
        webhook_events.reminders(_partner_leads(rows), week=label)
        queued = outbox.enqueue_many("email", messages)
    return len(queued)


def _partner_leads(rows: list[DigestRow]) -> dict[int, list[int]]:
    """The leads listed in each partner's digest row, by partner id."""
    found: dict[int, list[int]] = {}
    for row in rows:
        kind, _, pk = row.owner_key.partition(":")
        if kind == "partner":
            found[int(pk)] = [lead.id for lead in row.missing] + [lead.id for lead, _ in row.late]
    return found
