"""The rows of an import: each cell checked by the API's rules, each row a ``Row`` or errors.

Matching the checked rows to people is in ``matching.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from inquiries.models import Campaign, CustomField, ImportJob, RowProblem
from inquiries.profile import PROFILE_FIELDS
from inquiries.services.capture import _normalized
from inquiries.services.custom_fields import clean_custom_values
from inquiries.services.imports.values import EMPTY, NEW_CHOICE, guess_value, value_target
from inquiries.services.validation import clean_activity_time, clean_cell, clean_choice
from leadflow.lib.rules import RuleViolation

# A CharField's max_length is always set; the stubs type get_field's answer as any field.
CAMPAIGN_NAME_MAX = cast(int, Campaign._meta.get_field("name").max_length)


@dataclass
class Plan:
    """The mapping compiled for one pass over the file."""

    columns: list[tuple[int, str, dict[str, Any]]]
    fields: dict[str, CustomField]
    placeholders: frozenset[str]
    custom_headers: dict[str, str]
    # The tenant's current campaigns by lower-case name, when a column names them.
    campaigns: dict[str, int] = field(default_factory=dict)
    # Archived campaigns' lower-case names: they exist, but take no new inquiries.
    archived_campaigns: frozenset[str] = frozenset()
    # Per choice-like column: what each value becomes (the saved value map, then the
    # first guesses — a country name, 1/0 — worked out once per distinct value).
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    value_targets: dict[str, str] = field(default_factory=dict)
    # The tenant's country: phone numbers without "+" are read in it.
    region: str = ""

    def translate(self, header: str, text: str) -> str:
        """The cell as its value map says (``""`` for left empty); the cell itself if unmapped."""
        target = self.value_targets.get(header)
        if target is None:
            return text
        known = self.value_maps[header]
        if text not in known:
            guess = guess_value(target, text, self.fields)
            known[text] = text if guess is None or guess == NEW_CHOICE else guess
        return known[text]

    @classmethod
    def of(cls, job: ImportJob) -> Plan:
        fields = {f.key: f for f in CustomField.objects.all()}
        columns = []
        custom_headers = {}
        for index, header in enumerate(job.headers):
            spec = job.mapping.get(header, {"to": "ignore"})
            if spec["to"] == "ignore":
                continue
            if spec["to"] == "custom":
                if spec["key"] not in fields:
                    raise RuleViolation(
                        field=f"mapping.{header}",
                        code="unknown_custom_field",
                        message=f"The custom field {spec['key']!r} no longer exists.",
                    )
                custom_headers[spec["key"]] = header
            columns.append((index, header, spec))
        placeholders = frozenset(p.lower() for p in job.placeholders)
        campaigns = {}
        archived = set()
        if any(spec["to"] == "campaign" for _i, _h, spec in columns):
            for pk, name, archived_at in Campaign.objects.values_list("pk", "name", "archived_at"):
                if archived_at is None:
                    campaigns[name.lower()] = pk
                else:
                    archived.add(name.lower())
        value_maps: dict[str, dict[str, str]] = {}
        value_targets: dict[str, str] = {}
        for _i, header, spec in columns:
            target = value_target(spec, fields)
            if target is not None:
                value_targets[header] = target
                value_maps[header] = {
                    raw: becomes
                    for raw, becomes in (spec.get("values") or {}).items()
                    if becomes != NEW_CHOICE
                }
        return cls(
            columns,
            fields,
            placeholders,
            custom_headers,
            campaigns,
            frozenset(archived),
            value_maps,
            value_targets,
            job.tenant.country,
        )

    def is_missing_campaign(self, header: str, text: str) -> bool:
        """Whether ``text`` in ``header`` names a campaign that does not exist (not archived)."""
        key = text.strip().lower()
        return (
            0 < len(key) <= CAMPAIGN_NAME_MAX
            and any(h == header and spec["to"] == "campaign" for _i, h, spec in self.columns)
            and key not in self.campaigns
            and key not in self.archived_campaigns
        )


@dataclass(slots=True)
class Row:
    number: int
    clean: dict[str, Any]
    custom: dict[str, Any]
    consent: str
    source: str
    external_source: str
    external_id: str
    outcome: str
    activities: list[tuple[str, datetime]]
    outcome_on: date | None = None
    outcome_value: Decimal | None = None
    campaign_id: int | None = None
    # Set by the reader (a forked process): the row's stage cells as a new person on its own
    # (scored), as CSV text; the stage they put it in; the scorer (or None) used.
    cells: str | None = None
    new_stage: str = ""
    scored_by: Any = None


# The cells that say who the person is: a bad one skips the row, since leaving it
# out could make or merge the wrong person. A bad cell of any other column is
# left out of its row with a warning, and the person is imported.
IDENTITY_FIELDS = frozenset({"email", "phone", "external_id", "external_source"})


@dataclass(frozen=True, slots=True)
class CellError:
    """One problem of the per-row report: an error skips its row, a warning only its cell."""

    row: int
    column: str
    value: str
    message: str
    severity: str = RowProblem.ERROR

    @property
    def is_warning(self) -> bool:
        return self.severity == RowProblem.WARNING

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
            "severity": self.severity,
        }


def parse_row(plan: Plan, number: int, cells: list[str]) -> tuple[Row | None, list[CellError]]:
    """The row's clean values and the warnings of the cells left out, or the row's errors.

    A bad cell of an identity column (email, phone, external id and its
    source), or no identity at all, skips the row: every problem of the row is
    then an error. A bad cell of any other column (a name too long, a size
    that is no size, an activity date like 31/13/2026, an unknown campaign or
    choice, a custom value of the wrong type) is left out, the row imported
    without it, and the problem reported as a warning.
    """
    errors: list[CellError] = []
    skip_row = False
    profile: dict[str, Any] = {}
    extra: dict[str, str] = {}
    custom_raw: dict[str, str] = {}
    activities: list[tuple[str, datetime]] = []
    columns_of: dict[str, tuple[str, str]] = {}
    outcome = ""
    outcome_on: date | None = None
    outcome_value: Decimal | None = None
    campaign_id = None
    for index, header, spec in plan.columns:
        text = cells[index].strip() if index < len(cells) else ""
        if not text or text.lower() in plan.placeholders:
            continue
        text = plan.translate(header, text)
        if text == EMPTY:
            continue
        to = spec["to"]
        try:
            if to == "field":
                value = clean_cell(spec["field"], text)
                columns_of[spec["field"]] = (header, text)
                if spec["field"] in PROFILE_FIELDS:
                    profile[spec["field"]] = value
                else:
                    extra[spec["field"]] = value
            elif to == "custom":
                custom_raw[spec["key"]] = text
            elif to == "activity":
                activities.append((spec["kind"], clean_activity_time(text)))
            elif to == "campaign":
                campaign_id = plan.campaigns.get(text.lower())
                if campaign_id is None and text.lower() in plan.archived_campaigns:
                    raise ValueError(
                        f"The campaign {text!r} is archived; restore it under Campaigns "
                        "or ignore this column."
                    )
                if campaign_id is None:
                    raise ValueError(
                        f"No campaign named {text!r}; create it from the dry run or under "
                        "Campaigns, or ignore this column."
                    )
            elif to == "outcome_date":
                outcome_on = clean_activity_time(text).date()
            elif to == "outcome_value":
                outcome_value = clean_amount(text)
            else:
                outcome = clean_choice("outcome", text)
        except ValueError as exc:
            errors.append(CellError(number, header, text, str(exc)))
            skip_row = skip_row or (to == "field" and spec["field"] in IDENTITY_FIELDS)
    custom, custom_errors = clean_custom_values(custom_raw, plan.fields)
    for path, messages in custom_errors.items():
        key = path.removeprefix("custom.")
        header = plan.custom_headers.get(key, path)
        errors.append(CellError(number, header, custom_raw.get(key, ""), messages[0]))
    clean: dict[str, Any] = {}
    while True:
        try:
            clean = _normalized(profile, plan.region)
            break
        except RuleViolation as exc:
            header, text = columns_of.get(exc.field, (exc.field, ""))
            errors.append(CellError(number, header, text, exc.message))
            if exc.field in IDENTITY_FIELDS or exc.field not in profile:
                skip_row = True
                break
            del profile[exc.field]  # left out; the rest of the profile is normalised again
    external_id = extra.get("external_id", "")
    if not skip_row and not (clean.get("email") or clean.get("phone_normalized") or external_id):
        skip_row = True
        if not errors:
            errors.append(
                CellError(number, "", "", "Give at least one of email, phone or external_id.")
            )
    if skip_row:
        return None, errors
    if errors:
        errors = [replace(e, severity=RowProblem.WARNING) for e in errors]
    return (
        Row(
            number=number,
            clean=clean,
            custom=custom,
            consent=extra.get("consent", ""),
            source=extra.get("source", ""),
            external_source=extra.get("external_source", "") if external_id else "",
            external_id=external_id,
            outcome=outcome,
            activities=activities,
            outcome_on=outcome_on,
            outcome_value=outcome_value,
            campaign_id=campaign_id,
        ),
        errors,
    )


def clean_amount(text: str) -> Decimal:
    """An amount as exports write it: 12500, 12,500.00, €12 500, 12500 EUR; ValueError otherwise."""
    digits = "".join(ch for ch in text if ch.isdigit() or ch in ".-")
    try:
        value = Decimal(digits)
    except InvalidOperation:
        raise ValueError(f'"{text[:20]}" is not an amount, e.g. 12500 or 12,500.00.') from None
    if not digits or value < 0 or value >= Decimal("1e12") or not value.is_finite():
        raise ValueError(f'"{text[:20]}" is not an amount, e.g. 12500 or 12,500.00.')
    return value.quantize(Decimal("0.01"))


def parse_chunk(
    plan: Plan, records: list[tuple[int, list[str]]], width: int
) -> tuple[list[Row], list[CellError], int]:
    """(valid rows, the report's errors and warnings, number of invalid rows)."""
    rows: list[Row] = []
    errors: list[CellError] = []
    invalid = 0
    for number, cells in records:
        if len(cells) != width:  # the file changed since it was analysed
            errors.append(
                CellError(number, "", "", f"The row has {len(cells)} fields, not {width}.")
            )
            invalid += 1
            continue
        row, row_errors = parse_row(plan, number, cells)
        errors.extend(row_errors)
        if row is None:
            invalid += 1
        else:
            rows.append(row)
    return rows, errors, invalid
