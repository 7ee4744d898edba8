"""Scoring one inquiry under the active definition, and moving it to MQL or nurture."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from inquiries.models import Inquiry, Stage
from inquiries.selectors.scoring import active_definition, compute_score
from nurture import services as nurture_services

# Stages a score may move an inquiry between; a lead or a disqualified inquiry stays put.
SCORED_STAGES = (Stage.INQUIRY, Stage.MQL, Stage.NURTURE)


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
