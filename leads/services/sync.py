"""Bulk sync: many weekly updates (and touches, next steps) in one call, each on its own.

A partner's integration reports its week in one request instead of a
thousand: ``POST /api/v1/leads/sync/``. Each item goes through the same
services as the single endpoints (``updates.record_weekly_update`` with its
touch, then ``lifecycle.set_next_step``), in a savepoint of its own, so a
refused item writes nothing and the others are kept. The leads are read in
one query among those the caller may see: a lead it may not see fails as
"not found", exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leads.models import Lead, UpdateStatus, WeeklyUpdate
from leads.selectors.leads import lead_list
from leads.services.lifecycle import set_next_step
from leads.services.updates import record_weekly_update

#: The most items one sync takes; more is refused whole (400 ``items``).
MAX_ITEMS = 1000
NOT_FOUND = "Not found."


@dataclass(frozen=True)
class SyncItem:
    """One item as validated: the lead's id, the update's fields, an optional next step.

    ``update`` holds ``record_weekly_update``'s keyword arguments (``status``,
    ``note``, ``touch``, ``value``, ``closed_on``, ``lost_reason``,
    ``postponed_until``, ``week``); ``next_step`` is ``{"on", "action"}``.
    """

    index: int
    lead: int
    update: Mapping[str, Any]
    next_step: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SyncOutcome:
    """What became of one item: its update, or why it was refused (``{field: [message]}``)."""

    index: int
    lead: int | None
    update: WeeklyUpdate | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.update is not None


def check_size(count: int) -> None:
    """400 on ``items`` for an empty sync or one over ``MAX_ITEMS``; nothing is written."""
    if count < 1:
        raise RuleViolation(field="items", code="required", message="Send at least one item.")
    if count > MAX_ITEMS:
        raise RuleViolation(
            field="items",
            code="too_many",
            message=f"At most {MAX_ITEMS} items per sync; this one has {count}. "
            "Send the rest in another request.",
        )


def sync_updates(*, items: Sequence[SyncItem], by: Principal) -> list[SyncOutcome]:
    """Record each item's update as ``by``; one outcome per item, in the items' order.

    Refused (400 ``items``) before anything is written when there are more
    than ``MAX_ITEMS`` (the API checks the request's count with ``check_size``,
    items of the wrong shape included). One query reads every lead named; then each item costs
    what its single ``POST …/updates/`` (and ``…/next-step/``) would.
    """
    if len(items) > MAX_ITEMS:
        check_size(len(items))
    if not items:
        return []
    visible = {
        lead.pk: lead
        for lead in lead_list(principal=by).filter(pk__in={item.lead for item in items})
    }
    with transaction.atomic():
        return [_sync_one(item, visible.get(item.lead), by) for item in items]


def _sync_one(item: SyncItem, lead: Lead | None, by: Principal) -> SyncOutcome:
    if lead is None:
        return SyncOutcome(index=item.index, lead=item.lead, errors={"lead": [NOT_FOUND]})
    if item.next_step is not None and item.update.get("status") != UpdateStatus.PROGRESS:
        return SyncOutcome(
            index=item.index,
            lead=item.lead,
            errors={
                "next_step": [
                    "A next step goes with a progress update: won, lost and postponed "
                    "close the lead."
                ]
            },
        )
    try:
        if item.next_step is None:  # the service's own savepoint is the item's
            update = record_weekly_update(lead=lead, by=by, **item.update)
        else:
            with transaction.atomic():  # the update and the next step: both or neither
                update = record_weekly_update(lead=lead, by=by, **item.update)
                _next_step(update.lead, item.next_step, by)
    except RuleViolation as refused:
        return SyncOutcome(
            index=item.index, lead=item.lead, errors={refused.field: [refused.message]}
        )
    except PermissionDenied:
        return SyncOutcome(
            index=item.index,
            lead=item.lead,
            errors={"lead": ["Only the lead's owner or a manager reports on it."]},
        )
    return SyncOutcome(index=item.index, lead=item.lead, update=update)


def _next_step(lead: Lead, next_step: Mapping[str, Any], by: Principal) -> None:
    try:
        set_next_step(
            lead=lead, on=next_step.get("on"), action=next_step.get("action") or "", by=by
        )
    except RuleViolation as refused:
        raise RuleViolation(
            field=f"next_step.{refused.field}",
            code=refused.code,
            message=refused.message,
            conflict=refused.conflict,
        ) from None
