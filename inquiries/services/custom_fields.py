"""The tenant's own qualifiers: defining them, and checking values given for them."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from inquiries.models import CustomField, CustomFieldKind, Inquiry
from inquiries.selectors.inquiries import choice_counts
from inquiries.selectors.rule_builder import custom_field_uses
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import EDITORS
from leadflow.tenancy.services import record_audit

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
MAX_TEXT = 500
MAX_CHOICES = 100
MAX_FIELDS = 50
# Who decides which of the tenant's questions buyers see on /f/<tenant>/.
PUBLIC_FORM_EDITORS = (Role.ADMIN, Role.MARKETER)


@transaction.atomic
def define_custom_field(
    *,
    key: str,
    label: str,
    kind: str,
    choices: list[str] | None = None,
    on_public_form: bool = False,
    open_choices: bool = False,
    by: Principal,
) -> CustomField:
    """Add a qualifier of the tenant's own (text, number, choice or yes/no).

    It is off the public form unless an admin or marketer asks for it there,
    so a field made during an import never becomes a question for buyers.
    """
    if on_public_form:
        _may_edit_public_form(by)
    key = key.strip().lower()
    if not KEY_RE.match(key):
        raise RuleViolation(
            field="key",
            code="invalid",
            message="Use 1–50 lower-case letters, digits and underscores, starting with a letter.",
        )
    label = label.strip()
    if not label or len(label) > 100:
        raise RuleViolation(
            field="label", code="invalid", message="Give a label of 1–100 characters."
        )
    if kind not in CustomFieldKind.values:
        raise RuleViolation(
            field="kind",
            code="invalid_choice",
            message=f"Unknown kind {kind!r}; choose one of {', '.join(CustomFieldKind.values)}.",
        )
    cleaned: list[str] = []
    if kind == CustomFieldKind.CHOICE:
        cleaned = [str(c).strip() for c in (choices or []) if str(c).strip()]
        if (
            not cleaned
            or len(cleaned) > MAX_CHOICES
            or len(set(map(str.lower, cleaned))) != len(cleaned)
        ):
            raise RuleViolation(
                field="choices",
                code="invalid",
                message=f"A choice field needs 1–{MAX_CHOICES} distinct choices.",
            )
    elif choices:
        raise RuleViolation(
            field="choices", code="invalid", message="Only choice fields have choices."
        )
    if CustomField.objects.filter(key=key).exists():
        raise RuleViolation(
            field="key", code="duplicate", message=f"A field {key!r} already exists."
        )
    if CustomField.objects.count() >= MAX_FIELDS:
        raise RuleViolation(
            field="key", code="too_many", message=f"At most {MAX_FIELDS} custom fields."
        )
    field = CustomField.objects.create(
        tenant=by.tenant,
        key=key,
        label=label,
        kind=kind,
        choices=cleaned,
        on_public_form=on_public_form,
        open_choices=open_choices and kind == CustomFieldKind.CHOICE,
    )
    record_audit(
        action="custom_field.defined",
        obj=field,
        after={"key": key, "kind": kind, "on_public_form": on_public_form},
        by=by,
    )
    return field


def _may_edit_public_form(by: Principal) -> None:
    if by.is_partner or not by.has_role(*PUBLIC_FORM_EDITORS):
        raise RuleViolation(
            field="on_public_form",
            code="forbidden",
            message="Only admins and marketers decide what the public form asks.",
        )


@transaction.atomic
def set_custom_field_on_public_form(
    *, field: CustomField, on_public_form: bool, by: Principal
) -> CustomField:
    """Put a custom field on the tenant's public form, or take it off.

    Writes an audit row when the setting changes; setting it to what it is
    already changes nothing.
    """
    _may_edit_public_form(by)
    field = CustomField.objects.select_for_update().get(pk=field.pk)
    if field.on_public_form == on_public_form:
        return field
    field.on_public_form = on_public_form
    field.save(update_fields=["on_public_form"])
    record_audit(
        action="custom_field.public_form_changed",
        obj=field,
        before={"on_public_form": not on_public_form},
        after={"on_public_form": on_public_form},
        by=by,
    )
    return field


def _clean_choices(choices: list[str]) -> list[str]:
    """Trimmed choices, blanks dropped; RuleViolation naming a repeated one or the limits."""
    cleaned = [str(c).strip() for c in choices if str(c).strip()]
    if not cleaned or len(cleaned) > MAX_CHOICES:
        raise RuleViolation(
            field="choices",
            code="invalid",
            message=f"A choice field needs 1–{MAX_CHOICES} distinct choices.",
        )
    seen: set[str] = set()
    for choice in cleaned:
        if choice.lower() in seen:
            raise RuleViolation(
                field="choices",
                code="duplicate",
                message=f"“{choice}” is listed twice (choices are compared without case); "
                f"a field needs 1–{MAX_CHOICES} distinct choices.",
            )
        seen.add(choice.lower())
    return cleaned


def _holding(key: str, value: str) -> QuerySet[Inquiry]:
    return Inquiry.objects.filter(**{f"custom__{key}": value})


@transaction.atomic
def change_custom_field_choices(
    *,
    field: CustomField,
    choices: list[str] | None = None,
    open_choices: bool | None = None,
    renames: dict[str, str] | None = None,
    by: Principal,
) -> CustomField:
    """Edit a choice field's choices (add, rename, reorder, remove) and whether it takes new ones.

    ``renames`` maps a current choice to its new text (which must be in
    ``choices``); the inquiries holding the old value are given the new one,
    so renaming "Brasil" to an existing "Brazil" merges the two. Removing a
    choice that stored values still hold is refused, naming it and how many
    inquiries hold it: rename it into another choice instead (nothing is
    silently orphaned). Only editors may change a field's choices.
    """
    if not by.has_role(*EDITORS):
        raise RuleViolation(
            field="choices", code="forbidden", message="Your role may not edit custom fields."
        )
    field = CustomField.objects.select_for_update().get(pk=field.pk)
    if field.kind != CustomFieldKind.CHOICE:
        raise RuleViolation(
            field="choices", code="invalid", message="Only choice fields have choices."
        )
    before = {"choices": list(field.choices), "open_choices": field.open_choices}
    renames = {old: new.strip() for old, new in (renames or {}).items() if old != new.strip()}
    if renames and choices is None:
        choices = [renames.get(c, c) for c in field.choices]
    if choices is not None:
        # A choice renamed into another one is a merge: its text once, where it first stands.
        targets, seen, merged = set(renames.values()), set(), []
        for choice in (str(c).strip() for c in choices):
            if choice in targets and choice in seen:
                continue
            seen.add(choice)
            merged.append(choice)
        cleaned = _clean_choices(merged)
        for old, new in renames.items():
            if old not in field.choices:
                raise RuleViolation(
                    field="renames", code="invalid", message=f"“{old}” is not a choice to rename."
                )
            if new not in cleaned:
                raise RuleViolation(
                    field="renames",
                    code="invalid",
                    message=f"“{old}” is renamed to “{new}”, which is not among the choices.",
                )
        removed = [c for c in field.choices if c not in cleaned and c not in renames]
        # How many inquiries hold each removed choice: one grouped query, whatever is removed.
        counts = choice_counts(field) if removed else {}
        held = [(c, counts[c]) for c in removed if counts.get(c)]
        if held:
            listed = ", ".join(f"“{c}” by {n} inquir{'y' if n == 1 else 'ies'}" for c, n in held)
            raise RuleViolation(
                field="choices",
                code="in_use",
                message=f"Nothing was changed: {listed} still held. Rename a choice into "
                "another one to move its values, or keep it.",
            )
        field.choices = cleaned
    if open_choices is not None:
        field.open_choices = open_choices
    after = {"choices": list(field.choices), "open_choices": field.open_choices}
    moved = 0
    for old, new in renames.items():
        rows = list(_holding(field.key, old))
        for row in rows:
            row.custom = {**row.custom, field.key: new}
        Inquiry.objects.bulk_update(rows, ["custom"], batch_size=1000)
        moved += len(rows)
    if after != before or moved:
        field.save(update_fields=["choices", "open_choices"])
        record_audit(
            action="custom_field.choices_changed",
            obj=field,
            before=before,
            after={**after, "renamed": renames, "values_moved": moved},
            by=by,
        )
    return field


def clean_custom_values(
    raw: Any, fields: dict[str, CustomField]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Typed values for the tenant's custom fields, and errors keyed ``custom.<key>``.

    Text is trimmed; numbers become JSON numbers; a choice must be one of the
    field's choices (case-insensitive, stored as defined); yes/no accepts
    true/false/yes/no/1/0. An unknown key is an error, never silently dropped.
    """
    if raw is None:
        return {}, {}
    if not isinstance(raw, dict):
        return {}, {"custom": ["Give an object of field key → value."]}
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, value in raw.items():
        field = fields.get(key)
        path = f"custom.{key}"
        if field is None:
            errors[path] = [f"Unknown custom field {key!r}."]
            continue
        if value is None or value == "":
            continue
        try:
            values[key] = _typed(field, value)
        except ValueError as exc:
            errors[path] = [str(exc)]
    return values, errors


def _typed(field: CustomField, value: Any) -> Any:
    if field.kind == CustomFieldKind.TEXT:
        text = str(value).strip()
        if "\x00" in text:
            raise ValueError("Null characters are not allowed.")
        if len(text) > MAX_TEXT:
            raise ValueError(f"At most {MAX_TEXT} characters.")
        return text
    if field.kind == CustomFieldKind.NUMBER:
        if isinstance(value, bool):
            raise ValueError("Give a number.")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number.") from None
        if not number.is_finite() or abs(number) > Decimal("1e15"):
            raise ValueError("Give a finite number below 10^15.")
        return int(number) if number == number.to_integral_value() else float(number)
    if field.kind == CustomFieldKind.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "yes", "y", "1"}:
            return True
        if text in {"false", "no", "n", "0"}:
            return False
        raise ValueError("Give yes or no.")
    text = str(value).strip()
    for choice in field.choices:
        if choice.lower() == text.lower():
            return choice
    raise ValueError(f"{text!r} is not one of: {', '.join(field.choices)}.")


@transaction.atomic
def rename_custom_field(*, field: CustomField, label: str, by: Principal) -> CustomField:
    """Give a field a new label; its key stays, so every inquiry's value and every rule keep
    working."""
    _may_edit_public_form(by)
    label = label.strip()
    if not label or len(label) > 100:
        raise RuleViolation(
            field="label", code="invalid", message="Give a label of 1–100 characters."
        )
    field = CustomField.objects.select_for_update().get(pk=field.pk)
    if field.label == label:
        return field
    before = field.label
    field.label = label
    field.save(update_fields=["label"])
    record_audit(
        action="custom_field.renamed",
        obj=field,
        before={"label": before},
        after={"label": label},
        by=by,
    )
    return field


@transaction.atomic
def delete_custom_field(*, field: CustomField, by: Principal) -> None:
    """Remove a field nobody's rules read; one a draft or the active definition uses is refused,
    naming the rule. The values inquiries hold stay in their records (and their history)."""
    _may_edit_public_form(by)
    uses = custom_field_uses().get(field.key, [])
    if uses:
        use = uses[0]
        raise RuleViolation(
            field="field",
            code="in_use",
            conflict=True,
            message=f"“{field.label}” is used by the rule “{use.rule}” of version {use.version} "
            f"({use.status}); change that rule first.",
        )
    record_audit(
        action="custom_field.deleted",
        obj=field,
        before={"key": field.key, "label": field.label},
        by=by,
    )
    field.delete()


@transaction.atomic
def set_custom_field_required(*, field: CustomField, required: bool, by: Principal) -> CustomField:
    """Make buyers answer the field on the public form, or let them skip it."""
    _may_edit_public_form(by)
    field = CustomField.objects.select_for_update().get(pk=field.pk)
    if field.required == required:
        return field
    field.required = required
    field.save(update_fields=["required"])
    record_audit(
        action="custom_field.required_changed",
        obj=field,
        before={"required": not required},
        after={"required": required},
        by=by,
    )
    return field
