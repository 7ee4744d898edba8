"""The import's scorer writes each breakdown as json.dumps would."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from inquiries.services.imports.scorer import Scorer


def test_a_breakdown_is_written_as_json_dumps_writes_it_the_second_time_too():
    scorer = Scorer(1, None, datetime(2026, 6, 1, tzinfo=UTC))
    first = [
        {"rule": "Title: C-level", "kind": "fit", "points": 20},
        {"rule": 'Webinar "live"', "kind": "engagement", "points": 7},
    ]
    second = [first[1], {"rule": "Zoë's list", "kind": "fit", "points": -5}, first[0]]
    assert scorer.breakdown_json(first) == json.dumps(first)
    assert scorer.breakdown_json(second) == json.dumps(second)
    assert scorer.breakdown_json([]) == json.dumps([])
