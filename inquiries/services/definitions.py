"""The lead definition's lifecycle: draft → two sign-offs → active; copies, never edits."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from inquiries import definition_template as template
from inquiries.models import (
    DefinitionSignOff,
    DefinitionStatus,
    LeadDefinition,
    RescoreJob,
    SignOffSide,
)
from inquiries.selectors.analysis import suggest_from_outcomes
from inquiries.selectors.scoring import rules_of
from inquiries.services.rescoring import start_rescore
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

EDITABLE = (
    "name",
    "fit_rules",
    "engagement_rules",
    "qualifiers",
    "mql_threshold",
    "leads_per_rep_per_week",
    "reps",
    "notes",
)
SIGNING_ROLES = (Role.MANAGER, Role.ADMIN)


def _next_version() -> int:
    return (LeadDefinition.objects.aggregate(v=Max("version"))["v"] or 0) + 1


def _validate(definition: LeadDefinition) -> None:
    rules_of(definition)  # raises RuleViolation naming the offending rule
    for name in ("leads_per_rep_per_week", "reps"):
        value = getattr(definition, name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 10000:
            raise RuleViolation(field=name, code="invalid", message="Must be from 1 to 10000.")
    if not definition.name.strip() or len(definition.name) > 200:
        raise RuleViolation(
            field="name", code="invalid", message="Give a name of 1–200 characters."
        )


@transaction.atomic
def create_draft(*, values: dict[str, Any] | None = None, by: Principal) -> LeadDefinition:
    """Start a new draft, from the articles' template unless values are given."""
    values = values or {}
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise RuleViolation(
            field=sorted(unknown)[0], code="unknown", message="Not a definition field."
        )
    definition = LeadDefinition(
        tenant=by.tenant,
        version=_next_version(),
        name=values.get("name", template.TEMPLATE_NAME),
        fit_rules=values.get("fit_rules", template.TEMPLATE_FIT_RULES),
        engagement_rules=values.get("engagement_rules", template.TEMPLATE_ENGAGEMENT_RULES),
        qualifiers=values.get("qualifiers", []),
        mql_threshold=values.get("mql_threshold", template.TEMPLATE_THRESHOLD),
        leads_per_rep_per_week=values.get("leads_per_rep_per_week", 10),
        reps=values.get("reps", 1),
        notes=values.get("notes", ""),
        created_by=by.user,
    )
    _validate(definition)
    definition.save()
    record_audit(
        action="definition.drafted", obj=definition, after={"version": definition.version}, by=by
    )
    return definition


@transaction.atomic
def update_draft(
    *, definition: LeadDefinition, values: dict[str, Any], by: Principal
) -> LeadDefinition:
    """Change a draft's rules; any change withdraws the sign-offs it had."""
    definition = LeadDefinition.objects.select_for_update().get(pk=definition.pk)
    if definition.status != DefinitionStatus.DRAFT:
        raise RuleViolation(
            field="status",
            code="not_draft",
            conflict=True,
            message=f"Version {definition.version} is {definition.status}; "
            "copy it to a new draft to change it.",
        )
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise RuleViolation(
            field=sorted(unknown)[0], code="unknown", message="Not a definition field."
        )
    values = {name: value for name, value in values.items() if getattr(definition, name) != value}
    if not values:
        return definition  # nothing changed: the signatures still stand
    before = {name: getattr(definition, name) for name in values}
    for name, value in values.items():
        setattr(definition, name, value)
    _validate(definition)
    definition.save(update_fields=list(values))
    withdrawn = DefinitionSignOff.objects.filter(definition=definition).delete()[0]
    record_audit(
        action="definition.edited",
        obj=definition,
        before=before,
        after={**values, "sign_offs_withdrawn": withdrawn},
        by=by,
    )
    return definition


@transaction.atomic
def copy_definition(*, definition: LeadDefinition, by: Principal) -> LeadDefinition:
    """A new draft with the same rules, to change an active or retired version."""
    return create_draft(
        values={
            "name": f"{definition.name} (copy of v{definition.version})"[:200],
            **{name: getattr(definition, name) for name in EDITABLE if name != "name"},
        },
        by=by,
    )


@transaction.atomic
def sign_definition(*, definition: LeadDefinition, side: str, by: Principal) -> DefinitionSignOff:
    """A manager signs a draft for marketing or for sales; one person signs one side only."""
    if by.user is None or not by.has_role(*SIGNING_ROLES) or by.is_partner:
        raise RuleViolation(
            field="side",
            code="not_a_manager",
            message="Only a manager (or admin) of this tenant can sign a lead definition.",
        )
    if side not in SignOffSide.values:
        raise RuleViolation(
            field="side", code="invalid_choice", message="Sign for marketing or sales."
        )
    definition = LeadDefinition.objects.select_for_update().get(pk=definition.pk)
    if definition.status != DefinitionStatus.DRAFT:
        raise RuleViolation(
            field="status",
            code="not_draft",
            conflict=True,
            message=f"Version {definition.version} is {definition.status}; only drafts are signed.",
        )
    existing = {s.side: s for s in DefinitionSignOff.objects.filter(definition=definition)}
    if side in existing:
        raise RuleViolation(
            field="side",
            code="already_signed",
            conflict=True,
            message=f"{side.title()} has already signed (by {existing[side].user.email}).",
        )
    if any(s.user_id == by.user.pk for s in existing.values()):
        raise RuleViolation(
            field="side",
            code="same_person",
            conflict=True,
            message="The other side was signed by you; a second person must sign.",
        )
    try:
        with transaction.atomic():
            sign_off = DefinitionSignOff.objects.create(
                tenant=by.tenant, definition=definition, side=side, user=by.user
            )
    except IntegrityError:
        raise RuleViolation(
            field="side", code="already_signed", conflict=True, message="Already signed."
        ) from None
    record_audit(action="definition.signed", obj=definition, after={"side": side}, by=by)
    return sign_off


@transaction.atomic
def activate_definition(*, definition: LeadDefinition, by: Principal) -> RescoreJob:
    """Make a signed draft the one active version and rescore the tenant in the background."""
    definition = LeadDefinition.objects.select_for_update().get(pk=definition.pk)
    if definition.status != DefinitionStatus.DRAFT:
        raise RuleViolation(
            field="status",
            code="not_draft",
            conflict=True,
            message=f"Version {definition.version} is already {definition.status}.",
        )
    sides = set(
        DefinitionSignOff.objects.filter(definition=definition).values_list("side", flat=True)
    )
    missing = [s for s in SignOffSide.values if s not in sides]
    if missing:
        raise RuleViolation(
            field="sign_offs",
            code="unsigned",
            message=f"Needs the {' and '.join(missing)} sign-off before it can be activated.",
        )
    _validate(definition)
    now = timezone.now()
    previous = LeadDefinition.objects.filter(status=DefinitionStatus.ACTIVE).select_for_update()
    retired = list(previous.values_list("version", flat=True))
    previous.update(status=DefinitionStatus.RETIRED)
    definition.status = DefinitionStatus.ACTIVE
    definition.activated_at = now
    definition.save(update_fields=["status", "activated_at"])
    record_audit(
        action="definition.activated",
        obj=definition,
        before={"active_versions": retired},
        after={"version": definition.version},
        by=by,
    )
    return start_rescore(definition=definition, by=by)


@transaction.atomic
def create_suggested_draft(*, by: Principal) -> LeadDefinition:
    """A draft whose fit points come from won/lost evidence, with its measured quality in notes.

    It is an ordinary draft: readable points anyone may edit, and it still
    needs both sign-offs before it can be activated.
    """
    suggestion = suggest_from_outcomes(as_of=timezone.now())
    notes = (
        f"Suggested from outcomes: trained on {suggestion.train_won} won / "
        f"{suggestion.train_lost} lost, checked on {suggestion.test_won} won / "
        f"{suggestion.test_lost} lost held back. ROC AUC {suggestion.auc:.2f}; at the "
        f"threshold {suggestion.threshold}: precision {suggestion.precision:.0%}, "
        f"recall {suggestion.recall:.0%}. Wins among the top "
        + ", ".join(f"{top}%: {share:.0%}" for top, share in suggestion.lift)
        + f" by score (all held back: {suggestion.base_rate:.0%}). Points are a logistic "
        f"regression's weights ×10 with an L2 penalty of {suggestion.penalty:g} (chosen by "
        "cross-validation), so values seen rarely earn few points; each rule's label shows "
        "its support (won / lost)."
    )
    return create_draft(
        values={
            "name": "Suggested from outcomes "
            f"({timezone.localdate(timezone=ZoneInfo(by.tenant.timezone)):%Y-%m-%d})",
            "fit_rules": suggestion.fit_rules,
            "engagement_rules": suggestion.engagement_rules,
            "mql_threshold": max(1, suggestion.threshold),
            "notes": notes,
        },
        by=by,
    )
