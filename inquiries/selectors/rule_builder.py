"""What the rule builder offers: the fields with their types, and the values the data holds.

The values come from the tenant's most recent inquiries (a bounded sample),
most frequent first, so suggesting them costs the same on a tenant of a
thousand inquiries as on one of a million.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count
from django.db.models.fields.json import KeyTextTransform

from inquiries import scoring
from inquiries.models import (
    CustomField,
    CustomFieldKind,
    DefinitionStatus,
    Inquiry,
    LeadDefinition,
)
from inquiries.profile import PROFILE_LABELS

SAMPLE = 5000
SUGGESTIONS = 25
# Fields whose values are worth suggesting (a company name or a title is mostly unique).
SUGGESTED = ("industry", "country", "region", "interest", "timeline", "source", "title")


@dataclass(frozen=True)
class BuilderField:
    """A field a rule may test: its key (``custom.fleet``), label and type."""

    key: str
    label: str
    kind: str  # "text" or "number"
    values: tuple[str, ...] = ()


def builder_fields(custom_fields: list[CustomField]) -> list[BuilderField]:
    """Standard then custom fields, each with the values the data holds. One query a field
    that is suggested (seven standard ones and each text or choice custom field)."""
    recent = Inquiry.objects.order_by("-created_at", "-id").values("pk")[:SAMPLE]
    sample = Inquiry.objects.filter(pk__in=recent)
    fields = []
    for key, kind in scoring.STANDARD_FIELDS.items():
        values: tuple[str, ...] = ()
        if key in SUGGESTED:
            rows = (
                sample.exclude(**{key: ""})
                .values_list(key)
                .annotate(n=Count("pk"))
                .order_by("-n", key)[:SUGGESTIONS]
            )
            values = tuple(str(value) for value, _n in rows)
        label = PROFILE_LABELS.get(key, key.replace("_", " ").capitalize())
        fields.append(BuilderField(key=key, label=label, kind=kind, values=values))
    for custom in custom_fields:
        kind = "number" if custom.kind == CustomFieldKind.NUMBER else "text"
        values = ()
        if custom.kind == CustomFieldKind.CHOICE:
            values = tuple(str(choice) for choice in custom.choices)
        elif custom.kind == CustomFieldKind.BOOLEAN:
            values = ("yes", "no")
        elif kind == "text":
            rows = (
                sample.annotate(_v=KeyTextTransform(custom.key, "custom"))
                .exclude(_v__isnull=True)
                .exclude(_v="")
                .values_list("_v")
                .annotate(n=Count("pk"))
                .order_by("-n", "_v")[:SUGGESTIONS]
            )
            values = tuple(str(value) for value, _n in rows)
        fields.append(
            BuilderField(key=f"custom.{custom.key}", label=custom.label, kind=kind, values=values)
        )
    return fields


@dataclass(frozen=True)
class RuleUse:
    """One rule of a draft or active definition that reads a custom field."""

    version: int
    status: str
    rule: str  # the rule's label, as the builder and the score breakdown name it


def custom_field_uses() -> dict[str, list[RuleUse]]:
    """Which rules read each custom field (by key), in the drafts and the active version.
    One query: a tenant has a handful of definitions."""
    uses: dict[str, list[RuleUse]] = {}
    definitions = LeadDefinition.objects.exclude(status=DefinitionStatus.RETIRED).order_by(
        "-version"
    )
    for definition in definitions:
        for rule in [*definition.fit_rules, *definition.qualifiers]:
            field = rule.get("field", "") if isinstance(rule, dict) else ""
            if isinstance(field, str) and field.startswith("custom."):
                label = str(rule.get("label") or f"{field[7:]} {rule.get('op', '')}".strip())
                uses.setdefault(field[7:], []).append(
                    RuleUse(version=definition.version, status=definition.status, rule=label)
                )
    return uses
