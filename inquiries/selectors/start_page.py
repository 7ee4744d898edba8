"""What the start page counts for marketing: new inquiries, the MQL queue, duplicates, imports.

Each function is one query whatever the number of rows (an aggregate with
filtered counts), so the start page costs the same on a tenant of ten or a
million inquiries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, Max, OuterRef, Q

from inquiries.models import (
    DefinitionSignOff,
    DefinitionStatus,
    ImportJob,
    ImportStatus,
    Inquiry,
    LeadDefinition,
    SignOffSide,
)
from inquiries.selectors.merging import duplicate_pair_count

__all__ = ["definition_state", "duplicate_pair_count", "import_counts", "triage_counts"]


@dataclass(frozen=True)
class TriageCounts:
    new_since: int
    mqls: int
    mqls_unassigned: int
    mqls_mine: int


def triage_counts(*, since: datetime, user_id: int | None) -> TriageCounts:
    """Inquiries that arrived since ``since``, and the MQL queue (all, nobody's, the viewer's)."""
    mql = Q(stage="mql")
    found = Inquiry.objects.aggregate(
        new_since=Count("id", filter=Q(created_at__gte=since)),
        mqls=Count("id", filter=mql),
        mqls_unassigned=Count("id", filter=mql & Q(assigned_to__isnull=True)),
        mqls_mine=Count("id", filter=mql & Q(assigned_to_id=user_id)),
    )
    return TriageCounts(**found)


@dataclass(frozen=True)
class ImportCounts:
    running: int
    with_problems: int


def import_counts(*, since: datetime) -> ImportCounts:
    """Imports still running, and imports finished since ``since`` that need a look.

    A finished import needs a look when it failed, skipped rows, or imported nothing.
    """
    done = Q(status=ImportStatus.DONE)
    problems = Q(finished_at__gte=since) & (
        Q(status=ImportStatus.FAILED)
        | (done & Q(invalid_count__gt=0))
        | (done & Q(new_count=0, merged_count=0))
    )
    found = ImportJob.objects.aggregate(
        running=Count("id", filter=Q(status__in=(ImportStatus.QUEUED, ImportStatus.RUNNING))),
        with_problems=Count("id", filter=problems),
    )
    return ImportCounts(**found)


@dataclass(frozen=True)
class DefinitionState:
    active_version: int | None
    active_id: int | None
    drafts: int
    drafts_unsigned: int


def definition_state() -> DefinitionState:
    """The active version (if any) and the drafts, of which how many still lack a sign-off."""
    active = Q(status=DefinitionStatus.ACTIVE)
    draft = Q(status=DefinitionStatus.DRAFT)

    def signed(side: str) -> Exists:
        return Exists(DefinitionSignOff.objects.filter(definition_id=OuterRef("pk"), side=side))

    unsigned = ~signed(SignOffSide.MARKETING) | ~signed(SignOffSide.SALES)
    found = LeadDefinition.objects.aggregate(
        active_version=Max("version", filter=active),
        active_id=Max("id", filter=active),
        drafts=Count("id", filter=draft),
        drafts_unsigned=Count("id", filter=draft & unsigned),
    )
    return DefinitionState(**found)
