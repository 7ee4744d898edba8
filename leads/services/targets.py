"""Set and remove quarterly targets (value and count) of a rep, a partner or a team.

The page ``/settings/targets/`` and ``/api/v1/targets/`` both come here. A
target is an upsert per owner and quarter (the model's unique constraints):
setting it again replaces value and count. Admins and managers only; every
change is audited with the target before and after. Everything is checked
before anything is written, so a refused target changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.timezone import now

from leadflow.lib import times
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Partner, User
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leadflow.tenancy.services.audit import record_audit
from leads.models import Target, Team
from leads.selectors.targets import Quarter, current_quarter
from leads.services.booking import check_rep

# The column holds 12 digits before the point: the largest value is just below 10^12.
MAX_VALUE = Decimal("999999999999.99")
MAX_COUNT = 100_000
# Years one may set, around the current one (tenant's zone).
YEARS_BEFORE, YEARS_AFTER = 1, 2


def target_snapshot(target: Target) -> dict[str, Any]:
    """The target as plain data (audit before/after)."""
    return {
        "year": target.year,
        "quarter": target.quarter,
        "rep": target.rep_id,
        "partner": target.partner_id,
        "team": target.team_id,
        "value": None if target.value is None else str(target.value),
        "count": target.count,
    }


def _may_change(by: Principal) -> None:
    if by.is_partner or not by.has_role(*MANAGERS):
        raise RuleViolation(
            field="role", code="forbidden", message="Only admins and managers set targets."
        )


def clean_value(value: Any) -> Decimal | None:
    """None, or a Decimal from 0 to ``MAX_VALUE`` with at most 2 decimals."""
    if value is None or value == "":
        return None
    invalid = RuleViolation(field="value", code="invalid", message="Give an amount, e.g. 25000.")
    if isinstance(value, bool):
        raise invalid
    try:
        # Through its text: a float's shortest form ("0.1"), not its binary expansion.
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid from None
    if not amount.is_finite():
        raise invalid
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise RuleViolation(
            field="value", code="decimals", message="Give the amount with at most 2 decimals."
        )
    if not Decimal(0) <= amount <= MAX_VALUE:
        raise RuleViolation(
            field="value",
            code="out_of_range",
            message="Give an amount from 0 to 999,999,999,999.99.",
        )
    return amount.quantize(Decimal("0.01"))


def clean_count(count: Any) -> int | None:
    """None, or a whole number from 0 to ``MAX_COUNT``."""
    if count is None or count == "":
        return None
    if isinstance(count, str) and count.strip().isdigit():
        count = int(count.strip())
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
        raise RuleViolation(
            field="count",
            code="out_of_range",
            message=f"Give a whole number of leads from 0 to {MAX_COUNT:,}.",
        )
    return count


def clean_year(year: Any, by: Principal) -> int:
    this = current_quarter(times.zone(by.tenant.timezone)).year
    if isinstance(year, bool) or not isinstance(year, int):
        raise RuleViolation(field="quarter", code="invalid", message="Give a year.")
    if not this - YEARS_BEFORE <= year <= this + YEARS_AFTER:
        raise RuleViolation(
            field="quarter",
            code="out_of_range",
            message=f"Targets can be set for {this - YEARS_BEFORE} to {this + YEARS_AFTER}.",
        )
    return year


def _check_owner(
    by: Principal, rep: User | None, partner: Partner | None, team: Team | None
) -> None:
    given = [owner for owner in (rep, partner, team) if owner is not None]
    if len(given) != 1:
        raise RuleViolation(
            field="owner",
            code="one_owner",
            message="Give exactly one of a rep, a partner or a team.",
        )
    if rep is not None:
        check_rep(rep)
    if partner is not None and partner.tenant_id != by.tenant.pk:
        raise RuleViolation(field="partner", code="not_found", message="No such partner.")
    if team is not None and team.tenant_id != by.tenant.pk:
        raise RuleViolation(field="team", code="not_found", message="No such team.")


@dataclass(frozen=True)
class _Clean:
    year: int
    quarter: int
    value: Decimal | None
    count: int | None


def _clean(
    by: Principal,
    *,
    year: Any,
    quarter: Any,
    rep: User | None,
    partner: Partner | None,
    team: Team | None,
    value: Any,
    count: Any,
) -> _Clean:
    _may_change(by)
    _check_owner(by, rep, partner, team)
    cleaned_year = clean_year(year, by)
    if isinstance(quarter, bool) or quarter not in (1, 2, 3, 4):
        raise RuleViolation(field="quarter", code="invalid", message="A quarter is 1 to 4.")
    cleaned_value, cleaned_count = clean_value(value), clean_count(count)
    if cleaned_value is None and cleaned_count is None:
        raise RuleViolation(
            field="value", code="required", message="Give a value, a count of leads, or both."
        )
    return _Clean(cleaned_year, quarter, cleaned_value, cleaned_count)


def set_target(
    *,
    year: int,
    quarter: int,
    rep: User | None = None,
    partner: Partner | None = None,
    team: Team | None = None,
    value: Any,
    count: Any,
    by: Principal,
) -> Target:
    """Create or replace the owner's target for the quarter; audited. RuleViolation if refused."""
    clean = _clean(
        by,
        year=year,
        quarter=quarter,
        rep=rep,
        partner=partner,
        team=team,
        value=value,
        count=count,
    )
    owner: dict[str, Any] = (
        {"rep": rep} if rep is not None else {"partner": partner} if partner else {"team": team}
    )
    with transaction.atomic():
        target = (
            Target.objects.select_for_update()
            .filter(year=clean.year, quarter=clean.quarter, **owner)
            .first()
        )
        before = target_snapshot(target) if target is not None else None
        if target is None:
            target = Target(tenant_id=by.tenant.pk, year=clean.year, quarter=clean.quarter, **owner)
        elif (target.value, target.count) == (clean.value, clean.count):
            return target  # nothing changes: no write, no audit row
        target.value, target.count, target.updated_at = clean.value, clean.count, now()
        target.save()
        record_audit(
            action="target.set", obj=target, before=before, after=target_snapshot(target), by=by
        )
    return target


def delete_target(*, target: Target, by: Principal) -> None:
    """Remove a target; audited with what it was."""
    _may_change(by)
    with transaction.atomic():
        before = target_snapshot(target)
        record_audit(action="target.deleted", obj=target, before=before, after=None, by=by)
        target.delete()


@dataclass
class TargetChange:
    """One row of the page: the owner, and the value and count typed (None: left empty)."""

    key: str
    rep: User | None = None
    partner: Partner | None = None
    team: Team | None = None
    value: Any = None
    count: Any = None
    existing: Target | None = None


class TargetsRefused(RuleViolation):
    """Some rows of a sheet were refused; ``errors`` maps each row's key to its violation."""

    def __init__(self, errors: dict[str, RuleViolation]):
        first = next(iter(errors.values()))
        super().__init__(field=first.field, code=first.code, message=first.message)
        self.errors = errors


def save_targets(*, quarter: Quarter, changes: list[TargetChange], by: Principal) -> int:
    """Apply a sheet's changed rows at once: all or none. The number of rows changed.

    A row with both fields empty removes its target; any other row is
    ``set_target``. Every row is checked first; any refused row raises
    ``TargetsRefused`` with all the rows' errors and nothing is written.
    """
    _may_change(by)
    errors: dict[str, RuleViolation] = {}
    for change in changes:
        if _is_removal(change):
            continue
        try:
            _clean(
                by,
                year=quarter.year,
                quarter=quarter.number,
                rep=change.rep,
                partner=change.partner,
                team=change.team,
                value=change.value,
                count=change.count,
            )
        except RuleViolation as refused:
            errors[change.key] = refused
    if errors:
        raise TargetsRefused(errors)
    with transaction.atomic():
        for change in changes:
            if _is_removal(change):
                if change.existing is not None:
                    delete_target(target=change.existing, by=by)
                continue
            set_target(
                year=quarter.year,
                quarter=quarter.number,
                rep=change.rep,
                partner=change.partner,
                team=change.team,
                value=change.value,
                count=change.count,
                by=by,
            )
    return len(changes)


def _is_removal(change: TargetChange) -> bool:
    return change.value in (None, "") and change.count in (None, "")
