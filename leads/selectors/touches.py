"""Counting touches: the tenant's minimum and the 4-touch cliff count the current owner's."""

from __future__ import annotations

from django.db.models import Q

from leads.models import Lead, Touch


def owner_touch_filter(lead: Lead) -> Q:
    """The touches of ``lead`` made by its current owner (the rep, or anyone for the partner)."""
    if lead.partner_id is not None:
        return Q(lead_id=lead.pk, partner_id=lead.partner_id)
    if lead.rep_id is not None:
        return Q(lead_id=lead.pk, user_id=lead.rep_id, partner__isnull=True)
    return Q(pk__in=[])


def owner_touch_count(lead: Lead) -> int:
    """How many touches the lead's current owner made on it. One query."""
    return Touch.objects.filter(owner_touch_filter(lead)).count()
