"""The rule builder: a draft lead definition edited with pickers, never JSON.

Each rule is a row: a field (standard or custom), an operator suited to its
type (is one of, is, contains, between, is set), its values (suggested from
what the data holds) and points; engagement rules by activity kind with
points, cap and half-life; must-have qualifiers; the threshold and sales
capacity. The rows posted become the definition's rule lists and go through
``update_draft``, which checks them as the API's JSON is checked; a refusal
names the rule in words and nothing is saved. The JSON stays in the API.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from inquiries.models import ActivityKind, DefinitionStatus, LeadDefinition
from inquiries.selectors.inquiries import custom_field_list, definition_list
from inquiries.selectors.rule_builder import builder_fields
from inquiries.services import definitions as definition_services
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import EDITORS, MARKETING

# The operators in people's words, and the field types each suits.
OPERATORS = {
    "in": ("is one of", ("text",)),
    "equals": ("is", ("text", "number")),
    "contains": ("contains", ("text",)),
    "range": ("is between", ("number",)),
    "is_set": ("is set", ("text", "number")),
}
BLANK_ROWS = 2
MAX_ROWS = 100
LISTS = {"fit": "fit_rules", "engagement": "engagement_rules", "qualifier": "qualifiers"}
LIST_NAMES = {
    "fit_rules": "Fit rule",
    "engagement_rules": "Engagement rule",
    "qualifiers": "Must-have",
}


def _number(text: str) -> int | float | str | None:
    text = text.strip().replace(",", "")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text  # the service names it: "Range bounds must be numbers"
    return int(number) if number.is_integer() else number


def _fit_row(rule: dict[str, Any]) -> dict[str, Any]:
    """A stored rule as the builder's row shows it."""
    op, value = rule.get("op", "in"), rule.get("value")
    row = {
        "field": rule.get("field", ""),
        "op": op,
        "value": "",
        "low": "",
        "high": "",
        "points": rule.get("points", ""),
        "label": rule.get("label", ""),
    }
    if op == "range" and isinstance(value, list | tuple) and len(value) == 2:
        row["low"] = "" if value[0] is None else value[0]
        row["high"] = "" if value[1] is None else value[1]
    elif isinstance(value, list | tuple):
        row["value"] = ", ".join(map(str, value))
    elif value is not None:
        row["value"] = value
    return row


def _rows_from_post(data: QueryDict, prefix: str) -> list[dict[str, str]]:
    count = min(int(data.get(f"{prefix}-count", "0") or 0), MAX_ROWS + BLANK_ROWS)
    rows = []
    for n in range(count):
        row = {
            name: data.get(f"{prefix}-{n}-{name}", "").strip()
            for name in (
                "field",
                "op",
                "value",
                "low",
                "high",
                "points",
                "label",
                "activity",
                "cap",
                "half_life_days",
            )
        }
        row["delete"] = data.get(f"{prefix}-{n}-delete", "") == "on"
        rows.append(row)
    return rows


def _fit_rule(row: dict[str, str], *, with_points: bool) -> dict[str, Any] | None:
    """A row as a stored rule; None for an empty row (or one marked for removal)."""
    if row["delete"] or not row["field"]:
        return None
    op = row["op"] or "in"
    rule: dict[str, Any] = {"field": row["field"], "op": op}
    if op == "range":
        rule["value"] = [_number(row["low"]), _number(row["high"])]
    elif op == "in":
        rule["value"] = [part.strip() for part in re.split(r"[,\n]", row["value"]) if part.strip()]
    elif op == "equals":
        number = _number(row["value"]) if row["field"] == "company_size" else None
        rule["value"] = number if number is not None else row["value"]
    elif op != "is_set":
        rule["value"] = row["value"]
    if with_points:
        rule["points"] = _number(row["points"]) if row["points"] else 0
    if row["label"]:
        rule["label"] = row["label"]
    return rule


def _engagement_rule(row: dict[str, str]) -> dict[str, Any] | None:
    if row["delete"] or not row["activity"]:
        return None
    rule: dict[str, Any] = {
        "activity": row["activity"],
        "points": _number(row["points"]) if row["points"] else 0,
        "half_life_days": _number(row["half_life_days"]) if row["half_life_days"] else 0,
    }
    if row["cap"]:
        rule["cap"] = _number(row["cap"])
    if row["label"]:
        rule["label"] = row["label"]
    return rule


def rules_from_post(data: QueryDict) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    """The definition values the builder posted, and its rows (to show again on an error)."""
    rows = {prefix: _rows_from_post(data, prefix) for prefix in LISTS}
    values: dict[str, Any] = {
        "fit_rules": [r for row in rows["fit"] if (r := _fit_rule(row, with_points=True))],
        "qualifiers": [r for row in rows["qualifier"] if (r := _fit_rule(row, with_points=False))],
        "engagement_rules": [r for row in rows["engagement"] if (r := _engagement_rule(row))],
    }
    for name in ("mql_threshold", "reps", "leads_per_rep_per_week"):
        values[name] = _number(data.get(name, ""))
    return values, rows


def _in_words(exc: RuleViolation) -> str:
    """``fit_rules[1].value`` → ``Fit rule 2 (value): …``."""
    found = re.match(r"(\w+)\[(\d+)\](?:\.(\w+))?", exc.field)
    if found and found.group(1) in LIST_NAMES:
        what = f" ({found.group(3).replace('_', ' ')})" if found.group(3) else ""
        return f"{LIST_NAMES[found.group(1)]} {int(found.group(2)) + 1}{what}: {exc.message}"
    return f"{exc.field.replace('_', ' ').capitalize()}: {exc.message}"


def _with_blanks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*rows, *({} for _ in range(BLANK_ROWS))]


def _render(
    request: HttpRequest,
    definition: LeadDefinition,
    rows: dict[str, list[dict[str, Any]]],
    values: dict[str, Any],
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    fields = builder_fields(list(custom_field_list()))
    context = {
        "definition": definition,
        "fields": fields,
        "field_kinds": {field.key: field.kind for field in fields},
        "operators": [(op, words, " ".join(kinds)) for op, (words, kinds) in OPERATORS.items()],
        "activity_kinds": ActivityKind.choices,
        "fit_rows": _with_blanks(rows["fit"]),
        "qualifier_rows": _with_blanks(rows["qualifier"]),
        "engagement_rows": _with_blanks(rows["engagement"]),
        "values": values,
        "error": error,
    }
    return render(request, "inquiries/rule_builder.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@member_page(*MARKETING)
def rule_builder_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """Build the draft's rules with pickers; saving withdraws the draft's sign-offs."""
    definition = get_object_or_404(definition_list(), pk=pk)
    if definition.status != DefinitionStatus.DRAFT:
        messages.info(request, "Only a draft is edited: copy this version to a new draft first.")
        return redirect("definition-detail", pk=definition.pk)
    if request.method != "POST":
        rows = {
            "fit": [_fit_row(rule) for rule in definition.fit_rules],
            "qualifier": [_fit_row(rule) for rule in definition.qualifiers],
            "engagement": [dict(rule) for rule in definition.engagement_rules],
        }
        values = {
            name: getattr(definition, name)
            for name in ("mql_threshold", "reps", "leads_per_rep_per_week")
        }
        return _render(request, definition, rows, values)
    if not principal.has_role(*EDITORS):
        raise PermissionDenied
    values, posted = rules_from_post(request.POST)
    rows: dict[str, list[dict[str, Any]]] = {
        prefix: [
            row
            for row in posted[prefix]
            if not row["delete"] and any(row[key] for key in ("field", "activity"))
        ]
        for prefix in posted
    }
    for name in ("mql_threshold", "reps", "leads_per_rep_per_week"):
        if not isinstance(values[name], int) or values[name] < 1:
            return _render(
                request,
                definition,
                rows,
                values,
                error=f"{name.replace('_', ' ').capitalize()}: give a whole number of 1 or more.",
                status=400,
            )
    try:
        definition_services.update_draft(definition=definition, values=values, by=principal)
    except RuleViolation as exc:
        status = 409 if exc.conflict else 400
        return _render(request, definition, rows, values, error=_in_words(exc), status=status)
    messages.success(
        request,
        f"Version {definition.version}'s rules saved.",
    )
    return redirect("definition-rules", pk=definition.pk)
