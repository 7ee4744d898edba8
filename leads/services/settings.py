"""Change the tenant's lead rules (``LeadSettings``): the one place they are checked and written.

The page ``/settings/leads/`` and ``PATCH /api/v1/lead-settings/`` both call
:func:`update_lead_settings`. Only the fields given change; the row is
created on the first change (until then the selector's defaults apply). Every
field is checked before anything is written, so a refused change leaves the
row as it was; the audit row keeps the rules before and after.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.timezone import now

from inquiries.services.phones import clean_tenant_country, set_tenant_country
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import validate_timezone
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leadflow.tenancy.services.audit import record_audit
from leadflow.tenancy.services.members import set_tenant_timezone
from leads.models import BUYER_DECLINED, LeadSettings
from leads.selectors.settings import lead_settings

# (field, lowest, highest) of the whole-number rules; the cliff's highest is the minimum.
RANGES: dict[str, tuple[int, int]] = {
    "acceptance_business_days": (1, 10),
    "touch_minimum": (1, 30),
    "reminder_hours_before": (1, 168),
    "recall_after_days": (0, 90),
    "suspend_after_weeks": (1, 8),
    "protection_days": (0, 365),
}
# What one lead may cost, in the tenant's currency, to the cent.
MAX_COST_PER_LEAD = Decimal("100000")
MAX_LOST_REASONS = 30
MAX_LOST_REASON_LENGTH = 100
FIELDS = (
    "acceptance_business_days",
    "touch_minimum",
    "touch_cliff",
    "lost_reasons",
    "postponed_to_nurture",
    "reminder_hours_before",
    "recall_after_days",
    "cost_per_lead",
    "suspend_after_weeks",
    "recall_on_suspension",
    "protection_days",
)


def settings_snapshot(row: LeadSettings) -> dict[str, Any]:
    """The rules as plain data (the audit trail's before/after and the API's body).

    The cost per lead is its decimal text (``"200.00"``): exact, and JSON for the audit row.
    """
    snapshot = {name: getattr(row, name) for name in FIELDS}
    snapshot["cost_per_lead"] = f"{Decimal(row.cost_per_lead):.2f}"
    return snapshot


def clean_cost_per_lead(value: Any) -> Decimal:
    """0 to 100,000 with at most two decimals (cents); a decimal or whole number, never a float."""
    field = "cost_per_lead"
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise RuleViolation(field=field, code="invalid", message="Give an amount, e.g. 200.00.")
    amount = Decimal(value)
    if not amount.is_finite() or not 0 <= amount <= MAX_COST_PER_LEAD:
        raise RuleViolation(
            field=field,
            code="out_of_range",
            message=f"Give an amount from 0 to {MAX_COST_PER_LEAD:,}.",
        )
    if amount != amount.quantize(Decimal("0.01")):
        raise RuleViolation(
            field=field, code="too_precise", message="Give the amount to the cent at most (200.50)."
        )
    return amount.quantize(Decimal("0.01"))


def clean_tenant_timezone(value: Any) -> str:
    """An IANA zone name (``Europe/Berlin``); the organisation always has one."""
    if not isinstance(value, str) or not value.strip():
        raise RuleViolation(
            field="timezone", code="required", message="Choose the organisation's time zone."
        )
    try:
        validate_timezone(value.strip())
    except ValidationError as exc:
        raise RuleViolation(field="timezone", code="invalid", message=exc.messages[0]) from None
    return value.strip()


def _may_change(by: Principal) -> None:
    # Rules that bind every rep: the tenant's admins and managers set them, never a partner.
    if by.is_partner or not by.has_role(*MANAGERS):
        raise RuleViolation(
            field="role", code="forbidden", message="Only admins and managers change lead settings."
        )


def _whole_number(field: str, value: Any, lowest: int, highest: int) -> int:
    # bool is an int in Python; True must not pass as 1.
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
        raise RuleViolation(
            field=field,
            code="out_of_range",
            message=f"Give a whole number from {lowest} to {highest}.",
        )
    return value


def clean_lost_reasons(value: Any) -> list[str]:
    """1–30 distinct reasons (ignoring case), each 1–100 characters, "buyer declined" among them.

    The reason is stored exactly as ``BUYER_DECLINED`` however it was typed:
    closing a lead below the touch minimum compares with that spelling.
    """
    field = "lost_reasons"
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RuleViolation(field=field, code="invalid", message="Give a list of reasons (text).")
    reasons = [" ".join(item.split()) for item in value]
    if any(not reason for reason in reasons):
        raise RuleViolation(field=field, code="blank", message="A reason cannot be empty.")
    if not 1 <= len(reasons) <= MAX_LOST_REASONS:
        raise RuleViolation(
            field=field,
            code="count",
            message=f"Give from 1 to {MAX_LOST_REASONS} reasons (you gave {len(reasons)}).",
        )
    too_long = next((r for r in reasons if len(r) > MAX_LOST_REASON_LENGTH), None)
    if too_long is not None:
        raise RuleViolation(
            field=field,
            code="too_long",
            message=f"Each reason has at most {MAX_LOST_REASON_LENGTH} characters: "
            f"{too_long[:40]!r}… is longer.",
        )
    seen: set[str] = set()
    for reason in reasons:
        if reason.casefold() in seen:
            raise RuleViolation(
                field=field, code="duplicate", message=f"The reason {reason!r} is given twice."
            )
        seen.add(reason.casefold())
    if BUYER_DECLINED not in seen:
        raise RuleViolation(
            field=field,
            code="buyer_declined_required",
            message=f'The reasons must include "{BUYER_DECLINED}": a lead with fewer touches '
            "than the minimum can be lost only that way.",
        )
    return [BUYER_DECLINED if r.casefold() == BUYER_DECLINED else r for r in reasons]


def _clean(fields: dict[str, Any], current: LeadSettings) -> dict[str, Any]:
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise RuleViolation(
            field=unknown[0], code="unknown", message="Not a lead setting one can change."
        )
    cleaned: dict[str, Any] = {}
    for name, (lowest, highest) in RANGES.items():
        if name in fields:
            cleaned[name] = _whole_number(name, fields[name], lowest, highest)
    minimum = cleaned.get("touch_minimum", current.touch_minimum)
    if "touch_cliff" in fields or "touch_minimum" in fields:
        cliff = fields.get("touch_cliff", current.touch_cliff)
        cleaned["touch_cliff"] = _whole_number("touch_cliff", cliff, 1, minimum)
    if "lost_reasons" in fields:
        cleaned["lost_reasons"] = clean_lost_reasons(fields["lost_reasons"])
    if "postponed_to_nurture" in fields:
        if not isinstance(fields["postponed_to_nurture"], bool):
            raise RuleViolation(
                field="postponed_to_nurture", code="invalid", message="Give true or false."
            )
        cleaned["postponed_to_nurture"] = fields["postponed_to_nurture"]
    if "cost_per_lead" in fields:
        cleaned["cost_per_lead"] = clean_cost_per_lead(fields["cost_per_lead"])
    if "recall_on_suspension" in fields:
        if not isinstance(fields["recall_on_suspension"], bool):
            raise RuleViolation(
                field="recall_on_suspension", code="invalid", message="Give true or false."
            )
        cleaned["recall_on_suspension"] = fields["recall_on_suspension"]
    return cleaned


_UNCHANGED = object()


def update_lead_settings(
    *, by: Principal, timezone: Any = _UNCHANGED, country: Any = _UNCHANGED, **fields: Any
) -> LeadSettings:
    """Change the given rules of ``by``'s tenant, all or nothing; audited with before and after.

    Lowering the touch minimum below the cliff is refused on ``touch_cliff``
    (the cliff must be 1 to the minimum), so both can be changed together.
    ``timezone`` is the tenant's own (``Tenant.timezone``, changed by
    ``set_tenant_timezone`` and audited there); it is checked with the rest
    before anything is written. ``country`` is the tenant's too (phones are
    parsed in it); a change starts the re-normalisation of stored phones as a
    background job (``inquiries.services.phones.set_tenant_country``).
    """
    _may_change(by)
    zone_name = None if timezone is _UNCHANGED else clean_tenant_timezone(timezone)
    country_code = None if country is _UNCHANGED else clean_tenant_country(country)
    with transaction.atomic():
        row = LeadSettings.objects.select_for_update().filter(tenant_id=by.tenant.pk).first()
        if row is None:
            row = lead_settings()  # unsaved, with the defaults
        elif not row.lost_reasons:
            row.lost_reasons = lead_settings().lost_reasons
        before = settings_snapshot(row)
        cleaned = _clean(fields, row)
        if zone_name is not None:
            set_tenant_timezone(timezone_name=zone_name, by=by)
        if country_code is not None:
            set_tenant_country(country=country_code, by=by)
        if not fields and (zone_name is not None or country_code is not None):
            return row
        for name, value in cleaned.items():
            setattr(row, name, value)
        row.updated_at = now()
        row.save()
        record_audit(
            action="lead_settings.changed",
            obj=row,
            before=before,
            after=settings_snapshot(row),
            by=by,
        )
    return row
