"""Counting touches: the tenant's minimum and the 4-touch cliff count the current owner's."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from leads.models import Lead, LeadStage, Touch
from leads.selectors.settings import lead_settings

# A lead closed in one of these stages was given up by its owner (won and postponed were not).
GIVEN_UP_STAGES = (LeadStage.LOST, LeadStage.REJECTED, LeadStage.NO_SHOW)


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


@dataclass(frozen=True)
class TouchFlags:
    """The owner's touches on a lead against the tenant's minimum and cliff."""

    count: int
    minimum: int
    cliff: int
    # Fewer than the minimum: losing it needs "buyer declined".
    below_minimum: bool
    # Closed lost / rejected / no-show with the cliff's touches or fewer (default 4).
    given_up_early: bool


def touch_flags(lead: Lead) -> TouchFlags:
    """The lead's touch flags. Two queries (the settings and the count)."""
    rules = lead_settings()
    count = owner_touch_count(lead)
    return TouchFlags(
        count=count,
        minimum=rules.touch_minimum,
        cliff=rules.touch_cliff,
        below_minimum=count < rules.touch_minimum,
        given_up_early=lead.stage in GIVEN_UP_STAGES and count <= rules.touch_cliff,
    )


def _count_of(touches: QuerySet[Touch]) -> Coalesce:
    counted = touches.order_by().values("lead_id").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def owner_touches_expression() -> Case:
    """``owner_touch_count`` as an annotation of a lead queryset: no query per row.

    The same rule as ``owner_touch_filter``: a partner's lead counts the
    partner's touches, a rep's lead the rep's own (not made for a partner).
    """
    by_partner = Touch.objects.filter(lead_id=OuterRef("pk"), partner_id=OuterRef("partner_id"))
    by_rep = Touch.objects.filter(
        lead_id=OuterRef("pk"), user_id=OuterRef("rep_id"), partner__isnull=True
    )
    return Case(
        When(partner_id__isnull=False, then=_count_of(by_partner)),
        When(rep_id__isnull=False, then=_count_of(by_rep)),
        default=Value(0),
        output_field=IntegerField(),
    )
