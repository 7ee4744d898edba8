"""Reading what scoring needs: the active definition, its rules, a person's profile and score.

Nothing here saves; the services that score and route (``services/scoring.py``,
rescoring, the import) and the read-only analysis pages share these.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from django.utils import timezone

from inquiries import scoring
from inquiries.models import (
    RECORDABLE_ACTIVITY_KINDS,
    Activity,
    CustomField,
    DefinitionStatus,
    Inquiry,
    LeadDefinition,
)

# The inquiry's fields fit rules may name (besides ``custom.<key>``).
SCORED_FIELDS = tuple(scoring.STANDARD_FIELDS)


def active_definition() -> LeadDefinition | None:
    """The current tenant's one active lead definition, if it has one."""
    return LeadDefinition.objects.filter(status=DefinitionStatus.ACTIVE).first()


def custom_field_kinds() -> dict[str, str]:
    return dict(CustomField.objects.values_list("key", "kind"))


def rules_of(definition: LeadDefinition) -> scoring.Rules:
    """The definition's rules, validated against the tenant's custom fields."""
    return scoring.parse_rules(
        fit_rules=definition.fit_rules,
        engagement_rules=definition.engagement_rules,
        qualifiers=definition.qualifiers,
        threshold=definition.mql_threshold,
        custom_fields=custom_field_kinds(),
        # A rule on "merged" would count a response twice (the merge and the response).
        activity_kinds=[kind for kind, _label in RECORDABLE_ACTIVITY_KINDS],
    )


class Scorable(Protocol):
    """An inquiry as fit rules read it: the scored fields by name, and its custom values.

    A model instance, or the import's lighter ``StoredInquiry``.
    """

    @property
    def custom(self) -> dict[str, Any] | None: ...


def profile_of(inquiry: Scorable) -> dict[str, Any]:
    """What fit rules look at: the standard profile fields and ``custom.<key>`` values."""
    profile: dict[str, Any] = {name: getattr(inquiry, name) for name in SCORED_FIELDS}
    for key, value in (inquiry.custom or {}).items():
        profile[f"custom.{key}"] = value
    return profile


def activities_of(inquiry: Inquiry) -> list[tuple[str, datetime]]:
    return list(Activity.objects.filter(inquiry=inquiry).values_list("kind", "occurred_at"))


def compute_score(
    *,
    inquiry: Inquiry,
    definition: LeadDefinition,
    rules: scoring.Rules | None = None,
    activities: Iterable[tuple[str, datetime]] | None = None,
    as_of: datetime | None = None,
) -> scoring.ScoreResult:
    """The score the definition gives this inquiry now (nothing is saved)."""
    return scoring.score(
        profile_of(inquiry),
        activities_of(inquiry) if activities is None else activities,
        rules or rules_of(definition),
        as_of=as_of or timezone.now(),
    )
