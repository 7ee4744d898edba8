"""Reads of leads: which leads a caller may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from inquiries.models import Inquiry
from leadflow.tenancy.models import Role, StageChange
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MARKETING
from leads.models import Lead, LeadStage, Touch, WeeklyUpdate

# Roles that see every lead of the tenant.
ALL_LEADS_ROLES = MARKETING


def lead_list(*, principal: Principal) -> QuerySet[Lead]:
    """The leads the caller may see, newest first, with what the list shows.

    A partner (its users and its keys) sees its own partner's leads, a rep the
    leads assigned to them, marketing roles and managers every lead; anyone
    else none. A lead the caller may not see is therefore a 404, like a lead
    of another tenant. ``rep``, ``partner`` and ``appointment`` are joined
    because every row shows them.
    """
    leads = Lead.objects.select_related("rep", "partner", "appointment").order_by(
        "-created_at", "-id"
    )
    if principal.partner is not None:
        return leads.filter(partner_id=principal.partner.pk)
    if principal.has_role(*ALL_LEADS_ROLES):
        return leads
    if principal.has_role(Role.REP) and principal.user is not None:
        return leads.filter(rep_id=principal.user.pk)
    return leads.none()


# Stages of a lead still open for sales (not won, lost or postponed).
OPEN_STAGES = (LeadStage.AWAITING_ACCEPTANCE, LeadStage.ACCEPTED, LeadStage.SQL)


def leads_of_inquiry(*, principal: Principal, inquiry: Inquiry) -> list[Lead]:
    """The person's leads the caller may see, newest first: the open one and the closed history.

    One query, whatever the number of leads: rep, partner and appointment are
    joined because the inquiry page shows them.
    """
    return list(lead_list(principal=principal).filter(inquiry_id=inquiry.pk))


@dataclass(frozen=True)
class LeadsToDo:
    """How many leads wait for the viewer, and the first few of them (soonest meeting first)."""

    count: int
    first: list[Lead]


def leads_to_do(*, principal: Principal, stages: tuple[str, ...], limit: int = 5) -> LeadsToDo:
    """The leads in ``stages`` the caller may see: a count and the ``limit`` soonest.

    Two queries whatever the number of leads; the appointment is joined
    because each row shows when it is.
    """
    leads = lead_list(principal=principal).filter(stage__in=stages)
    first = list(leads.order_by("appointment__starts_at", "id")[:limit])
    return LeadsToDo(count=leads.count(), first=first)


# --- What a partner sees of an offer ---------------------------------------------------

#: The buyer's contact details in a lead's profile (``booking.buyer_profile``): hidden from a
#: partner until it accepts the lead. ``additional_emails`` is kept by merges when present.
CONTACT_FIELDS = frozenset({"first_name", "last_name", "email", "phone", "additional_emails"})
#: What a timeline entry of the profile may show on an offer: what happened and when.
OFFER_ACTIVITY_FIELDS = ("kind", "occurred_at")


def contact_hidden(lead: Lead, principal: Principal) -> bool:
    """Whether the buyer's contact details are hidden from ``principal`` on ``lead``.

    True while the caller acts for a partner (its users and its keys) and the
    lead is still an offer (awaiting acceptance) — or was never accepted at
    all (rejected as not a lead, which leaves it in the partner's list): like
    a partner programme's engagement invitation, the partner sees who the
    company is and what it needs, and the person's name, email and phone once
    it accepts.
    """
    if principal.partner is None:
        return False
    return lead.stage == LeadStage.AWAITING_ACCEPTANCE or lead.accepted_at is None


def visible_profile(lead: Lead, principal: Principal) -> dict[str, Any]:
    """The lead's buyer profile as ``principal`` may read it (a copy; the lead is unchanged).

    When ``contact_hidden``: without first and last name, email, phone and any
    additional emails, and the timeline's entries reduced to their kind and
    time. Company, interest, industry, country, size, scores and the rest stay.
    """
    profile: dict[str, Any] = dict(lead.profile or {})
    if not contact_hidden(lead, principal):
        return profile
    for field in CONTACT_FIELDS:
        profile.pop(field, None)
    activities = profile.get("activities")
    if isinstance(activities, list):
        profile["activities"] = [
            {key: entry.get(key) for key in OFFER_ACTIVITY_FIELDS if key in entry}
            for entry in activities
            if isinstance(entry, dict)
        ]
    return profile


# --- Polling for changes: ``GET /api/v1/leads/?updated_since=`` ------------------------

#: The lead's own moments: a lead counts as updated when one of them is at or after the time.
LEAD_MOMENTS = ("created_at", "assigned_at", "accepted_at", "qualified_at", "closed_at")


def updated_since(leads: QuerySet[Lead], since: datetime) -> QuerySet[Lead]:
    """The leads of ``leads`` changed at or after ``since``: what an integration syncs again.

    A lead counts as updated when it was created, (re)assigned, accepted,
    qualified or closed since, or when a touch, a weekly update or a stage
    change was *recorded* on it since (the touch's ``created_at``, not the
    ``at`` it reports: a call logged today about last week is news today).
    One query: the caller's leads (an index on tenant and owner) with three
    ``EXISTS`` probes that each start from an index led by the lead (touches'
    ``(tenant, lead, at)``, updates' ``(tenant, lead, week)``, stage changes'
    ``(tenant, machine, object_id, created_at)``); no scan of the tenant's
    touches or updates, whatever their number. The next step and the
    appointment's edits do not count.
    """
    moments = Q()
    for name in LEAD_MOMENTS:
        moments |= Q(**{f"{name}__gte": since})
    touched = Exists(Touch.objects.filter(lead_id=OuterRef("pk"), created_at__gte=since))
    reported = Exists(WeeklyUpdate.objects.filter(lead_id=OuterRef("pk"), created_at__gte=since))
    moved = Exists(
        StageChange.objects.filter(machine="lead", object_id=OuterRef("pk"), created_at__gte=since)
    )
    return leads.filter(moments | touched | reported | moved)
