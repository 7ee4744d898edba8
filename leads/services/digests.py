"""The Monday digest: one email per owner listing the leads that still owe this week's update,
and below them the late backlog (earlier weeks with no update).

Owners are reps (the email goes to the rep) and partners (to the partner's
``contact_email``; a partner without one gets nothing). The digest is due on
Monday at ``DIGEST_HOUR`` in the tenant's zone; the hourly beat may run late,
so any later run in the same ISO week still sends it, and the outbox key
(``digest:missing:<week>:<owner>``) makes a second run add nothing.

Set-based, the same statements for one owner as for thousands. The backlog is
read from the lead row alone — ``Lead.reported_weeks`` (a bit a week, kept by
``record_weekly_update``) and the lead's assignment and acceptance decide, in
SQL, which of the last ``LATE_WEEKS`` closed weeks were owed and have no update
(``missed_in_window``, My week's rule); no update is read. On PostgreSQL the
job reads every owner's counts (``counts_query``, a plain ``GROUP BY`` owner),
and one ``INSERT … SELECT`` (``JOB_SQL``) lists each owner's first
``DIGEST_LIMIT`` leads (``listing_query``: this week's missing first, from an
index, stopping at the 25th), names their buyers, renders the emails and writes
them to the outbox; an email says "and 57 more — see My week" for the rest.
Elsewhere (SQLite) the same rows are read in Python and ``_text`` renders the
same emails. An owner with only a backlog still gets the one email.

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


class _Counts(NamedTuple):
    """``counts_query``'s row: an owner's counts and who gets the email (``_Owner`` without
    the listed leads)."""

    partner_id: int | None
    rep_id: int | None
    leads: int
    missing: int
    late: int
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


def _owner(row: _Owner | _Counts, key: str) -> DigestOwner | None:
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
# The characters ``str.strip()`` removes (Python's whitespace, not only ASCII's), as an
# escaped SQL literal, so a name of no-break spaces is no name in SQL either.
_WHITESPACE = "".join(f"\\u{ord(ch):04x}" for ch in map(chr, range(0x3001)) if ch.isspace())
PERSON_SQL = (
    f"COALESCE(NULLIF(btrim(i.first_name || ' ' || i.last_name, E'{_WHITESPACE}'), ''), "
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


def _head(name: str, count: int, label: str) -> str:
    """The email down to its first listed lead: the greeting and this week's count."""
    hello = f"Hello {name},\n\n"
    if count:
        noun = "lead still needs" if count == 1 else "leads still need"
        return hello + f"{count} {noun} this week's update ({label}):\n\n"
    return hello + f"Every lead has this week's update ({label}) or does not owe it yet.\n\n"


# Above the listed leads with late weeks, when there are any.
LATE_HEADING = f"Earlier weeks with no update (the last {LATE_WEEKS} weeks):\n\n"


def _late_prefix(missed: tuple[date, ...]) -> str:
    """A late lead's line up to the buyer's name."""
    noun = "week" if len(missed) == 1 else "weeks"
    return f"- Late: {len(missed)} {noun} missing for "


def _late_suffix(missed: tuple[date, ...]) -> str:
    """A late lead's line from the buyer's name to its link."""
    return f" — {_week_labels(missed)}: "


def _foot(unlisted: int, site: str) -> str:
    if unlisted:
        return f"And {unlisted} more — see My week: {site}/leads/week/\n"
    return f"Report them in My week: {site}/leads/week/\n"


def _text(owner: DigestOwner, row: DigestRow, label: str) -> str:
    """The email's text (``JOB_SQL`` writes the same on PostgreSQL): the greeting, this week's
    listed leads, the listed leads with late weeks, and the pointer to My week."""
    site = getattr(settings, "SITE_URL", "") or ""
    text = _head(owner.name, row.missing_count, label)
    if row.missing:
        text += "\n".join(f"- {lead.person}: {_lead_url(lead, site)}" for lead in row.missing)
        text += "\n\n"
    if row.late:
        lines = (
            f"{_late_prefix(tuple(missed))}{lead.person}{_late_suffix(tuple(missed))}"
            f"{_lead_url(lead, site)}"
            for lead, missed in row.late
        )
        text += LATE_HEADING + "\n".join(lines) + "\n\n"
    return text + _foot(row.unlisted, site)


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
        .values("id", "inquiry_id", "partner_id", "rep_id", "owner_rep", "missing", "missed")
    )


# The three counts of an owner in one sum, each row's rules worked out once (a flattened
# subquery's column is written out, and evaluated, wherever it is used): this week's missing
# in the low bits, the leads with late weeks from ``_LATE``, the leads in the digest (either)
# from ``_LEADS``. 21 bits a count: up to 2,097,151 leads an owner.
_LATE = 1 << 21
_LEADS = 1 << 42
_COUNTS = f"""sum(CASE
    WHEN d.missed > 0 THEN {_LEADS + _LATE} + CASE WHEN d.missing THEN 1 ELSE 0 END
    WHEN d.missing THEN {_LEADS + 1} ELSE 0 END)::bigint"""


def counts_query(
    week: date, tz: tzinfo, owing_sql: tuple[str, tuple[Any, ...]] | None = None
) -> tuple[str, tuple[Any, ...]]:
    """Every owner's counts and who they are (SQL and parameters): one row an owner with
    something in the digest (``_Counts``).

    The plain ``GROUP BY`` owner of the owing leads (``owing_leads``, flattened, so
    PostgreSQL may scan in parallel with partial aggregates), the owner's name and
    address joined to the 2,000 groups.
    """
    inner, params = owing_sql or owing_leads(week, tz).query.sql_with_params()
    tenant_id = require_tenant_id()
    sql = f"""
SELECT c.partner_id, c.owner_rep, c.n >> 42, c.n & {_LATE - 1}, c.n >> 21 & {_LATE - 1},
    u.full_name, u.email, u.is_active, p.name, p.contact_email, (m.is_active IS TRUE)
FROM (
    SELECT d.partner_id, d.owner_rep, {_COUNTS} AS n
    FROM ({inner}) d
    GROUP BY d.partner_id, d.owner_rep
    HAVING {_COUNTS} >= {_LEADS}
) c
LEFT JOIN {User._meta.db_table} u ON u.id = c.owner_rep
LEFT JOIN {Partner._meta.db_table} p ON p.id = c.partner_id AND p.tenant_id = %s
LEFT JOIN {Membership._meta.db_table} m ON m.user_id = c.owner_rep AND m.tenant_id = %s
"""
    return sql, (*params, tenant_id, tenant_id)


def listing_query(
    week: date,
    tz: tzinfo,
    owing_sql: tuple[str, tuple[Any, ...]] | None = None,
    *,
    named: bool = True,
) -> tuple[str, tuple[Any, ...]]:
    """One owner's listed leads (SQL and parameters), for a ``LATERAL`` over an owner ``c``
    (``c.partner_id``, ``c.owner_rep``, ``c.missing``): at most ``DIGEST_LIMIT`` rows
    ``(key, id, missed, person)``, this week's missing first, then by id (the keys' order).

    No owner's leads are sorted or grouped: this week's missing are read in id order
    and the read stops at the ``min(missing, 25)``-th; the leads with only late weeks
    are read only when fewer than 25 are missing, and stop at the rest (a rep's from
    ``leads_lead_digest_listing_idx``, index only; a partner's from its own index). Only
    the listed leads' buyers are read, by primary key. ``owing_sql``: ``owing_leads``'s
    SQL and parameters when the caller has them.
    """
    inner, inner_params = owing_sql or owing_leads(week, tz).query.sql_with_params()
    rep = ("d.partner_id IS NULL AND d.rep_id = c.owner_rep", "c.partner_id IS NULL")
    partner = ("d.partner_id = c.partner_id", "c.partner_id IS NOT NULL")
    missing = ("d.missing", f"least(c.missing, {DIGEST_LIMIT})")
    late_only = ("NOT d.missing AND d.missed > 0", f"greatest({DIGEST_LIMIT} - c.missing, 0)")
    branches = []
    params: list[Any] = []
    for owned, kind in (rep, partner):
        for flag, (which, limit) in enumerate((missing, late_only)):
            # ``owing_leads`` is a plain subquery: PostgreSQL pulls it up, so the owner's
            # condition and the order by id reach the index.
            branches.append(
                f"(SELECT ({flag}::bigint << {_KEY_LATE_ONLY}) | (d.id::bigint << {_KEY_ID_SHIFT})"
                f" | d.missed AS key, d.id, d.inquiry_id, d.missed FROM ({inner}) d"
                f" WHERE {owned} AND {which}"
                f" ORDER BY d.id LIMIT CASE WHEN {kind} THEN {limit} ELSE 0 END)"
            )
            params.extend(inner_params)
    union = "\n    UNION ALL\n    ".join(branches)
    if not named:
        return union, tuple(params)
    sql = f"""
SELECT k.key, k.id, k.missed, {PERSON_SQL} AS person
FROM (
    {union}
) k
JOIN {Inquiry._meta.db_table} i ON i.id = k.inquiry_id AND i.tenant_id = %s
"""
    return sql, (*params, require_tenant_id())


def digest_query(week: date, tz: tzinfo) -> tuple[str, tuple[Any, ...]]:
    """The digest's one query on PostgreSQL (SQL and parameters): one row an owner
    (``_Owner``): ``counts_query``'s counts, and each owner's listed leads
    (``listing_query``) as their keys and buyers, in the keys' order."""
    owing = owing_leads(week, tz).query.sql_with_params()
    counts, counts_params = counts_query(week, tz, owing)
    listing, listing_params = listing_query(week, tz, owing)
    sql = f"""
SELECT c.partner_id, c.owner_rep, c.leads, c.missing, c.late, x.keys, x.persons,
    c.full_name, c.email, c.is_active, c.name, c.contact_email, c.member
FROM ({counts}) AS c(partner_id, owner_rep, leads, missing, late,
    full_name, email, is_active, name, contact_email, member)
CROSS JOIN LATERAL (
    SELECT array_agg(t.key ORDER BY t.key) AS keys, array_agg(t.person ORDER BY t.key) AS persons
    FROM ({listing}) t
) x
"""
    return sql, (*counts_params, *listing_params)


# Sent with the query, in the same round trip, for its transaction only. JIT would compile
# these plans on every run (their estimated cost is over ``jit_above_cost``: 0.2-0.4 s of
# compiling for a query of a few hundred milliseconds). ``work_mem`` stays at its default:
# with more, the job hashes every buyer of the tenant instead of merging the listed ones
# (paired at 200,000 leads, 32 MB made the job 1.25× slower, 8 MB 1.07×).
QUERY_SETTINGS = "SET LOCAL jit = off; "


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
    if connection.vendor != "postgresql":
        return _queue_rendered_in_python(tenant.name, week, tz, label)
    return _queue_rendered_in_sql(tenant.name, week, tz, label)


def _queue_rendered_in_python(tenant: str, week: date, tz: tzinfo, label: str) -> int:
    """The job elsewhere (SQLite: ``make run``): the rows read, each email rendered by
    ``_text``, every email written in one ``enqueue_many``."""
    rows = digest_rows(week, tz)
    sent_keys = set(outbox.messages_for((CAUSE, label)).values_list("key", flat=True))
    messages = [
        outbox.message(
            key=key,
            recipient=row.owner.email,
            payload={
                "subject": _subject(tenant, row.missing_count, row.late_count, label),
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


# The emails as PostgreSQL writes them (``_text``'s text, line for line), one row an owner to
# write to, from the arrays Python makes of ``counts_query``'s rows: every owner's listed leads
# (``listing_query`` without the buyers, a ``LATERAL`` an owner ``c``), their buyers joined to
# all 45,000 at once (PostgreSQL merges them in id order: no look-up a lead), made into lines
# an owner (``x``), and joined to the owner's key, address, subject and the text above the
# first lead and below the last (``e``, by the arrays' ordinal). Placeholders, in order: the
# late heading; the link's start, the late lines' starts and ends by mask, the link's start
# again; the owners' three columns the listing reads; ``listing_query``'s; the tenant; the
# owners' five text columns.
JOB_SQL = """
SELECT e.key, e.recipient, jsonb_build_object('subject', e.subject, 'text', e.head
    || coalesce(x.missing_lines || E'\\n\\n', '')
    || coalesce(%s || x.late_lines || E'\\n\\n', '')
    || e.foot)
FROM (
    SELECT c.ord,
        string_agg('- ' || {person} || ': ' || %s || t.id || '/', E'\\n' ORDER BY t.key)
            FILTER (WHERE t.key >> {late_only} = 0) AS missing_lines,
        string_agg((%s::text[])[t.missed] || {person} || (%s::text[])[t.missed]
            || %s || t.id || '/', E'\\n' ORDER BY t.key) FILTER (WHERE t.missed > 0) AS late_lines
    FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[])
        WITH ORDINALITY AS c(partner_id, owner_rep, missing, ord)
    CROSS JOIN LATERAL ({listed}) t
    JOIN {inquiries} i ON i.id = t.inquiry_id AND i.tenant_id = %s
    GROUP BY c.ord
) x
JOIN unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
    WITH ORDINALITY AS e(key, recipient, subject, head, foot, ord) ON e.ord = x.ord
"""


def _queue_rendered_in_sql(tenant: str, week: date, tz: tzinfo, label: str) -> int:
    """The job on PostgreSQL: the owners' counts read (``counts_query``), and every email
    rendered and written by one ``INSERT … SELECT`` (``JOB_SQL`` through
    ``outbox.enqueue_select``): no lead and no email text passes through Python."""
    with transaction.atomic():
        # One transaction: the settings (``SET LOCAL``) hold for the INSERT too.
        return _render_in_sql(tenant, week, tz, label)


def _render_in_sql(tenant: str, week: date, tz: tzinfo, label: str) -> int:
    owing = owing_leads(week, tz).query.sql_with_params()
    sql, params = counts_query(week, tz, owing)
    with connection.cursor() as cursor:
        cursor.execute(QUERY_SETTINGS + sql, params)
        owners = [_Counts._make(row) for row in cursor.fetchall()]
    sent_keys = set(outbox.messages_for((CAUSE, label)).values_list("key", flat=True))
    site = getattr(settings, "SITE_URL", "") or ""
    columns: list[list[Any]] = [[] for _ in range(8)]
    for row in owners:
        owner_key = _owner_key(row.partner_id, row.rep_id)
        owner = _owner(row, owner_key)
        key = f"digest:missing:{label}:{owner_key}"
        if owner is None or key in sent_keys:
            continue
        subject = _subject(tenant, row.missing, row.late, label)
        try:
            outbox.check("email", key, owner.email, {"subject": subject, "text": ""})
        except ValueError as refused:
            logger.warning("outbox message %s refused: %s", key, refused)
            continue
        unlisted = row.leads - min(row.leads, DIGEST_LIMIT)
        values = (
            key,
            owner.email,
            subject,
            _head(owner.name, row.missing, label),
            _foot(unlisted, site),
            row.partner_id,
            row.rep_id,
            row.missing,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    partners = [row for row in owners if row.partner_id is not None]
    if partners:
        # Partners' webhook endpoints hear of the same leads (issue 18) as the email lists.
        webhook_events.reminders(
            _partner_listed(partners, listing_query(week, tz, owing)), week=label
        )
    if not columns[0]:
        return 0
    listed, listed_params = listing_query(week, tz, owing, named=False)
    lates = [_late_weeks(mask, week) for mask in range(1, 1 << (LATE_WEEKS + 1))]
    link = f"{site}/leads/"
    return outbox.enqueue_select(
        "email",
        JOB_SQL.format(
            late_only=_KEY_LATE_ONLY,
            listed=listed,
            person=PERSON_SQL,
            inquiries=Inquiry._meta.db_table,
        ),
        [
            LATE_HEADING,
            link,
            [_late_prefix(missed) for missed in lates],
            [_late_suffix(missed) for missed in lates],
            link,
            *columns[5:],
            *listed_params,
            require_tenant_id(),
            *columns[:5],
        ],
        cause=(CAUSE, label),
    )


def _partner_listed(
    partners: list[_Counts], listing_sql: tuple[str, tuple[Any, ...]]
) -> dict[int, list[int]]:
    """The leads each partner's email lists (``listing_query``), by partner id: one query."""
    listing, params = listing_sql
    sql = f"""
SELECT c.partner_id, array_agg(t.id ORDER BY t.key)
FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS c(partner_id, owner_rep, missing)
CROSS JOIN LATERAL ({listing}) t
GROUP BY c.partner_id
"""
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                [row.partner_id for row in partners],
                [None for _ in partners],
                [row.missing for row in partners],
                *params,
            ],
        )
        return {partner_id: ids for partner_id, ids in cursor.fetchall()}


def _partner_leads(rows: list[DigestRow]) -> dict[int, list[int]]:
    """The leads listed in each partner's digest row, by partner id."""
    found: dict[int, list[int]] = {}
    for row in rows:
        kind, _, pk = row.owner_key.partition(":")
        if kind == "partner":
            found[int(pk)] = [lead.id for lead in row.missing] + [lead.id for lead, _ in row.late]
    return found
