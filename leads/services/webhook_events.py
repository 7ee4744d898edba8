"""Leads' events for partners' webhook endpoints (issue 18), in the change's transaction.

Each function is one small call from the service that made the change; it
costs one query when no partner involved has an endpoint. What a partner may
learn is decided here, once: an **offer** (``lead.offered``) names no buyer —
no name, email or phone, as the offer email and the portal hide them until
the partner accepts; ``lead.assigned`` (an accepted offer, or a lead given
outright) carries the buyer; a lead taken away carries its id only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings

from leadflow.outbox.endpoints.services import publish
from leadflow.outbox.models import WebhookEndpoint, WebhookEvent
from leadflow.tenancy.models import Partner
from leads.models import AssignmentKind, Lead, LeadStage

RECALL_KINDS = frozenset(
    {
        AssignmentKind.RECALL_UNACCEPTED,
        AssignmentKind.RECALL_IDLE,
        AssignmentKind.PARTNER_SUSPENDED,
    }
)
BUYER_FIELDS = ("first_name", "last_name", "email", "phone", "title")


def _listening(partner_ids: Iterable[int | None]) -> set[int]:
    """The partners among ``partner_ids`` with an enabled endpoint (one query)."""
    ids = {pk for pk in partner_ids if pk is not None}
    if not ids:
        return set()
    return set(
        WebhookEndpoint.objects.filter(partner_id__in=ids, enabled=True).values_list(
            "partner_id", flat=True
        )
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _link(lead_id: int) -> str:
    return f"{getattr(settings, 'SITE_URL', '') or ''}/leads/{lead_id}/"


def lead_data(lead: Lead, *, with_buyer: bool) -> dict[str, Any]:
    """The lead as a partner's endpoint sees it; the buyer only ``with_buyer``."""
    profile = lead.profile or {}
    data: dict[str, Any] = {
        "id": lead.pk,
        "stage": lead.stage,
        "url": _link(lead.pk),
        "company": profile.get("company", ""),
        "industry": profile.get("industry", ""),
        "country": profile.get("country", ""),
        "region": profile.get("region", ""),
        "assigned_at": _iso(lead.assigned_at),
        "acceptance_due_at": _iso(lead.acceptance_due_at),
    }
    if with_buyer:
        data["need"] = lead.need
        data["buyer"] = {name: profile.get(name, "") for name in BUYER_FIELDS}
    return data


def _given(lead: Lead, key: str) -> None:
    """The lead's (new) partner owner learns of it: an offer, or an assignment."""
    if lead.partner_id is None:
        return
    if lead.stage == LeadStage.AWAITING_ACCEPTANCE:
        publish(
            lead.partner_id,
            WebhookEvent.LEAD_OFFERED,
            {"lead": lead_data(lead, with_buyer=False)},
            f"{key}:offered",
        )
    else:
        publish(
            lead.partner_id,
            WebhookEvent.LEAD_ASSIGNED,
            {"lead": lead_data(lead, with_buyer=True)},
            f"{key}:assigned",
        )


def _taken(partner_id: int, lead_id: int, event: str, key: str, reason: str) -> None:
    publish(partner_id, event, {"lead": {"id": lead_id}, "reason": reason}, f"{key}:{event}")


def routed(items: Sequence[Any], *, kind: str, at: datetime) -> None:
    """After :func:`leads.services.routing.route_leads`: offers, assignments, recalls.

    ``items`` are the router's records (``lead.pk``, ``previous_partner_id``,
    ``decision.partner``); ``at`` is the run's assignment time (a lead gets one record a
    run: the lead and the time name the event).
    """
    changes = []
    for item in items:
        new = item.decision.partner.pk if item.decision.partner is not None else None
        if new != item.previous_partner_id:
            changes.append((item, new))
    listening = _listening([pk for item, new in changes for pk in (new, item.previous_partner_id)])
    if not listening:
        return
    leads = Lead.objects.in_bulk([item.lead.pk for item, new in changes if new in listening])
    event = WebhookEvent.LEAD_RECALLED if kind in RECALL_KINDS else WebhookEvent.LEAD_REASSIGNED
    for item, new in changes:
        key = f"lead:{item.lead.pk}:assignment:{_iso(at)}"
        if item.previous_partner_id in listening:
            _taken(item.previous_partner_id, item.lead.pk, event, key, str(kind))
        if new in listening and item.lead.pk in leads:
            _given(leads[item.lead.pk], key)


def owner_changed(lead: Lead, *, old_partner_id: int | None, reason: str) -> None:
    """After a manager's reassign (``change_owner``): the old partner and the new learn of it."""
    listening = _listening([old_partner_id, lead.partner_id])
    if not listening:
        return
    key = f"lead:{lead.pk}:owner:{_iso(lead.assigned_at)}"
    if old_partner_id in listening and old_partner_id != lead.partner_id:
        assert old_partner_id is not None
        _taken(old_partner_id, lead.pk, WebhookEvent.LEAD_REASSIGNED, key, reason or "reassigned")
    if lead.partner_id in listening:
        _given(lead, key)


def accepted(lead: Lead) -> None:
    """A partner accepted its offer: now it learns who the buyer is (``lead.assigned``)."""
    if lead.partner_id is None or not _listening([lead.partner_id]):
        return
    publish(
        lead.partner_id,
        WebhookEvent.LEAD_ASSIGNED,
        {"lead": lead_data(lead, with_buyer=True)},
        f"lead:{lead.pk}:accepted:{_iso(lead.accepted_at)}",
    )


def partner_standing(partner: Partner, event: str, *, reason: str, key: str) -> None:
    """``partner.warning``, ``partner.suspended`` or ``partner.reinstated``."""
    if not _listening([partner.pk]):
        return
    publish(
        partner.pk,
        event,
        {"partner": {"id": partner.pk, "name": partner.name}, "reason": reason},
        f"partner:{partner.pk}:{event}:{key}",
    )


def reminders(leads_by_partner: dict[int, list[int]], *, week: str) -> None:
    """``lead.reminder``: each partner's leads in the Monday digest (updates missing)."""
    listening = _listening(pk for pk, ids in leads_by_partner.items() if ids)
    for partner_id in sorted(listening):
        lead_ids = sorted(set(leads_by_partner[partner_id]))
        publish(
            partner_id,
            WebhookEvent.LEAD_REMINDER,
            {"week": week, "leads": [{"id": pk, "url": _link(pk)} for pk in lead_ids]},
            f"reminder:{week}:{partner_id}",
        )
