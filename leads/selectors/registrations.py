"""Deal registrations as their readers see them: a partner its own, managers all.

Each row carries what became of it — the inquiry's stage and its newest
lead's stage and protection — in the one query that lists them.
"""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leads.models import DealRegistration, Lead


def may_read_registrations(principal: Principal) -> bool:
    """Partners (their own) and the tenant's admins and managers (all)."""
    return principal.is_partner or principal.has_role(*MANAGERS)


def registrations_for(
    principal: Principal, *, partner_id: int | None = None
) -> QuerySet[DealRegistration]:
    """The registrations ``principal`` may read, newest first, with their outcome.

    A partner's principal sees only its partner's; managers see all, or one
    partner's with ``partner_id``. Anyone else gets none. Rows are annotated
    with ``inquiry_stage``, ``lead_id``, ``lead_stage`` and ``lead_protected_until``.
    """
    rows = DealRegistration.objects.all()
    if principal.partner is not None:
        rows = rows.filter(partner_id=principal.partner.pk)
    elif not principal.has_role(*MANAGERS):
        return rows.none()
    elif partner_id is not None:
        rows = rows.filter(partner_id=partner_id)
    newest_lead = Lead.objects.filter(inquiry_id=OuterRef("inquiry_id")).order_by(
        "-created_at", "-id"
    )
    return (
        rows.select_related("partner", "inquiry", "user")
        .annotate(
            lead_id=Subquery(newest_lead.values("pk")[:1]),
            lead_stage=Subquery(newest_lead.values("stage")[:1]),
            lead_protected_until=Subquery(newest_lead.values("protected_until")[:1]),
        )
        .order_by("-created_at", "-id")
    )
