"""The quarterly targets page (``/settings/targets/?quarter=2026-Q4``) for admins and managers.

One form lists every active rep, partner and team with value and count
inputs. Saving sends only the changed rows to ``save_targets`` at once (all
or none): a refused row shows its error on the row and nothing is saved. A
row emptied of both value and count removes its target.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from leadflow.lib import times
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leads.selectors.targets import Quarter, SheetRow, current_quarter, parse_quarter, target_sheet
from leads.services.targets import TargetChange, TargetsRefused, save_targets


def _same_value(typed: str, stored: Decimal | None) -> bool:
    if not typed:
        return stored is None
    try:
        return stored is not None and Decimal(typed) == stored
    except InvalidOperation:
        return False


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None  # a tampered ``was``: the row counts as changed


def _shown(row: SheetRow) -> dict[str, str]:
    """The row's inputs as the page first shows them (its stored target, or empty)."""
    return {
        "value": "" if row.value is None else f"{row.value:.2f}",
        "count": "" if row.count is None else str(row.count),
    }


def _changes(request: HttpRequest, rows: list[SheetRow]) -> list[TargetChange]:
    """The rows whose value or count the person changed on the form they saw.

    Each row carries what it showed (``was-<key>``): a row edited elsewhere
    meanwhile is left alone unless changed here, and a row that was not on
    the form (an owner added since) is skipped.
    """
    changes = []
    for row in rows:
        was = request.POST.get(f"was-{row.key}")
        if was is None:
            continue
        was_value, _, was_count = was.partition("|")
        value = request.POST.get(f"value-{row.key}", "").strip().replace(",", "")
        count = request.POST.get(f"count-{row.key}", "").strip()
        row.typed = {"value": value, "count": count, "was": was}
        unchanged_value = _same_value(value, _decimal(was_value)) if was_value else not value
        if unchanged_value and count == was_count:
            continue
        owner: dict[str, Any] = {row.kind: row.owner}
        changes.append(
            TargetChange(key=row.key, value=value, count=count, existing=row.target, **owner)
        )
    return changes


def _quarter_choices(around: Quarter, current: Quarter) -> list[Quarter]:
    first, last = Quarter(current.year - 1, 1), Quarter(current.year + 2, 4)
    quarters, quarter = [], first
    while quarter <= last:
        quarters.append(quarter)
        quarter = quarter.next()
    if around not in quarters:
        quarters.append(around)
    return quarters


@member_page(*MANAGERS)
def targets_page(request: HttpRequest, principal: Principal) -> HttpResponse:
    tz = times.zone(principal.tenant.timezone)
    current = current_quarter(tz)
    status, quarter_error = 200, ""
    try:
        text = request.GET.get("quarter")
        quarter = parse_quarter(text) if text else current
    except RuleViolation as refused:
        quarter, status, quarter_error = current, 400, refused.message
    sheet = target_sheet(quarter)
    errors: dict[str, RuleViolation] = {}
    if request.method == "POST" and not quarter_error:
        changes = _changes(request, sheet.rows)
        try:
            saved = save_targets(quarter=quarter, changes=changes, by=principal)
        except TargetsRefused as refused:
            errors, status = refused.errors, 400
        except RuleViolation as refused:
            messages.error(request, refused.message)
            status = 400
        else:
            if saved:
                messages.success(
                    request, f"{saved} target{'s' if saved != 1 else ''} for {quarter.label} saved."
                )
            else:
                messages.info(request, "Nothing changed.")
            return redirect(f"{reverse('targets')}?quarter={quarter.label}")
    for row in sheet.rows:
        row.error = errors.get(row.key)
        if not row.typed:
            shown = _shown(row)
            row.typed = {**shown, "was": f"{shown['value']}|{shown['count']}"}
    context = {
        "sheet": sheet,
        "quarter": quarter,
        "current": current,
        "quarters": _quarter_choices(quarter, current),
        "quarter_error": quarter_error,
        "errors": errors,
        "currency": principal.tenant.currency,
    }
    return render(request, "leads/targets.html", context, status=status)
