"""Reads of leads: which leads a caller may see."""

from __future__ import annotations

from django.db.models import QuerySet

from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from leads.models import Lead

# Roles that see every lead of the tenant.
ALL_LEADS_ROLES = (Role.ADMIN, Role.MANAGER, Role.QUALIFIER, Role.MARKETER)


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
