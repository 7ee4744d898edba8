"""Translating the values of a real export: "Chat widget" → chat, "Germany" → DE, "1" → won.

A column mapped to a choice-like target (a standard choice field, the
country, the outcome, a custom choice or yes/no field) may carry a value map
in its mapping entry: ``{"to": ..., "values": {"<cell as written>": "<target>"}}``.
A target is one of the field's allowed values, ``""`` (the cell is left
empty), or for a custom choice field a new choice (added to the field when
the value map is saved). The map is remembered with the saved mapping, so
the next file from the same CRM needs no second pass.

Each value found in the file gets a first guess here: the allowed value by
value or label, the country through pycountry's maintained list (names,
official names, three-letter codes) plus the aliases a CRM writes (UK,
Holland, UAE…), yes/no and outcomes from 1/0, yes/no, true/false,
converted/not converted and the like.
"""

from __future__ import annotations

import functools
from typing import Any

import pycountry
from django.db import transaction

from inquiries.models import CustomField, CustomFieldKind, ImportJob, ImportMapping, ImportStatus
from inquiries.services.validation import CHOICES
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import EDITORS
from leadflow.tenancy.services import record_audit

# The standard fields whose values are a fixed list.
CHOICE_FIELDS = ("timeline", "source", "consent", "country")
# At most this many distinct values of one column are mapped one by one.
MAX_VALUES = 200
# A value map entry naming a new choice of a custom choice field.
NEW_CHOICE = "+new"
EMPTY = ""

# Spellings a CRM uses that pycountry's lookup does not know (lower-case).
COUNTRY_ALIASES = {
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "united states of america": "US",
    "russia": "RU",
    "holland": "NL",
    "the netherlands": "NL",
    "uae": "AE",
    "ivory coast": "CI",
    "cote d'ivoire": "CI",
    "macedonia": "MK",
    "swaziland": "SZ",
    "turkey": "TR",
    "burma": "MM",
    "czechia": "CZ",
    "korea": "KR",
    "republic of korea": "KR",
    "vatican": "VA",
    "cape verde": "CV",
    "east timor": "TL",
    "kosovo": "XK",
}

TRUE_WORDS = frozenset(
    {"1", "true", "t", "yes", "y", "ja", "oui", "si", "x", "converted", "won", "win", "closed won"}
)
FALSE_WORDS = frozenset(
    {
        "0",
        "false",
        "f",
        "no",
        "n",
        "nein",
        "non",
        "not converted",
        "unconverted",
        "lost",
        "loss",
        "closed lost",
    }
)
OPEN_WORDS = frozenset({"open", "pending", "in progress", "ongoing", "active"})


@functools.cache
def _country_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                names[value.lower()] = country.alpha_2
    names.update(COUNTRY_ALIASES)
    return names


def resolve_country(text: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country given by code, name or common alias, or None."""
    key = " ".join(text.strip().lower().split())
    if not key:
        return None
    found = _country_names().get(key)
    if found is None and key.startswith("the "):
        found = _country_names().get(key[4:])
    return found


def parse_truth(text: str) -> bool | None:
    """True, False or None (not a yes/no) of a cell as exports write it."""
    key = " ".join(text.strip().lower().replace("_", " ").replace("-", " ").split())
    if key in TRUE_WORDS:
        return True
    if key in FALSE_WORDS:
        return False
    return None


def parse_outcome(text: str) -> str | None:
    """``won``, ``lost``, ``""`` (open: no outcome yet) or None (not an outcome)."""
    key = " ".join(text.strip().lower().replace("_", " ").replace("-", " ").split())
    if key in OPEN_WORDS:
        return EMPTY
    truth = parse_truth(key)
    if truth is None:
        return None
    return "won" if truth else "lost"


def value_target(spec: dict[str, Any], fields: dict[str, CustomField]) -> str | None:
    """What kind of values a mapped column takes: the field name, ``custom.<key>``, or None."""
    to = spec.get("to")
    if to == "field" and spec.get("field") in CHOICE_FIELDS:
        return str(spec["field"])
    if to == "outcome":
        return "outcome"
    if to == "custom":
        field = fields.get(spec.get("key", ""))
        if field and field.kind in (CustomFieldKind.CHOICE, CustomFieldKind.BOOLEAN):
            return f"custom.{field.key}"
    return None


def allowed_values(target: str, fields: dict[str, CustomField]) -> list[tuple[str, str]]:
    """(value, label) a value of this target may be mapped to, "empty" first."""
    options: list[tuple[str, str]] = [(EMPTY, "— Leave empty —")]
    if target == "country":
        countries = sorted(pycountry.countries, key=lambda c: c.name)
        return options + [(c.alpha_2, f"{c.name} ({c.alpha_2})") for c in countries]
    if target == "outcome":
        return options + [("won", "Won"), ("lost", "Lost")]
    if target in CHOICES:
        return options + [(value, str(label)) for value, label in CHOICES[target]]
    field = fields[target.removeprefix("custom.")]
    if field.kind == CustomFieldKind.BOOLEAN:
        return options + [("true", "Yes"), ("false", "No")]
    return options + [(choice, choice) for choice in field.choices]


def guess_value(target: str, text: str, fields: dict[str, CustomField]) -> str | None:
    """The first guess for one value found in the file, or None (no guess: the user decides)."""
    wanted = " ".join(text.strip().lower().split())
    if target == "country":
        return resolve_country(text)
    if target == "outcome":
        return parse_outcome(text)
    field = fields.get(target.removeprefix("custom.")) if target.startswith("custom.") else None
    if field is not None and field.kind == CustomFieldKind.BOOLEAN:
        truth = parse_truth(text)
        return None if truth is None else ("true" if truth else "false")
    for value, label in allowed_values(target, fields)[1:]:
        if wanted in (value.lower(), label.lower()):
            return value
    if target in CHOICES:
        for value, label in CHOICES[target]:
            if wanted.replace(" ", "_") == value or wanted in str(label).lower().split(" / "):
                return value
    if target in CHOICES:
        # "Olark Chat" → chat, "Webinar signup" → webinar: one choice's word in the value.
        words = set(wanted.replace("-", " ").split())
        hits = {value for value, _ in CHOICES[target] if words & set(value.split("_"))}
        if len(hits) == 1:
            return hits.pop()
    if field is not None and field.open_choices:
        return NEW_CHOICE
    return None


def guess_values(
    target: str, found: list[tuple[str, int]], fields: dict[str, CustomField]
) -> dict[str, str]:
    """A first value map of the values found: only those with a guess."""
    guesses = {}
    for text, _count in found:
        guess = guess_value(target, text, fields)
        if guess is not None:
            guesses[text] = guess
    return guesses


def clean_value_map(
    header: str, target: str, values: Any, fields: dict[str, CustomField]
) -> dict[str, str]:
    """A value map checked against the target's allowed values; RuleViolation otherwise."""
    if not isinstance(values, dict) or len(values) > MAX_VALUES * 5:
        raise RuleViolation(
            field=f"mapping.{header}.values",
            code="invalid",
            message="Give an object of at most 1,000 values, each the value it becomes.",
        )
    allowed = {value for value, _label in allowed_values(target, fields)}
    custom_choice = target.startswith("custom.") and (
        fields[target.removeprefix("custom.")].kind == CustomFieldKind.CHOICE
    )
    clean: dict[str, str] = {}
    for raw, becomes in values.items():
        if not isinstance(becomes, str) or len(raw) > 200 or "\x00" in raw:
            raise RuleViolation(
                field=f"mapping.{header}.values", code="invalid", message="Each value is text."
            )
        if becomes == NEW_CHOICE and custom_choice:
            clean[raw.strip()] = NEW_CHOICE
            continue
        if becomes not in allowed:
            raise RuleViolation(
                field=f"mapping.{header}.values",
                code="invalid_choice",
                message=f'"{raw}" cannot become "{becomes[:40]}": not one of the allowed values.',
            )
        clean[raw.strip()] = becomes
    return clean


def add_new_choices(
    mapping: dict[str, dict[str, Any]], fields: dict[str, CustomField], by: Principal
) -> dict[str, dict[str, Any]]:
    """Add the values mapped to "new choice" to their custom fields; the map then names them."""
    for header, spec in mapping.items():
        values = spec.get("values")
        if spec.get("to") != "custom" or not values or NEW_CHOICE not in values.values():
            continue
        field = fields[spec["key"]]
        if not by.has_role(*EDITORS):
            raise RuleViolation(
                field=f"mapping.{header}.values",
                code="not_allowed",
                message="Your role may not add choices to a custom field; map to an existing one.",
            )
        known = {choice.lower(): choice for choice in field.choices}
        added = []
        for raw, becomes in values.items():
            if becomes != NEW_CHOICE:
                continue
            if raw.lower() not in known:
                known[raw.lower()] = raw
                added.append(raw)
            values[raw] = known[raw.lower()]
        if added:
            before = list(field.choices)
            field.choices = [*field.choices, *added]
            field.save(update_fields=["choices"])
            record_audit(
                action="custom_field.choices_added",
                obj=field,
                before={"choices": before},
                after={"choices": field.choices},
                by=by,
            )
    return mapping


@transaction.atomic
def set_value_mapping(
    *, job: ImportJob, values: dict[str, dict[str, str]], by: Principal
) -> ImportJob:
    """Say what each value found in a choice-like column becomes; kept with the saved mapping.

    ``values`` is ``{header: {value as written: target}}``; a header left
    out keeps its map. New choices of custom choice fields are added now.
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
    if not isinstance(values, dict):
        raise RuleViolation(field="values", code="invalid", message="Give an object.")
    fields = {f.key: f for f in CustomField.objects.all()}
    mapping = {header: dict(spec) for header, spec in job.mapping.items()}
    for header, value_map in values.items():
        spec = mapping.get(header)
        target = value_target(spec, fields) if spec else None
        if spec is None or target is None:
            raise RuleViolation(
                field=f"mapping.{header}.values",
                code="not_a_choice",
                message=f"The column {header!r} is not mapped to a field with a list of values.",
            )
        spec["values"] = clean_value_map(header, target, value_map, fields)
    mapping = add_new_choices(mapping, fields, by)
    job.mapping = mapping
    job.dry_run = None
    job.save(update_fields=["mapping", "dry_run"])
    if job.mapping_name:
        ImportMapping.objects.filter(name=job.mapping_name).update(mapping=mapping)
    record_audit(action="import.values_mapped", obj=job, after={"values": values}, by=by)
    return job
