"""Reads of the qualifier's desk: notes, tasks due, and the queue of unassigned MQLs.

Each returns a tenant-scoped queryset with what its pages and API show
joined (the person, the assignee), so a list costs the same number of
queries for one row as for fifty.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo

from django.db.models import QuerySet
from django.utils import timezone

from inquiries.models import Inquiry, InquiryNote, InquiryTask, Stage

DUE_CHOICES = ("today", "overdue", "all")


def notes_of(*, inquiry: Inquiry) -> QuerySet[InquiryNote]:
    """The person's notes, newest first, with their authors."""
    return InquiryNote.objects.select_related("author").filter(inquiry_id=inquiry.pk)


def task_list() -> QuerySet[InquiryTask]:
    """Every task of the tenant, soonest due first, with the person and the people named."""
    return InquiryTask.objects.select_related(
        "inquiry", "assignee", "created_by", "completed_by"
    ).order_by("due_at", "id")


def end_of_today(tz: tzinfo, now: datetime | None = None) -> datetime:
    """Midnight at the end of today in ``tz``: a task due before it is due today (or late)."""
    local = timezone.localtime(now or timezone.now(), tz)
    return datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=tz)


def open_tasks(
    *, due: str = "all", assignee_id: int | None = None, tz: tzinfo
) -> QuerySet[InquiryTask]:
    """Tasks not done yet: ``due`` today (late ones included), ``overdue``, or ``all``;
    only ``assignee_id``'s when given."""
    tasks = task_list().filter(completed_at__isnull=True)
    now = timezone.now()
    if due == "today":
        tasks = tasks.filter(due_at__lt=end_of_today(tz, now))
    elif due == "overdue":
        tasks = tasks.filter(due_at__lt=now)
    if assignee_id is not None:
        tasks = tasks.filter(assignee_id=assignee_id)
    return tasks


def tasks_of(*, inquiry: Inquiry) -> QuerySet[InquiryTask]:
    """The person's tasks: open ones soonest first, then the done ones."""
    return task_list().filter(inquiry_id=inquiry.pk).order_by("completed_at", "due_at", "id")


def unassigned_mql_queue() -> QuerySet[Inquiry]:
    """The default queue: MQLs nobody works yet, oldest first (the longest waiting on top)."""
    return (
        Inquiry.objects.select_related("campaign")
        .filter(stage=Stage.MQL, assigned_to__isnull=True)
        .order_by("created_at", "id")
    )
