"""The start page's lead tiles: registered in ``LeadsConfig.ready()``.

A rep sees the leads awaiting their acceptance, a partner's user their
partner's open leads, managers and admins every lead awaiting a rep. The
leads pages arrive with the lead workflow; until then a rep's and a
partner's tile lists the soonest leads itself (buyer, company, meeting);
the managers' tile opens the team's leads (``/leads/team/``) at those awaiting.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from leadflow.lib import start_page, times
from leadflow.lib.start_page import PARTNER, Tile, TileItem
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from leads.models import Lead, LeadStage
from leads.selectors.leads import OPEN_STAGES, leads_to_do, visible_profile

AWAITING = (LeadStage.AWAITING_ACCEPTANCE,)


def _items(leads: list[Lead], principal: Principal) -> tuple[TileItem, ...]:
    rows = []
    for lead in leads:
        # An offer to a partner names no buyer until it is accepted.
        profile = visible_profile(lead, principal)
        name = f"{profile.get('first_name', '')} {profile.get('last_name', '')}".strip()
        fallback = (
            f"A buyer at {profile['company']}" if profile.get("company") else f"Lead {lead.pk}"
        )
        rows.append(
            TileItem(
                text=name or profile.get("email", "") or fallback,
                detail=" · ".join(
                    part
                    for part in (
                        profile.get("company", ""),
                        f"meeting {times.shown(lead.appointment.starts_at, principal.timezone)}",
                    )
                    if part
                ),
                url=reverse("lead-detail", args=[lead.pk]),
            )
        )
    return tuple(rows)


def rep_tiles(principal: Principal) -> list[Tile]:
    found = leads_to_do(principal=principal, stages=AWAITING)
    return [
        Tile(
            key="leads.awaiting_mine",
            label="Leads awaiting your acceptance",
            count=found.count,
            url="",
            hint="Booked appointments handed to you; accept each lead before the meeting.",
            tone="attention" if found.count else "info",
            items=_items(found.first, principal),
        )
    ]


def partner_tiles(principal: Principal) -> list[Tile]:
    found = leads_to_do(principal=principal, stages=OPEN_STAGES)
    return [
        Tile(
            key="leads.partner_open",
            label=f"Open leads of {principal.partner.name}",
            count=found.count,
            url="",
            hint="Leads referred to you with a booked appointment; report each one weekly.",
            tone="attention" if found.count else "info",
            items=_items(found.first, principal),
        )
    ]


def manager_tiles(principal: Principal) -> list[Tile]:
    found = leads_to_do(principal=principal, stages=AWAITING, limit=1)
    return [
        Tile(
            key="leads.awaiting",
            label="Leads awaiting a rep's acceptance",
            count=found.count,
            url=f"{reverse('lead-team')}?{urlencode({'stage': LeadStage.AWAITING_ACCEPTANCE})}",
            hint="Handed to sales by a booked appointment, not yet accepted.",
        )
    ]


def register() -> None:
    start_page.register("leads.rep", rep_tiles, audiences=(Role.REP,), order=5)
    start_page.register("leads.partner", partner_tiles, audiences=(PARTNER,), order=5)
    start_page.register(
        "leads.managers", manager_tiles, audiences=(Role.MANAGER, Role.ADMIN), order=50
    )
