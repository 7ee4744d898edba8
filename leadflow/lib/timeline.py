"""A registry of timeline sources: apps that add lines to a person's history without a cycle.

The person's timeline is read by ``leads.selectors.timeline.person_timeline``
(GET /api/v1/inquiries/{id}/timeline/, the inquiry and lead pages). Some of
that history belongs to apps leads may not import — nurture's enrollments and
exits (the import contract: leads and nurture are independent layers). Such an
app registers a *source* in its ``AppConfig.ready()``; the timeline calls every
registered source and merges what they return.

A source takes the inquiry's id, the viewer and their time zone and returns
its entries; it must read in a fixed number of queries whatever the history's
length (the timeline promises a bounded count), and see only the current
tenant's rows (the scoped managers and row-level security do that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from leadflow.tenancy.principal import Principal


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the person's history: when (viewer's zone), what kind, the line, a detail."""

    at: datetime
    kind: str  # inquiry_stage, lead_created, lead_stage, touch, update, appointment, nurture, …
    text: str
    detail: str = ""
    lead_id: int | None = None


#: ``(inquiry_id, principal, tz) -> entries``.
TimelineSource = Callable[[int, Principal, tzinfo], list[TimelineEntry]]

_sources: dict[str, TimelineSource] = {}


def register_source(name: str, source: TimelineSource) -> None:
    """Add ``source`` to every person's timeline; registering a name again replaces it."""
    _sources[name] = source


def sources() -> tuple[TimelineSource, ...]:
    """The registered sources, in the order they were first registered."""
    return tuple(_sources.values())


def entries_from_sources(inquiry_id: int, principal: Principal, tz: tzinfo) -> list[TimelineEntry]:
    """What every registered source says about the person."""
    found: list[TimelineEntry] = []
    for source in sources():
        found += source(inquiry_id, principal, tz)
    return found
