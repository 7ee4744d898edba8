"""The Monday digest: one email per owner listing the leads that still owe this week's update.

Owners are reps (the email goes to the rep) and partners (to the partner's
``contact_email``; a partner without one gets nothing). The digest is due on
Monday at ``DIGEST_HOUR`` in the tenant's zone; the hourly beat may run late,
so any later run in the same ISO week still sends it, and the outbox key
(``digest:missing:<week>:<owner>``) makes a second run add nothing.

Set-based: one query reads every owner's missing leads (``missing_update``
over all the tenant's leads, ordered by owner) and Python groups them; no
query per owner. The email names the buyer and the company and links the
lead — never the score or internal notes, which may be forwarded outside.

The late backlog (weeks before this one) is not listed: ``my_week`` computes
it per principal only, and a per-owner query is what this digest avoids. The
email points to My week for it instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, tzinfo
from itertools import groupby
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from leadflow import outbox
from leadflow.lib import times, weeks
from leadflow.tenancy.context import require_tenant_id
from leadflow.tenancy.models import Membership, Tenant
from leads.models import Lead
from leads.selectors.weekly import current_week, missing_update

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


def _text(owner: _Owner, label: str) -> str:
    lines = []
    for lead in owner.leads:
        person = lead.inquiry.display_name
        company = f" ({lead.inquiry.company})" if lead.inquiry.company else ""
        lines.append(f"- {person}{company}: {_lead_url(lead)}")
    count = len(owner.leads)
    noun = "lead still needs" if count == 1 else "leads still need"
    return (
        f"Hello {owner.name},\n\n"
        f"{count} {noun} this week's update ({label}):\n\n"
        + "\n".join(lines)
        + "\n\nLate updates for earlier weeks are listed in My week.\n"
    )


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
    owned = Lead.objects.filter(Q(partner__isnull=False) | Q(rep__isnull=False))
    missing = (
        missing_update(owned, week=week, tz=tz)
        .annotate(
            rep_is_member=Exists(
                Membership.objects.filter(user_id=OuterRef("rep_id"), is_active=True)
            )
        )
        .select_related("inquiry", "rep", "partner")
        .order_by("partner_id", "rep_id", "id")
    )
    sent_keys = set(outbox.messages_for((CAUSE, label)).values_list("key", flat=True))
    queued = 0
    with transaction.atomic():
        for owner_key, group in groupby(missing, key=_owner_key):
            leads: list[Any] = list(group)
            key = f"digest:missing:{label}:{owner_key}"
            owner = _owner(leads[0], owner_key)
            if owner is None or key in sent_keys:
                continue
            owner.leads = leads
            subject = f"{tenant.name}: {len(leads)} lead update{'s' if len(leads) != 1 else ''}"
            try:
                outbox.enqueue(
                    kind="email",
                    key=key,
                    recipient=owner.email,
                    payload={"subject": f"{subject} due ({label})", "text": _text(owner, label)},
                    cause=(CAUSE, label),
                )
            except ValueError as refused:
                logger.warning("no missing-update digest for %s (%s)", owner_key, refused)
                continue
            queued += 1
    return queued
