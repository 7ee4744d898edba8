"""The active definition applied in Python to the people a chunk writes (in the reader as well)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from inquiries import scoring
from inquiries.models import Inquiry, Source, Stage, Timeline
from inquiries.selectors.scoring import profile_of
from inquiries.services.scoring import SCORED_STAGES

if TYPE_CHECKING:  # staging reads the scorer; the scorer only names the row type
    from inquiries.services.imports.staging import StoredInquiry


# A new person's score columns: stage, fit, engagement, total, breakdown (JSON), level.
ScoreCells = tuple[str, int, int, int, str, str]


@dataclass(frozen=True)
class Scorer:
    """The active definition, applied in Python to the people a chunk writes.

    A new person's whole record is in the file, and a known person's stored
    record and activities are read (locked) with the chunk, so
    ``scoring.score`` — the reference the set-based rescoring is held equal
    to — gives the score before the write. Each row is then written once,
    scored and in its stage, instead of written, then updated by the scoring
    SQL, then moved to MQL or nurture.
    """

    definition_id: int
    rules: scoring.Rules
    as_of: datetime
    # The JSON of each breakdown line met so far: a definition has few rules and a
    # few point values each, and json.dumps of every breakdown cost 0.9 s per 100,000.
    _lines: dict[tuple[str, str, int], str] = field(default_factory=dict, compare=False, repr=False)

    def breakdown_json(self, breakdown: list[dict[str, Any]]) -> str:
        """``json.dumps(breakdown)``, from the lines already met."""
        parts = []
        for line in breakdown:
            key = (line["rule"], line["kind"], line["points"])
            text = self._lines.get(key)
            if text is None:
                text = self._lines[key] = json.dumps(line)
            parts.append(text)
        return "[" + ", ".join(parts) + "]"

    def score(
        self,
        values: dict[str, Any],
        custom: dict[str, Any],
        source: str,
        activities: Iterable[tuple[str, datetime]],
    ) -> ScoreCells:
        """A new person's score columns: stage, fit, engagement, total, breakdown, level."""
        profile: dict[str, Any] = {name: values.get(name, "") for name in scoring.STANDARD_FIELDS}
        profile["company_size"] = values.get("company_size")
        profile["timeline"] = values.get("timeline") or Timeline.UNKNOWN
        profile["source"] = source or Source.IMPORT
        for key, value in custom.items():
            profile[f"custom.{key}"] = value
        result = scoring.score(profile, activities, self.rules, as_of=self.as_of)
        return (
            Stage.MQL if result.qualifies else Stage.NURTURE,
            result.fit,
            result.engagement,
            result.total,
            self.breakdown_json(result.breakdown),
            result.level,
        )

    def rescore(
        self, inquiry: Inquiry | StoredInquiry, activities: Iterable[tuple[str, datetime]]
    ) -> str | None:
        """Score a stored inquiry in memory as score_inquiry would; the stage it should move to.

        None when it stays where it is. The stage itself is not touched here:
        the chunk moves the inquiry through the stage mover after writing it.
        """
        result = scoring.score(profile_of(inquiry), activities, self.rules, as_of=self.as_of)
        inquiry.fit_score = result.fit
        inquiry.engagement_score = result.engagement
        inquiry.score = result.total
        inquiry.score_breakdown = result.breakdown
        inquiry.behaviour_level = result.level
        inquiry.definition_id = self.definition_id
        inquiry.scored_at = self.as_of
        if inquiry.stage not in SCORED_STAGES:
            return None
        stage = Stage.MQL if result.qualifies else Stage.NURTURE
        return None if stage == inquiry.stage else stage
