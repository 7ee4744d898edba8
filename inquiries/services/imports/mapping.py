"""Where each column of an upload goes: checked, custom fields created, saved for reuse."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from inquiries.models import CustomField, CustomFieldKind, ImportJob, ImportMapping, ImportStatus
from inquiries.services.custom_fields import define_custom_field
from inquiries.services.imports.values import add_new_choices, clean_value_map, value_target
from inquiries.services.validation import ACTIVITY_KINDS, CELL_FIELDS
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import EDITORS
from leadflow.tenancy.services import record_audit

MAX_PLACEHOLDERS = 50

IDENTITY_FIELDS = ("email", "phone", "external_id")

KIND_ALIASES = {"yes_no": CustomFieldKind.BOOLEAN, "boolean": CustomFieldKind.BOOLEAN}


def _mapping_error(header: str, code: str, message: str) -> RuleViolation:
    return RuleViolation(field=f"mapping.{header}", code=code, message=message)


@transaction.atomic
def set_mapping(
    *,
    job: ImportJob,
    mapping: dict[str, Any],
    placeholders: list[str],
    save_as: str = "",
    by: Principal,
) -> ImportJob:
    """Say where each column goes; custom fields asked for are created now.

    Columns left out are ignored. At least one column must give an identity
    (email, phone or external id), and no two columns may fill the same field.
    """
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.ANALYSED:
        raise RuleViolation(
            field="status",
            code="already_started",
            conflict=True,
            message=f"This import is {job.get_status_display().lower()}; "
            "its mapping can no longer change.",
        )
    if not isinstance(mapping, dict):
        raise RuleViolation(field="mapping", code="invalid", message="Give an object.")
    placeholders = _clean_placeholders(placeholders)
    clean: dict[str, dict[str, Any]] = {}
    targets: set[str] = set()
    fields = {f.key: f for f in CustomField.objects.all()}
    for header, spec in mapping.items():
        if header not in job.headers:
            raise _mapping_error(header, "unknown_column", f"The file has no column {header!r}.")
        target, spec = _clean_spec(header, spec, fields, by)
        if target and target in targets:
            raise _mapping_error(
                header, "duplicate_target", f"Another column already fills {target}."
            )
        if target:
            targets.add(target)
        values = mapping[header].get("values") if isinstance(mapping[header], dict) else None
        if values:
            kind = value_target(spec, fields)
            if kind is None:
                raise _mapping_error(
                    header, "not_a_choice", "Only a column with a list of values maps values."
                )
            spec["values"] = clean_value_map(header, kind, values, fields)
        clean[header] = spec
    for header in job.headers:
        clean.setdefault(header, {"to": "ignore"})
    if not targets & set(IDENTITY_FIELDS):
        raise RuleViolation(
            field="mapping",
            code="identity_required",
            message="Map at least one column to email, phone or external_id.",
        )
    clean = add_new_choices(clean, fields, by)
    save_as = (save_as or "").strip()
    if len(save_as) > 100:
        raise RuleViolation(field="save_as", code="invalid", message="At most 100 characters.")
    job.mapping = clean
    job.placeholders = placeholders
    job.dry_run = None
    job.mapping_name = save_as
    job.save(update_fields=["mapping", "placeholders", "dry_run", "mapping_name"])
    if save_as:
        saved, _ = ImportMapping.objects.update_or_create(
            name=save_as,
            defaults={
                "tenant": by.tenant,
                "mapping": clean,
                "placeholders": placeholders,
                "created_by": by.user,
            },
        )
        record_audit(action="import_mapping.saved", obj=saved, after={"name": save_as}, by=by)
    record_audit(
        action="import.mapped",
        obj=job,
        after={"mapping": clean, "placeholders": placeholders},
        by=by,
    )
    return job


def reuse_mapping(*, job: ImportJob, saved: ImportMapping, by: Principal) -> ImportJob:
    """Apply a saved mapping to this file's columns (columns it does not know are ignored)."""
    mapping = {h: spec for h, spec in saved.mapping.items() if h in job.headers}
    return set_mapping(job=job, mapping=mapping, placeholders=saved.placeholders, by=by)


def _clean_placeholders(placeholders: Any) -> list[str]:
    if placeholders is None:
        return []
    if not isinstance(placeholders, list) or len(placeholders) > MAX_PLACEHOLDERS:
        raise RuleViolation(
            field="placeholders",
            code="invalid",
            message=f"Give a list of at most {MAX_PLACEHOLDERS} values.",
        )
    clean = []
    for value in placeholders:
        if not isinstance(value, str) or len(value) > 100 or "\x00" in value:
            raise RuleViolation(
                field="placeholders", code="invalid", message="Each value is text of ≤ 100 chars."
            )
        if value.strip() and value.strip() not in clean:
            clean.append(value.strip())
    return clean


def _clean_spec(
    header: str, spec: Any, fields: dict[str, CustomField], by: Principal
) -> tuple[str, dict[str, Any]]:
    """(what it fills, the stored spec) of one column, or RuleViolation."""
    to = spec.get("to") if isinstance(spec, dict) else None
    if to == "ignore":
        return "", {"to": "ignore"}
    if to == "field":
        name = spec.get("field")
        if name not in CELL_FIELDS:
            raise _mapping_error(
                header,
                "unknown_field",
                f"Unknown field {name!r}; use one of {', '.join(CELL_FIELDS)}.",
            )
        return name, {"to": "field", "field": name}
    if to == "custom":
        key = spec.get("key")
        create = spec.get("create")
        if not isinstance(key, str) or not key:
            raise _mapping_error(header, "invalid", "Give the custom field's key.")
        if key not in fields:
            if not isinstance(create, dict):
                raise _mapping_error(
                    header, "unknown_custom_field", f"No custom field {key!r}; ask to create it."
                )
            if not by.has_role(*EDITORS):
                raise _mapping_error(
                    header,
                    "not_allowed",
                    "Your role may not define custom fields; map to an existing one.",
                )
            asked = create.get("kind")
            kind = KIND_ALIASES.get(asked, asked) if isinstance(asked, str) else asked
            try:
                fields[key] = define_custom_field(
                    key=key,
                    label=str(create.get("label") or key),
                    kind=str(kind),
                    choices=create.get("choices"),
                    by=by,
                )
            except RuleViolation as exc:
                raise _mapping_error(header, exc.code, exc.message) from None
        return f"custom.{fields[key].key}", {"to": "custom", "key": fields[key].key}
    if to == "activity":
        kind = spec.get("kind")
        if kind not in ACTIVITY_KINDS:
            raise _mapping_error(header, "unknown_activity", f"Unknown activity type {kind!r}.")
        return "", {"to": "activity", "kind": kind}
    if to == "outcome":
        return "outcome", {"to": "outcome"}
    if to in ("outcome_date", "outcome_value"):
        return to, {"to": to}
    if to == "campaign":
        return "campaign", {"to": "campaign"}
    raise _mapping_error(
        header,
        "invalid",
        "Map to field, custom, activity, campaign, outcome, outcome_date, outcome_value "
        'or ignore ("to").',
    )


def require_mapping(job: ImportJob) -> None:
    targets = {spec.get("field") for spec in job.mapping.values() if spec.get("to") == "field"}
    if not targets & set(IDENTITY_FIELDS):
        raise RuleViolation(
            field="mapping",
            code="mapping_required",
            message="Map the columns first (at least one of email, phone or external_id).",
        )
