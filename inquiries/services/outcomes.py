"""The last known outcome of inquiries that never became a lead: set in bulk, e.g. from a CRM.

An outcome recorded here is history: it moves no stage (``stages.py`` is not
involved), never counts in the weekly reports (they count leads' outcomes),
and feeds only "suggest from outcomes". An inquiry that is a lead has its
outcome from sales and is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from inquiries.models import Inquiry, Outcome, Stage
from inquiries.services.planner import refresh_statistics
from leadflow.lib import edits
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

MAX_IDS = 1000


@dataclass(frozen=True)
class OutcomeResult:
    matched: int
    changed: int
    leads_left_alone: int


@transaction.atomic
def record_outcomes(
    *,
    ids: list[int],
    outcome: str,
    closed_on: date | None = None,
    value: Decimal | None = None,
    by: Principal,
) -> OutcomeResult:
    """Set (or with ``outcome=""`` clear) the last known outcome of these inquiries.

    Ids of another tenant are not found (404 on the API, as one missing id);
    inquiries that are leads are left alone, and when every one is, refused.
    """
    if outcome not in ("", *Outcome.values):
        raise RuleViolation(
            field="outcome", code="invalid_choice", message=f'"{outcome}" is not a valid choice.'
        )
    if not ids or len(ids) > MAX_IDS:
        raise RuleViolation(field="ids", code="invalid", message=f"Give 1–{MAX_IDS} ids.")
    if closed_on and closed_on > timezone.localdate():
        raise RuleViolation(
            field="closed_on", code="invalid", message="An outcome cannot close in the future."
        )
    if not outcome and (closed_on or value is not None):
        raise RuleViolation(
            field="outcome", code="required", message="Give won or lost with a close date or value."
        )
    found = Inquiry.objects.filter(pk__in=ids)
    matched = found.count()
    if matched != len(set(ids)):
        raise Http404("No such inquiry.")  # another tenant's id is no id here
    open_ones = found.exclude(stage=Stage.LEAD)
    changed_ids = list(open_ones.values_list("pk", flat=True))
    if not changed_ids:
        raise RuleViolation(
            field="ids",
            code="already_lead",
            conflict=True,
            message="A lead's outcome comes from sales; these inquiries are all leads.",
        )
    changed = Inquiry.objects.filter(pk__in=changed_ids).update(
        outcome=outcome, outcome_on=closed_on, outcome_value=value, updated_at=timezone.now()
    )
    record_audit(
        action="inquiry.outcomes_recorded",
        obj=by.tenant,
        after={
            "ids": sorted(set(ids))[:100],
            "outcome": outcome,
            "closed_on": closed_on.isoformat() if closed_on else None,
            "value": str(value) if value is not None else None,
            "changed": changed,
        },
        by=by,
    )
    # Whoever keeps figures from imported outcomes (the dashboards' history) is told.
    edits.edited("inquiry", changed_ids, ["outcome", "outcome_value"])
    transaction.on_commit(lambda: refresh_statistics(changed))
    return OutcomeResult(matched, changed, matched - changed)
