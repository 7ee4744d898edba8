"""Campaigns carry their spend, so cost per inquiry, MQL and lead can be computed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction

from inquiries.models import Campaign, Source
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit


@transaction.atomic
def create_campaign(
    *,
    name: str,
    source: str = Source.OTHER,
    spend: Decimal = Decimal(0),
    starts_on: date | None = None,
    ends_on: date | None = None,
    by: Principal,
) -> Campaign:
    """Register a campaign and what it cost."""
    name = name.strip()
    if not name or len(name) > 200:
        raise RuleViolation(
            field="name", code="invalid", message="Give a name of 1–200 characters."
        )
    if source not in Source.values:
        raise RuleViolation(field="source", code="invalid_choice", message="Unknown source.")
    if spend < 0:
        raise RuleViolation(field="spend", code="negative", message="Spend cannot be negative.")
    if starts_on and ends_on and ends_on < starts_on:
        raise RuleViolation(
            field="ends_on", code="invalid", message="The campaign ends before it starts."
        )
    if Campaign.objects.filter(name__iexact=name).exists():
        raise RuleViolation(
            field="name", code="duplicate", message=f"A campaign {name!r} already exists."
        )
    campaign = Campaign.objects.create(
        tenant=by.tenant,
        name=name,
        source=source,
        spend=spend,
        starts_on=starts_on,
        ends_on=ends_on,
    )
    record_audit(
        action="campaign.created", obj=campaign, after={"name": name, "spend": str(spend)}, by=by
    )
    return campaign
