"""Scoring one inquiry under the active definition, and moving it to MQL or nurture."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from inquiries import scoring
from inquiries import stages as inquiry_stages
from inquiries.models import Inquiry, Stage
from inquiries.selectors.scoring import active_definition, compute_score
from leadflow.lib import stages
from leadflow.tenancy.principal import Principal

# Stages a score may move an inquiry between; a lead or a disqualified inquiry stays put.
SCORED_STAGES = inquiry_stages.SCORED


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
