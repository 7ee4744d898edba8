"""Scoring one inquiry under the active definition, and moving it to MQL or nurture."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from inquiries import scoring
from inquiries import stages as inquiry_stages
from inquiries.models import (
    RECORDABLE_ACTIVITY_KINDS,
    Activity,
    CustomField,
    DefinitionStatus,
    Inquiry,
    LeadDefinition,
    Stage,
)
from leadflow.lib import stages
from leadflow.tenancy.principal import Principal

# Stages a score may move an inquiry between; a lead or a disqualified inquiry stays put.
SCORED_STAGES = inquiry_stages.SCORED
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


def score_inquiry(*, inquiry: Inquiry, by: Principal, as_of: datetime | None = None) -> Inquiry:
    """Rescore after a profile change or activity; route to the MQL queue or to nurture.

    Without an active definition the inquiry keeps its stage and an empty score.
    A move goes through the stage mover with ``by`` (who caused the rescoring)
    and the score as the reason. Call inside the caller's transaction.
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
    target = _target(result.qualifies, inquiry.stage)
    if target is not None:
        stages.move(
            inquiry,
            target,
            by=by,
            reason=score_reason(result, definition.mql_threshold),
            machine_name=inquiry_stages.MACHINE,
        )
    return inquiry


def score_reason(result: scoring.ScoreResult, threshold: int) -> str:
    """Why a score moved an inquiry, as its stage history reads it: ``score 72 ≥ 60``."""
    if result.qualifies:
        return f"score {result.total} ≥ {threshold}"
    if result.total >= threshold:
        return f"score {result.total} ≥ {threshold}, a must-have qualifier not met"
    return f"score {result.total} < {threshold}"


def _target(qualifies: bool, stage: str) -> str | None:
    """Where a score sends an inquiry in ``stage``: the MQL queue, nurture, or nowhere."""
    if stage not in SCORED_STAGES:
        return None
    target = Stage.MQL if qualifies else Stage.NURTURE
    return None if target == stage else target


def route_by_score(rows: Iterable[tuple[int, bool, str]], *, by: Principal, reason: str) -> None:
    """After scoring many inquiries at once: MQLs to the queue, the rest to nurture.

    ``rows`` are (inquiry id, qualifies, stage before); as ``score_inquiry``
    does for one, only inquiries in the scored stages move (not leads, not
    the disqualified), and only when their stage changes: one set-based move
    per target stage.
    """
    targets: dict[str, list[int]] = {Stage.MQL: [], Stage.NURTURE: []}
    for pk, qualifies, stage in rows:
        target = _target(qualifies, stage)
        if target is not None:
            targets[target].append(pk)
    if targets[Stage.MQL]:
        promote_to_mql(inquiry_ids=targets[Stage.MQL], by=by, reason=reason)
    if targets[Stage.NURTURE]:
        stages.move_many(
            inquiry_stages.MACHINE,
            targets[Stage.NURTURE],
            Stage.NURTURE,
            by=by,
            reason=reason,
            only_from=SCORED_STAGES,
        )


def promote_to_mql(*, inquiry_ids: list[int], by: Principal, reason: str) -> int:
    """Put inquiries that meet the definition into the qualifiers' MQL queue; how many moved."""
    return stages.move_many(
        inquiry_stages.MACHINE,
        inquiry_ids,
        Stage.MQL,
        by=by,
        reason=reason,
        only_from=SCORED_STAGES,
    )
