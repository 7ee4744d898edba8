"""Campaigns carry their spend, so cost per inquiry, MQL and lead can be computed.

Every write of a campaign — from the campaigns page, the API or the import's
"create the missing campaigns" button — goes through these functions, each
with its audit row.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from inquiries.models import Campaign, Source
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

# Who may create, change and archive campaigns (the API's write roles); qualifiers read.
EDITABLE = ("name", "source", "spend", "starts_on", "ends_on")


def _clean_name(name: str, *, other_than: Campaign | None = None) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise RuleViolation(
            field="name", code="invalid", message="Give a name of 1–200 characters."
        )
    taken = Campaign.objects.filter(name__iexact=name)
    if other_than is not None:
        taken = taken.exclude(pk=other_than.pk)
    if taken.exists():
        raise RuleViolation(
            field="name", code="duplicate", message=f"A campaign {name!r} already exists."
        )
    return name


def _check(*, source: str, spend: Decimal, starts_on: date | None, ends_on: date | None) -> None:
    if source not in Source.values:
        raise RuleViolation(field="source", code="invalid_choice", message="Unknown source.")
    if spend < 0:
        raise RuleViolation(field="spend", code="negative", message="Spend cannot be negative.")
    if starts_on and ends_on and ends_on < starts_on:
        raise RuleViolation(
            field="ends_on", code="invalid", message="The campaign ends before it starts."
        )


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
    _check(source=source, spend=spend, starts_on=starts_on, ends_on=ends_on)
    name = _clean_name(name)
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


@transaction.atomic
def create_missing_campaigns(*, names: list[str], by: Principal) -> list[Campaign]:
    """Create the campaigns an import names that do not exist yet (in any letter case).

    Names that already exist (archived ones too) are left alone, so the same
    click twice creates nothing the second time. Returns the campaigns made.
    """
    wanted: dict[str, str] = {}
    for name in names:
        cleaned = name.strip()
        if cleaned and cleaned.lower() not in wanted:
            wanted[cleaned.lower()] = cleaned
    existing = {
        name.lower()
        for name in Campaign.objects.annotate(lower_name=Lower("name"))
        .filter(lower_name__in=list(wanted))
        .values_list("name", flat=True)
    }
    return [
        create_campaign(name=name, by=by) for key, name in wanted.items() if key not in existing
    ]


@transaction.atomic
def change_campaign(*, campaign: Campaign, changes: dict[str, Any], by: Principal) -> Campaign:
    """Change a campaign's name, source, spend or dates; ``archived`` archives or restores it.

    Only the keys given change. A name another campaign has (in any letter
    case), a negative spend or an end before the start changes nothing.
    """
    unknown = set(changes) - {*EDITABLE, "archived"}
    if unknown:
        name = sorted(unknown)[0]
        raise RuleViolation(field=name, code="unknown", message="Unknown field.")
    values = {name: changes.get(name, getattr(campaign, name)) for name in EDITABLE}
    if values["spend"] is None:
        raise RuleViolation(field="spend", code="required", message="Give the spend.")
    _check(
        source=values["source"],
        spend=Decimal(values["spend"]),
        starts_on=values["starts_on"],
        ends_on=values["ends_on"],
    )
    if "name" in changes:
        values["name"] = _clean_name(values["name"], other_than=campaign)
    before = {name: _shown(getattr(campaign, name)) for name in EDITABLE}
    changed = [name for name in EDITABLE if getattr(campaign, name) != values[name]]
    for name in changed:
        setattr(campaign, name, values[name])
    if changed:
        campaign.save(update_fields=changed)
        record_audit(
            action="campaign.changed",
            obj=campaign,
            before={name: before[name] for name in changed},
            after={name: _shown(values[name]) for name in changed},
            by=by,
        )
    if "archived" in changes and changes["archived"] is not None:
        campaign = archive_campaign(campaign=campaign, archived=bool(changes["archived"]), by=by)
    return campaign


@transaction.atomic
def archive_campaign(*, campaign: Campaign, archived: bool, by: Principal) -> Campaign:
    """Take a campaign out of the pickers (``archived``) or bring it back; reports keep it."""
    if (campaign.archived_at is not None) == archived:
        return campaign
    campaign.archived_at = timezone.now() if archived else None
    campaign.save(update_fields=["archived_at"])
    record_audit(
        action="campaign.archived" if archived else "campaign.restored",
        obj=campaign,
        after={"name": campaign.name},
        by=by,
    )
    return campaign


def _shown(value: Any) -> Any:
    """A value as the audit row keeps it (JSON: dates and money as text)."""
    if isinstance(value, Decimal | date):
        return str(value)
    return value
