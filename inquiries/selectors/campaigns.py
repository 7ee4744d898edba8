"""The campaigns page: each campaign with its spend and what it produced, and its cost per lead."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, QuerySet

from inquiries.models import Campaign, Inquiry, Stage
from inquiries.selectors.inquiries import campaign_list

CENT = Decimal("0.01")
# An inquiry that passed the MQL bar is an MQL now or already a lead (its appointment booked).
REACHED_MQL = (Stage.MQL, Stage.LEAD)


@dataclass(frozen=True)
class CampaignResult:
    """One campaign's row: spend, inquiries, MQLs, leads and what each of them cost."""

    campaign: Campaign
    inquiries: int
    mqls: int
    leads: int

    @property
    def cost_per_inquiry(self) -> Decimal | None:
        return _per(self.campaign.spend, self.inquiries)

    @property
    def cost_per_mql(self) -> Decimal | None:
        return _per(self.campaign.spend, self.mqls)

    @property
    def cost_per_lead(self) -> Decimal | None:
        return _per(self.campaign.spend, self.leads)


def _per(spend: Decimal, count: int) -> Decimal | None:
    if not count:
        return None
    return (spend / count).quantize(CENT, rounding=ROUND_HALF_UP)


def campaign_page_list(*, archived: bool = False) -> QuerySet[Campaign]:
    """The campaigns the page lists: the current ones, or the archive; newest first."""
    return campaign_list().filter(archived_at__isnull=not archived)


def campaign_results(campaigns: list[Campaign]) -> list[CampaignResult]:
    """What each of ``campaigns`` produced, counted in one grouped query (none per row)."""
    if not campaigns:
        return []
    counts = {
        row["campaign_id"]: row
        for row in Inquiry.objects.filter(campaign_id__in=[c.pk for c in campaigns])
        .order_by()
        .values("campaign_id")
        .annotate(
            inquiries=Count("id"),
            mqls=Count("id", filter=Q(stage__in=REACHED_MQL)),
            leads=Count("id", filter=Q(stage=Stage.LEAD)),
        )
    }
    empty = {"inquiries": 0, "mqls": 0, "leads": 0}
    return [
        CampaignResult(
            campaign=c,
            inquiries=counts.get(c.pk, empty)["inquiries"],
            mqls=counts.get(c.pk, empty)["mqls"],
            leads=counts.get(c.pk, empty)["leads"],
        )
        for c in campaigns
    ]
