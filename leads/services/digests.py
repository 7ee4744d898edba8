"""The Monday digest: one email per owner listing the leads that still owe this week's update,
and below them the late backlog (earlier weeks with no update).

Owners are reps (the email goes to the rep) and partners (to the partner's
``contact_email``; a partner without one gets nothing). The digest is due on
Monday at ``DIGEST_HOUR`` in the tenant's zone; the hourly beat may run late,
so any later run in the same ISO week still sends it, and the outbox key
(``digest:missing:<week>:<owner>``) makes a second run add nothing.

Set-based, two queries for all owners whatever their number: one reads every
lead that owes an update (``owing_update`` over all the tenant's owned leads,
ordered by owner), one reads those leads' updates of the last ``LATE_WEEKS``
weeks (``reported_weeks``); Python works out, per lead, whether this week's
update is missing (``last_update_week`` before this week, as
``missing_update`` reads it) and which past weeks are late (owed since the
lead's assignment, My week's rule), and groups by owner. No query per owner,
and no SQL that SQLite (``make run``) lacks. An owner with only a backlog
still gets the one email.

The email names the buyer and the company and links the lead — never the
score or internal notes, which may be forwarded outside.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from itertools import groupby
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from leadflow import outbox
from leadflow.lib import times, weeks
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import Membership, Tenant
from leads.models import Lead
from leads.selectors.weekly import (
    LATE_WEEKS,
    current_week,
    late_weeks,
    late_window,
    owing_update,
    updates_in,
    weeks_by_lead,
)

logger = logging.getLogger(__name__)

# Local hour on Monday from which the week's digest goes out.
DIGEST_HOUR = 7
CAUSE = "digest-missing"


@dataclass
class _Owner:
    key: str
    name: str
    email: str
    leads: list[Lead] = field(default_factory=list)
    # Leads with earlier weeks missing, and those weeks (oldest first).
    late: list[tuple[Lead, list[date]]] = field(default_factory=list)


@dataclass
class DigestRow:
    """One owner's share of the digest: this week's missing leads and the late ones."""

    owner_key: str
    missing: list[Lead]
    late: list[tuple[Lead, list[date]]]


def digest_due(now: datetime, tz: tzinfo) -> bool:
    """Whether ``now`` is at or after Monday ``DIGEST_HOUR``:00 of its ISO week, read in ``tz``."""
    local = now.astimezone(tz)
    start = datetime.combine(weeks.week_of(local.date()), time(DIGEST_HOUR), tzinfo=local.tzinfo)
    return local >= start


def _owner_key(lead: Lead) -> str:
    """A partner owns its partner's leads; otherwise the rep does (as in My week)."""
    if lead.partner_id is not None:
        return f"partner:{lead.partner_id}"
    return f"rep:{lead.rep_id}"


def _owner(lead: Any, key: str) -> _Owner | None:
    """Who gets the digest for ``lead``'s owner, or None when there is nobody to write to.

    ``lead`` carries the query's ``rep_is_member`` annotation.
    """
    if lead.partner is not None:
        if not lead.partner.contact_email:
            return None
        return _Owner(key=key, name=lead.partner.name, email=lead.partner.contact_email)
    rep = lead.rep
    # A rep who left the team (membership ended) or whose account is closed gets nothing.
    if rep is None or not rep.is_active or not rep.email or not lead.rep_is_member:
        return None
    return _Owner(key=key, name=rep.display_name, email=rep.email)


def _lead_url(lead: Lead) -> str:
    """``SITE_URL``/leads/<id>/, or the relative path when no site address is configured."""
    return f"{getattr(settings, 'SITE_URL', '') or ''}/leads/{lead.pk}/"


def _person(lead: Lead) -> str:
    company = f" ({lead.inquiry.company})" if lead.inquiry.company else ""
    return f"{lead.inquiry.display_name}{company}"


def _text(owner: _Owner, label: str) -> str:
    parts = [f"Hello {owner.name},\n"]
    count = len(owner.leads)
    if count:
        noun = "lead still needs" if count == 1 else "leads still need"
        lines = [f"- {_person(lead)}: {_lead_url(lead)}" for lead in owner.leads]
        parts.append(f"{count} {noun} this week's update ({label}):\n\n" + "\n".join(lines) + "\n")
    else:
        parts.append(f"Every lead has this week's update ({label}) or does not owe it yet.\n")
    if owner.late:
        lines = []
        for lead, missed in owner.late:
            labels = ", ".join(weeks.week_label(monday) for monday in missed)
            noun = "week" if len(missed) == 1 else "weeks"
            lines.append(
                f"- Late: {len(missed)} {noun} missing for {_person(lead)} — {labels}: "
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


def digest_queries(week: date, tz: tzinfo) -> tuple[QuerySet[Lead], QuerySet[Any]]:
    """The digest's two queries: the owing leads in owner order, and their recent updates.

    The leads owe ``week``'s update or owed an earlier one (``owing_update``:
    assigned before this week's Thursday), carry ``rep_is_member`` (for
    ``_owner``) and their inquiry, rep and partner; the updates are
    ``updates_in`` the ``LATE_WEEKS`` weeks before ``week``.
    """
    owned = Lead.objects.filter(Q(partner__isnull=False) | Q(rep__isnull=False))
    owing = owing_update(owned, week=week, tz=tz)
    leads = (
        owing.annotate(
            rep_is_member=Exists(
                Membership.objects.filter(user_id=OuterRef("rep_id"), is_active=True)
            )
        )
        .select_related("inquiry", "rep", "partner")
        .order_by("partner_id", "rep_id", "id")
    )
    return leads, updates_in(owing, since=late_window(week)[0], before=week)


def digest_rows(week: date, tz: tzinfo) -> list[DigestRow]:
    """Every owner's missing and late leads for ``week``: two queries whatever the owners.

    Rows are in owner order (partners, then reps); an owner appears only when
    something is missing, this week or in the backlog.
    """
    leads, updates = digest_queries(week, tz)
    reported = weeks_by_lead(updates)
    rows: list[DigestRow] = []
    for owner_key, group in groupby(leads, key=_owner_key):
        missing: list[Lead] = []
        late: list[tuple[Lead, list[date]]] = []
        for lead in group:
            # ``missing_update``'s rule for the current week: no update is ever for a later week.
            if lead.last_update_week is None or lead.last_update_week < week:
                missing.append(lead)
            gaps = late_weeks(lead, reported.get(lead.pk, set()), week=week, tz=tz)
            if gaps:
                late.append((lead, gaps))
        if missing or late:
            rows.append(DigestRow(owner_key=owner_key, missing=missing, late=late))
    return rows


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
    leads are all up to date get nothing; an owner already sent this week's
    digest is skipped (and the outbox key would refuse a duplicate anyway).
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
            first: Any = (row.missing or [lead for lead, _ in row.late])[0]
            owner = _owner(first, row.owner_key)
            if owner is None or key in sent_keys:
                continue
            owner.leads, owner.late = row.missing, row.late
            outbox_subject = _subject(tenant.name, len(row.missing), len(row.late), label)
            try:
                outbox.enqueue(
                    kind="email",
                    key=key,
                    recipient=owner.email,
                    payload={"subject": outbox_subject, "text": _text(owner, label)},
                    cause=(CAUSE, label),
                )
            except ValueError as refused:
                logger.warning("no missing-update digest for %s (%s)", row.owner_key, refused)
                continue
            queued += 1
    return queued
