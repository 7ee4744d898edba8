"""The inbox's filters as a sentence of chips: "MQLs in manufacturing from DE, with no touch yet".

Each chip is one filter in words, with the link that removes it; read in
order they make a sentence, so a saved view or a shared link says what it
shows. Names come from the lists the inbox page already read (campaigns,
members, partners, custom fields): no query of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.http import QueryDict

from inquiries.models import BehaviourLevel, Source, Stage
from inquiries.selectors.inbox import SIZE_BANDS

STAGE_PLURALS = {
    Stage.INQUIRY: "new inquiries",
    Stage.MQL: "MQLs",
    Stage.NURTURE: "people in nurture",
    Stage.LEAD: "leads",
    Stage.DISQUALIFIED: "disqualified people",
}


@dataclass(frozen=True)
class Chip:
    text: str
    remove_query: str


def _without(data: QueryDict, key: str) -> str:
    query = data.copy()
    query.pop(key, None)
    query.pop("cursor", None)
    query.pop("csrfmiddlewaretoken", None)
    return query.urlencode()


def filter_sentence(
    data: QueryDict,
    *,
    campaigns: Iterable[Any],
    members: Iterable[Any],
    partners: Iterable[Any],
    custom_fields: Iterable[Any],
) -> tuple[str, list[Chip]]:
    """The subject ("MQLs", "inquiries") and the chips that qualify it, in reading order."""
    stage = data.get("stage", "")
    subject = STAGE_PLURALS.get(stage, "inquiries") if stage in Stage.values else "inquiries"
    chips: list[Chip] = []

    def add(key: str, text: str) -> None:
        chips.append(Chip(text=text, remove_query=_without(data, key)))

    if data.get("q"):
        add("q", f"matching “{data['q']}”")
    if data.get("title"):
        add("title", f"with “{data['title']}” in their title")
    if data.get("industry"):
        add("industry", f"in {data['industry']}")
    if data.get("country"):
        add("country", f"from {data['country'].upper()}")
    bands = {key: label for key, label, _low, _high in SIZE_BANDS}
    if data.get("size") in bands:
        add("size", f"at companies of {bands[data['size']]}")
    if data.get("level") in BehaviourLevel.values:
        add("level", f"at level {BehaviourLevel(data['level']).label.lower()}")
    if data.get("source") in Source.values:
        add("source", f"from {Source(data['source']).label.lower()}")
    names = {str(c.pk): c.name for c in campaigns}
    if data.get("campaign") in names:
        add("campaign", f"from the campaign {names[data['campaign']]}")
    partner_names = {str(p.pk): p.name for p in partners}
    if data.get("partner") in partner_names:
        add("partner", f"referred by {partner_names[data['partner']]}")
    assigned = data.get("assigned", "")
    people = {str(m.user_id): m.user.display_name for m in members}
    if assigned == "me":
        add("assigned", "assigned to me")
    elif assigned == "none":
        add("assigned", "assigned to nobody")
    elif assigned in people:
        add("assigned", f"assigned to {people[assigned]}")
    if data.get("touched") == "none":
        add("touched", "with no touch yet")
    if data.get("task") == "due":
        add("task", "with a task due today")
    elif data.get("task") == "open":
        add("task", "with an open task")
    if data.get("score_min"):
        add("score_min", f"scoring at least {data['score_min']}")
    if data.get("score_max"):
        add("score_max", f"scoring at most {data['score_max']}")
    if data.get("created_from"):
        add("created_from", f"received from {data['created_from']}")
    if data.get("created_to"):
        add("created_to", f"received until {data['created_to']}")
    if data.get("activity_from"):
        add("activity_from", f"active since {data['activity_from']}")
    if data.get("activity_to"):
        add("activity_to", f"active until {data['activity_to']}")
    for field in custom_fields:
        value = data.get(f"cf_{field.key}")
        if value:
            add(f"cf_{field.key}", f"whose {field.label.lower()} is {value}")
    return subject, chips
