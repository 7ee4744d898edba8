"""Nurture's lines on the person's timeline: each enrollment and exit, with program and reason.

Registered with ``leadflow.lib.timeline`` in ``NurtureConfig.ready()`` (leads'
timeline may not import nurture). One query whatever the number of
enrollments. A partner's user is not shown the marketing programs a person
was in: their timeline is about the lead they were given.
"""

from __future__ import annotations

from datetime import tzinfo

from leadflow.lib import timeline
from leadflow.lib.timeline import TimelineEntry
from leadflow.tenancy.principal import Principal
from nurture.models import Enrollment
from nurture.services import enrollment as rules

# Why a person was enrolled, in words (``Enrollment.reason``).
ENROLL_REASONS = {
    rules.BELOW_THRESHOLD: "below the lead threshold",
    rules.MARKED: "marked for nurture",
    rules.NOT_A_LEAD: "rejected as not a lead",
    rules.LOST_NOT_NOW: "lost, not now",
    rules.POSTPONED: "postponed to nurture",
    rules.REQUALIFIED: "requalified after a disqualification",
    rules.BY_HAND: "enrolled by hand",
    rules.FINISHED_PROGRAM: "finished the previous program",
    rules.NEVER_DROPPED: "found in nurture without a program",
}


def nurture_entries(inquiry_id: int, principal: Principal, tz: tzinfo) -> list[TimelineEntry]:
    """The person's enrollments and exits, one query with the programs' names joined."""
    if principal.is_partner:
        return []
    entries: list[TimelineEntry] = []
    rows = Enrollment.objects.select_related("program").filter(inquiry_id=inquiry_id)
    for row in rows:
        why = ENROLL_REASONS.get(row.reason, row.reason.replace("_", " ") or "no reason recorded")
        entries.append(
            TimelineEntry(
                at=row.enrolled_at.astimezone(tz),
                kind="nurture_enrolled",
                text=f"Enrolled in the nurture program “{row.program.name}” ({why})",
                detail=f"by {row.enrolled_by}" if row.enrolled_by else "",
            )
        )
        if row.exited_at is not None:
            entries.append(
                TimelineEntry(
                    at=row.exited_at.astimezone(tz),
                    kind="nurture_exited",
                    text=f"Left the nurture program “{row.program.name}”: "
                    f"{row.get_exit_reason_display().lower() or 'no reason recorded'}",
                )
            )
    return entries


def register() -> None:
    timeline.register_source("nurture", nurture_entries)
