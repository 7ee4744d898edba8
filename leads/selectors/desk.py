"""The qualifier's view of one person: the whole timeline and the touches before hand-over.

``inquiry_timeline`` is the person's history (``person_timeline``: stage
moves, leads, touches, updates, meetings) plus what marketing wrote about
them: notes, profile edits, assignments, tasks and the things they did
(activities). A fixed number of queries whatever its length; every line
is written for people (names, not ids; times in the viewer's zone, the zone
named), newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Exists, OuterRef, Q

from inquiries.models import Activity, ActivityKind, Inquiry, InquiryNote, InquiryTask
from leadflow.lib.timeline import TimelineEntry
from leadflow.tenancy.models import AuditEvent, User
from leadflow.tenancy.principal import Principal
from leads.models import Touch
from leads.selectors.settings import lead_settings
from leads.selectors.timeline import _who, meeting_time, person_timeline

# The newest activities shown; a person with years of page visits still reads quickly.
ACTIVITY_LIMIT = 200
# Audit actions about the inquiry the timeline tells (the rest are bookkeeping).
TOLD_ACTIONS = ("inquiry.edited", "inquiry.assigned")
# Fields written alongside the ones a person edits; not worth a line of their own.
DERIVED_FIELDS = {"company_domain", "phone_normalized", "updated_at"}
# Activity details worth showing beside the kind (others are ids and bookkeeping).
ACTIVITY_DETAILS = ("title", "asset", "page", "url", "event", "need", "subject", "campaign")


@dataclass(frozen=True)
class TouchProgress:
    """The marketing side's touches before hand-over against the tenant's minimum."""

    count: int
    minimum: int

    @property
    def below_minimum(self) -> bool:
        return self.count < self.minimum


def touch_progress(*, inquiry: Inquiry) -> TouchProgress:
    """How many touches the person had before any lead, and the minimum. Two queries."""
    minimum = lead_settings().touch_minimum
    count = Touch.objects.filter(inquiry_id=inquiry.pk, lead__isnull=True).count()
    return TouchProgress(count=count, minimum=minimum)


def _field_label(name: str) -> str:
    try:
        field = Inquiry._meta.get_field(name)
    except FieldDoesNotExist:
        return name.replace("_", " ")
    return str(getattr(field, "verbose_name", name.replace("_", " ")))


def _value(value: Any) -> str:
    if value in (None, ""):
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"“{value}”"


def _edit_text(event: AuditEvent) -> str:
    before = event.before or {}
    after = event.after or {}
    parts = []
    for name, new in after.items():
        if name in DERIVED_FIELDS:
            continue
        if name == "custom" and isinstance(new, dict):
            old_custom = before.get("custom") if isinstance(before.get("custom"), dict) else {}
            for key, value in new.items():
                old = (old_custom or {}).get(key)
                if old != value:
                    parts.append(f"{key.replace('_', ' ')} from {_value(old)} to {_value(value)}")
            continue
        parts.append(f"{_field_label(name)} from {_value(before.get(name))} to {_value(new)}")
    return "; ".join(parts)


def _audit_entries(
    events: list[AuditEvent], names: dict[int, str], tz: tzinfo
) -> list[TimelineEntry]:
    found = []
    for event in events:
        who = _who(event.actor, label=event.actor_label)
        if event.action == "inquiry.edited":
            changes = _edit_text(event)
            if not changes:
                continue
            text, detail = f"{who} edited the profile", changes
        else:
            assignee = (event.after or {}).get("assigned_to")
            if assignee is None:
                text = f"{who} unassigned the inquiry"
            else:
                text = f"{who} assigned the inquiry to {names.get(assignee, 'a former member')}"
            detail = ""
        found.append(
            TimelineEntry(at=event.created_at.astimezone(tz), kind="edit", text=text, detail=detail)
        )
    return found


def _activity_entry(activity: Activity, tz: tzinfo) -> TimelineEntry:
    label = (
        ActivityKind(activity.kind).label if activity.kind in ActivityKind.values else activity.kind
    )
    details = activity.details or {}
    shown = [
        str(details[key]) for key in ACTIVITY_DETAILS if isinstance(details.get(key), str | int)
    ]
    return TimelineEntry(
        at=activity.occurred_at.astimezone(tz),
        kind="activity",
        text=label,
        detail=" · ".join(shown),
    )


def _task_entries(task: InquiryTask, tz: tzinfo) -> list[TimelineEntry]:
    who = _who(task.created_by, label="LeadFlow")
    assignee = task.assignee.display_name if task.assignee is not None else "nobody"
    found = [
        TimelineEntry(
            at=task.created_at.astimezone(tz),
            kind="task",
            text=f"{who} set a task for {assignee}, due {meeting_time(task.due_at, tz)}",
            detail=task.note,
        )
    ]
    if task.completed_at is not None:
        done_by = _who(task.completed_by, label="LeadFlow")
        found.append(
            TimelineEntry(
                at=task.completed_at.astimezone(tz),
                kind="task",
                text=f"{done_by} completed the task",
                detail=task.note,
            )
        )
    return found


def inquiry_timeline(*, inquiry: Inquiry, principal: Principal) -> list[TimelineEntry]:
    """Every event of the person as ``principal`` may see it, newest first.

    ``person_timeline``'s five queries, plus notes, audit events, the users the
    assignments name, tasks and activities: ten, whatever the length.
    """
    tz = principal.timezone
    entries = person_timeline(inquiry=inquiry, principal=principal)
    for note in InquiryNote.objects.select_related("author").filter(inquiry_id=inquiry.pk):
        entries.append(
            TimelineEntry(
                at=note.created_at.astimezone(tz),
                kind="note",
                text=f"{_who(note.author, label='LeadFlow')} added a note",
                detail=note.text,
            )
        )
    events = list(
        AuditEvent.objects.select_related("actor").filter(
            object_type=Inquiry._meta.label_lower,
            object_id=str(inquiry.pk),
            action__in=TOLD_ACTIONS,
        )
    )
    assignees = {
        value
        for event in events
        if event.action == "inquiry.assigned"
        for value in [(event.after or {}).get("assigned_to")]
        if isinstance(value, int)
    }
    names = (
        {user.pk: user.display_name for user in User.objects.filter(pk__in=assignees)}
        if assignees
        else {}
    )
    entries += _audit_entries(events, names, tz)
    tasks = InquiryTask.objects.select_related("created_by", "assignee", "completed_by").filter(
        inquiry_id=inquiry.pk
    )
    for task in tasks:
        entries += _task_entries(task, tz)
    activities = Activity.objects.filter(inquiry_id=inquiry.pk).order_by("-occurred_at", "-id")
    for activity in activities[:ACTIVITY_LIMIT]:
        if activity.kind == ActivityKind.APPOINTMENT_BOOKED:
            continue  # the appointment's own line says it, with the time and the rep
        entries.append(_activity_entry(activity, tz))
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries


def untouched() -> Q:
    """Inquiries nobody has touched yet (no call, email or meeting logged), for the inbox."""
    return ~Q(Exists(Touch.objects.filter(inquiry_id=OuterRef("pk"))))
