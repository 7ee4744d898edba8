"""The Monday digest: one email per owner listing the leads that still owe this week's update,
and below them the late backlog (earlier weeks with no update).

Owners are reps (the email goes to the rep) and partners (to the partner's
``contact_email``; a partner without one gets nothing). The digest is due on
Monday at ``DIGEST_HOUR`` in the tenant's zone; the hourly beat may run late,
so any later run in the same ISO week still sends it, and the outbox key
(``digest:missing:<week>:<owner>``) makes a second run add nothing.

Set-based, one query for all owners whatever their number: every lead that
owes an update (``owing_update`` over all the tenant's owned leads, ordered
by owner) with, per lead, which of the last ``LATE_WEEKS`` weeks have an
update (``reported_mask``: one integer, a bit a week, from a correlated
subquery on the updates' index). Python works out, per lead, whether this
week's update is missing (``last_update_week`` before this week, as
``missing_update`` reads it) and which past weeks are late (owed since the
lead's assignment, My week's rule), and groups by owner. No query per owner,
and no SQL that SQLite (``make run``) lacks. The leads are read as plain
tuples of the few columns the email needs, not as model objects, and the
updates as one integer a lead, not a row an update: at 200,000 leads those
were most of the time (``bench/digests.py``, ``docs/performance.md``). An
owner with only a backlog still gets the one email.

The email names the buyer and the company and links the lead — never the
score or internal notes, which may be forwarded outside.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from itertools import groupby
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from inquiries.models import Inquiry
from leadflow import outbox
from leadflow.lib import times, weeks
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import Membership, Tenant, User
from leads.models import Lead
from leads.selectors.weekly import (
    LATE_WEEKS,
    current_week,
    late_weeks,
    owing_update,
    past_weeks,
    reported_mask,
)

logger = logging.getLogger(__name__)

# Local hour on Monday from which the week's digest goes out.
DIGEST_HOUR = 7
CAUSE = "digest-missing"

# The columns the digest reads, in this order (``_Row``): the rules' and the email's.
DIGEST_FIELDS = (
    "id",
    "rep_id",
    "partner_id",
    "assigned_at",
    "accepted_at",
    "last_update_week",
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
    "reported",
)


class _Row(NamedTuple):
    id: int
    rep_id: int | None
    partner_id: int | None
    assigned_at: datetime | None
    accepted_at: datetime | None
    last_update_week: date | None
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
    reported: int


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

    ``owner`` is None when there is nobody to write to (a partner without a
    contact email, a rep who left or whose account is closed).
    """

    owner_key: str
    owner: DigestOwner | None
    missing: list[DigestLead] = field(default_factory=list)
    # Leads with earlier weeks missing, and those weeks (oldest first).
    late: list[tuple[DigestLead, list[date]]] = field(default_factory=list)


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
    parts = [f"Hello {owner.name},\n"]
    count = len(row.missing)
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
    site = getattr(settings, "SITE_URL", "") or ""
    parts.append(f"Report them in My week: {site}/leads/week/\n")
    return "\n".join(parts)


def digest_query(week: date, tz: tzinfo) -> QuerySet[Any]:
    """The digest's one query: every lead that owes an update, in owner order, as tuples.

    The leads owe ``week``'s update or owed an earlier one (``owing_update``:
    assigned before this week's Thursday), read as ``DIGEST_FIELDS``, with
    ``reported``: which of the ``LATE_WEEKS`` weeks before have an update
    (``reported_mask``).
    """
    owned = Lead.objects.filter(Q(partner__isnull=False) | Q(rep__isnull=False))
    return (
        owing_update(owned, week=week, tz=tz)
        .annotate(
            rep_is_member=Exists(
                Membership.objects.filter(user_id=OuterRef("rep_id"), is_active=True)
            ),
            reported=reported_mask(past_weeks(week, tz)),
        )
        .order_by("partner_id", "rep_id", "id")
        .values_list(*DIGEST_FIELDS)
    )


def digest_rows(week: date, tz: tzinfo) -> list[DigestRow]:
    """Every owner's missing and late leads for ``week``: one query whatever the owners.

    Rows are in owner order (partners, then reps); an owner appears only when
    something is missing, this week or in the backlog.
    """
    window = past_weeks(week, tz)
    result: list[DigestRow] = []
    for owner_key, group in groupby(map(_Row._make, digest_query(week, tz)), key=_owner_key):
        digest: DigestRow | None = None
        for row in group:
            # ``missing_update``'s rule for the current week: no update is ever for a later week.
            missing = row.last_update_week is None or row.last_update_week < week
            gaps = late_weeks(row.assigned_at, row.accepted_at, row.reported, window)
            if not missing and not gaps:
                continue
            if digest is None:
                digest = DigestRow(owner_key=owner_key, owner=_owner(row, owner_key))
                result.append(digest)
            lead = _lead(row)
            if missing:
                digest.missing.append(lead)
            if gaps:
                digest.late.append((lead, gaps))
    return result


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
                        "subject": _subject(tenant.name, len(row.missing), len(row.late), label),
                        "text": _text(row.owner, row, label),
                    },
                    cause=(CAUSE, label),
                )
            except ValueError as refused:
                logger.warning("no missing-update digest for %s (%s)", row.owner_key, refused)
                continue
            queued += 1
    return queued
