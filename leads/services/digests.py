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
from operator import attrgetter
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    OrderBy,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
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

# The lead rows' columns the ranking returns (``ranked_leads``).
RANKED_FIELDS = (
    "id",
    "tenant_id",
    "inquiry_id",
    "rep_id",
    "partner_id",
    "missing",
    "missed",
    "owner_rep",
    "rank",
    "owner_leads",
    "owner_missing",
    "owner_late",
)

# The columns the digest reads, in this order (``_Row``): the rules' and the email's.
DIGEST_FIELDS = (
    "id",
    "rep_id",
    "partner_id",
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
    "rep_is_member",
    "owner_leads",
    "owner_missing",
    "owner_late",
    "rank",
)


class _Row(NamedTuple):
    id: int
    rep_id: int | None
    partner_id: int | None
    missing: bool
    missed: int
    first_name: str
    last_name: str
    email: str
    phone: str
    external_id: str
    company: str
    rep_name: str | None
    rep_email: str | None
    rep_is_active: bool | None
    partner_name: str | None
    partner_email: str | None
    rep_is_member: bool
    owner_leads: int
    owner_missing: int
    owner_late: int
    rank: int


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


def _owner_key(row: _Row) -> str:
    """A partner owns its partner's leads; otherwise the rep does (as in My week)."""
    if row.partner_id is not None:
        return f"partner:{row.partner_id}"
    return f"rep:{row.rep_id}"


def _owner_order(key: str) -> tuple[bool, int]:
    """Partners first, then reps, each by id."""
    kind, _, pk = key.partition(":")
    return kind != "partner", int(pk)


def _owner(row: _Row, key: str) -> DigestOwner | None:
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


def _lead(row: _Row) -> DigestLead:
    # The inquiry's own rule for its name (``Inquiry.display_name``), on the columns read.
    person = Inquiry.display_name.fget(row)  # type: ignore[attr-defined]
    company = f" ({row.company})" if row.company else ""
    return DigestLead(id=row.id, person=f"{person}{company}")


def _lead_url(lead: DigestLead) -> str:
    """``SITE_URL``/leads/<id>/, or the relative path when no site address is configured."""
    return f"{getattr(settings, 'SITE_URL', '') or ''}/leads/{lead.id}/"


def _text(owner: DigestOwner, row: DigestRow, label: str) -> str:
    site = getattr(settings, "SITE_URL", "") or ""
    parts = [f"Hello {owner.name},\n"]
    count = row.missing_count
    if count:
        noun = "lead still needs" if count == 1 else "leads still need"
        lines = [f"- {lead.person}: {_lead_url(lead)}" for lead in row.missing]
        parts.append(f"{count} {noun} this week's update ({label}):\n\n" + "\n".join(lines) + "\n")
    else:
        parts.append(f"Every lead has this week's update ({label}) or does not owe it yet.\n")
    if row.late:
        lines = []
        for lead, missed in row.late:
            labels = ", ".join(weeks.week_label(monday) for monday in missed)
            noun = "week" if len(missed) == 1 else "weeks"
            lines.append(
                f"- Late: {len(missed)} {noun} missing for {lead.person} — {labels}: "
                f"{_lead_url(lead)}"
            )
        parts.append(
            f"Earlier weeks with no update (the last {LATE_WEEKS} weeks):\n\n"
            + "\n".join(lines)
            + "\n"
        )
    if row.unlisted:
        parts.append(f"And {row.unlisted} more — see My week: {site}/leads/week/\n")
    else:
        parts.append(f"Report them in My week: {site}/leads/week/\n")
    return "\n".join(parts)


def _owner_partition() -> list[Any]:
    """A partner owns its partner's leads; otherwise the rep does (``_owner_key``)."""
    return [
        F("partner_id"),
        Case(When(partner__isnull=True, then=F("rep_id")), output_field=IntegerField()),
    ]


def ranked_leads(week: date, tz: tzinfo) -> QuerySet[Any]:
    """The leads the digest lists, from the lead rows alone: at most ``DIGEST_LIMIT`` an owner.

    One scan of the leads that owe an update (``owing_update``), kept when
    ``week``'s update is missing (``last_update_week`` before it) or an earlier
    week is (``missed``: ``missed_in_window``); per owner ranked (this week's
    missing first, then by id) and cut at ``DIGEST_LIMIT``, with the owner's
    counts beside each row. Narrow rows, so the ranking's sort stays in memory.
    """
    owned = Lead.objects.filter(Q(partner__isnull=False) | Q(rep__isnull=False))
    missing = Q(last_update_week__isnull=True) | Q(last_update_week__lt=week)
    owner = _owner_partition()
    return (
        owing_update(owned, week=week, tz=tz)
        .annotate(
            missing=ExpressionWrapper(missing, output_field=BooleanField()),
            missed=missed_in_window(week, past_weeks(week, tz)),
        )
        .filter(missing | Q(missed__gt=0))
        .annotate(
            owner_rep=owner[1],
            rank=Window(
                RowNumber(),
                partition_by=owner,
                order_by=[OrderBy(F("missing"), descending=True), F("id").asc()],
            ),
            owner_leads=Window(Count("id"), partition_by=owner),
            owner_missing=Window(
                Sum(Case(When(missing, then=Value(1)), default=Value(0))), partition_by=owner
            ),
            owner_late=Window(
                Sum(Case(When(missed__gt=0, then=Value(1)), default=Value(0))),
                partition_by=owner,
            ),
        )
        .filter(rank__lte=DIGEST_LIMIT)
        .order_by()
        .values(*RANKED_FIELDS)
    )


def digest_query(week: date, tz: tzinfo) -> tuple[str, tuple[Any, ...]]:
    """The digest's one query (SQL and parameters): ``ranked_leads`` joined to the buyer and
    the owner, as ``DIGEST_FIELDS`` (unordered: ``digest_rows`` groups them).

    The joins come after the ranking, so only the listed leads are joined. Every
    joined row is the lead's tenant's (and row-level security holds besides).
    """
    inner, params = ranked_leads(week, tz).query.sql_with_params()
    sql = f"""
SELECT r.id, r.rep_id, r.partner_id, r.missing, r.missed,
    i.first_name, i.last_name, i.email, i.phone, i.external_id, i.company,
    u.full_name, u.email, u.is_active, p.name, p.contact_email,
    (m.is_active IS TRUE), r.owner_leads, r.owner_missing, r.owner_late, r.rank
FROM ({inner}) r
JOIN {Inquiry._meta.db_table} i ON i.id = r.inquiry_id AND i.tenant_id = r.tenant_id
LEFT JOIN {User._meta.db_table} u ON u.id = r.rep_id
LEFT JOIN {Partner._meta.db_table} p ON p.id = r.partner_id AND p.tenant_id = r.tenant_id
LEFT JOIN {Membership._meta.db_table} m ON m.user_id = r.rep_id AND m.tenant_id = r.tenant_id
"""
    return sql, tuple(params)


# Sent with the query, in the same round trip, for its transaction only. JIT would compile
# this plan on every run (its estimated cost is over ``jit_above_cost``: 0.2-0.4 s of
# compiling for a query of about a second), and the ranking's sort of the digest leads
# (160,000 narrow rows at 200,000 leads) spills to disk at the default 4 MB of ``work_mem``.
QUERY_SETTINGS = "SET LOCAL jit = off; SET LOCAL work_mem = '16MB'; "


def _digest_tuples(week: date, tz: tzinfo) -> list[tuple[Any, ...]]:
    sql, params = digest_query(week, tz)
    if connection.vendor == "postgresql":
        # One string, one round trip: the settings last until the transaction ends (the one the
        # statement runs in, or the caller's).
        sql = QUERY_SETTINGS + sql
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def digest_rows(week: date, tz: tzinfo) -> list[DigestRow]:
    """Every owner's missing and late leads for ``week``: one query whatever the owners.

    Rows are in owner order (partners, then reps); an owner appears only when
    something is missing, this week or in the backlog.
    """
    # Grouped here, not sorted in SQL: the listed rows are few, a sort of them there spills.
    owners: dict[str, list[_Row]] = defaultdict(list)
    for row in map(_Row._make, _digest_tuples(week, tz)):
        owners[_owner_key(row)].append(row)
    result: list[DigestRow] = []
    for owner_key in sorted(owners, key=_owner_order):
        rows = sorted(owners[owner_key], key=attrgetter("rank"))
        first = rows[0]
        digest = DigestRow(
            owner_key=owner_key,
            owner=_owner(first, owner_key),
            leads_count=first.owner_leads,
            missing_count=first.owner_missing,
            late_count=first.owner_late,
        )
        for row in rows:
            lead = _lead(row)
            if row.missing:
                digest.missing.append(lead)
            if row.missed:
                digest.late.append((lead, list(_late_weeks(row.missed, week))))
        result.append(digest)
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
    queued = 0
    with transaction.atomic():
        # Partners' webhook endpoints hear of the same leads (issue 18), listed or not here.
        webhook_events.reminders(_partner_leads(rows), week=label)
        for row in rows:
            key = f"digest:missing:{label}:{row.owner_key}"
            if row.owner is None or key in sent_keys:
                continue
            try:
                outbox.enqueue(
                    kind="email",
                    key=key,
                    recipient=row.owner.email,
                    payload={
                        "subject": _subject(tenant.name, row.missing_count, row.late_count, label),
                        "text": _text(row.owner, row, label),
                    },
                    cause=(CAUSE, label),
                )
            except ValueError as refused:
                logger.warning("no missing-update digest for %s (%s)", row.owner_key, refused)
                continue
            queued += 1
    return queued


def _partner_leads(rows: list[DigestRow]) -> dict[int, list[int]]:
    """The leads listed in each partner's digest row, by partner id."""
    found: dict[int, list[int]] = {}
    for row in rows:
        kind, _, pk = row.owner_key.partition(":")
        if kind == "partner":
            found[int(pk)] = [lead.id for lead in row.missing] + [lead.id for lead, _ in row.late]
    return found
