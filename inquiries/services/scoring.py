"""Scoring one inquiry under the active definition, and moving it to MQL or nurture."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from inquiries import scoring
from inquiries.models import (
    RECORDABLE_ACTIVITY_KINDS,
    Activity,
    CustomField,
    DefinitionStatus,
    Inquiry,
    LeadDefinition,
    Stage,
)
from nurture import services as nurture_services

# Stages a score may move an inquiry between; a lead or a disqualified inquiry stays put.
SCORED_STAGES = (Stage.INQUIRY, Stage.MQL, Stage.NURTURE)
PROFILE_FIELDS = tuple(scoring.STANDARD_FIELDS)


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


def profile_of(inquiry: Inquiry) -> dict[str, Any]:
    """What fit rules look at: the standard profile fields and ``custom.<key>`` values."""
    profile: dict[str, Any] = {name: getattr(inquiry, name) for name in PROFILE_FIELDS}
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


def score_inquiry(*, inquiry: Inquiry, as_of: datetime | None = None) -> Inquiry:
    """Rescore after a profile change or activity; route to the MQL queue or to nurture.

    Without an active definition the inquiry keeps its stage and an empty score.
    Call inside the caller's transaction.
    """
    definition = active_definition()
    if definition is None:
        return inquiry
    result = compute_score(inquiry=inquiry, definition=definition, as_of=as_of)
    inquiry.fit_score = result.fit
    inquiry.engagement_score = result.engagement
    inquiry.score = result.total
    inquiry.score_breakdown = result.breakdown
    inquiry.behaviour_level = result.level
    inquiry.definition = definition
    inquiry.scored_at = as_of or timezone.now()
    inquiry.save(
        update_fields=[
            "fit_score",
            "engagement_score",
            "score",
            "score_breakdown",
            "behaviour_level",
            "definition",
            "scored_at",
        ]
    )
    if inquiry.stage in SCORED_STAGES:
        if result.qualifies and inquiry.stage != Stage.MQL:
            promote_to_mql(inquiry_ids=[inquiry.pk])
            inquiry.stage = Stage.MQL
        elif not result.qualifies and inquiry.stage != Stage.NURTURE:
            nurture_services.flag_for_nurture(inquiry_ids=[inquiry.pk])
            inquiry.stage = Stage.NURTURE
    return inquiry


def route_by_score(rows: Iterable[tuple[int, bool, str]]) -> None:
    """After scoring many inquiries at once: MQLs to the queue, the rest to nurture.

    ``rows`` are (inquiry id, qualifies, stage before); as ``score_inquiry``
    does for one, only inquiries in the scored stages move (not leads, not
    the disqualified), and only when their stage changes.
    """
    promote, nurture = [], []
    for pk, qualifies, stage in rows:
        if stage not in SCORED_STAGES:
            continue
        if qualifies and stage != Stage.MQL:
            promote.append(pk)
        elif not qualifies and stage != Stage.NURTURE:
            nurture.append(pk)
    if promote:
        promote_to_mql(inquiry_ids=promote)
    if nurture:
        nurture_services.flag_for_nurture(inquiry_ids=nurture)


def promote_to_mql(*, inquiry_ids: list[int]) -> int:
    """Put inquiries that meet the definition into the qualifiers' MQL queue."""
    return Inquiry.objects.filter(pk__in=inquiry_ids, stage__in=SCORED_STAGES).update(
        stage=Stage.MQL, updated_at=timezone.now()
    )
