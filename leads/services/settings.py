"""Change the tenant's lead rules (``LeadSettings``): the one place they are checked and written.

The page ``/settings/leads/`` and ``PATCH /api/v1/lead-settings/`` both call
:func:`update_lead_settings`. Only the fields given change; the row is
created on the first change (until then the selector's defaults apply). Every
field is checked before anything is written, so a refused change leaves the
row as it was; the audit row keeps the rules before and after.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.timezone import now

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leadflow.tenancy.services.audit import record_audit
from leads.models import BUYER_DECLINED, LeadSettings
from leads.selectors.settings import lead_settings

# (field, lowest, highest) of the whole-number rules; the cliff's highest is the minimum.
RANGES: dict[str, tuple[int, int]] = {
    "acceptance_business_days": (1, 10),
    "touch_minimum": (1, 30),
    "reminder_hours_before": (1, 168),
}
MAX_LOST_REASONS = 30
MAX_LOST_REASON_LENGTH = 100
FIELDS = (
    "acceptance_business_days",
    "touch_minimum",
    "touch_cliff",
    "lost_reasons",
    "postponed_to_nurture",
    "reminder_hours_before",
)


def settings_snapshot(row: LeadSettings) -> dict[str, Any]:
    """The rules as plain data (the audit trail's before/after and the API's body)."""
    return {name: getattr(row, name) for name in FIELDS}


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
    return cleaned


def update_lead_settings(*, by: Principal, **fields: Any) -> LeadSettings:
    """Change the given rules of ``by``'s tenant, all or nothing; audited with before and after.

    Lowering the touch minimum below the cliff is refused on ``touch_cliff``
    (the cliff must be 1 to the minimum), so both can be changed together.
    """
    _may_change(by)
    with transaction.atomic():
        row = LeadSettings.objects.select_for_update().filter(tenant_id=by.tenant.pk).first()
        if row is None:
            row = lead_settings()  # unsaved, with the defaults
        elif not row.lost_reasons:
            row.lost_reasons = lead_settings().lost_reasons
        before = settings_snapshot(row)
        cleaned = _clean(fields, row)
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
