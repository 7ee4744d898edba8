"""Tasks on an inquiry ("call back Tuesday 10:00"): set one for a member, mark it done."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from inquiries.models import Inquiry, InquiryTask
from inquiries.services.triage import check_assignee
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import User
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit

MAX_NOTE_LENGTH = 500
# A reminder this far ahead is a typo (year 2062), not a plan.
FURTHEST = timedelta(days=2 * 365)


@transaction.atomic
def create_task(
    *,
    inquiry: Inquiry,
    due_at: datetime,
    note: str = "",
    assignee: User | None = None,
    by: Principal,
) -> InquiryTask:
    """Remind ``assignee`` (default: whoever sets it) to act on the person at ``due_at``."""
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise RuleViolation(
            field="note", code="too_long", message=f"At most {MAX_NOTE_LENGTH} characters."
        )
    if timezone.is_naive(due_at):
        raise RuleViolation(field="due_at", code="invalid", message="The time needs its zone.")
    if due_at > timezone.now() + FURTHEST:
        raise RuleViolation(
            field="due_at", code="too_far", message="Set a reminder within the next two years."
        )
    if assignee is None:
        assignee = by.user
    check_assignee(assignee)
    task = InquiryTask.objects.create(
        tenant=by.tenant,
        inquiry=inquiry,
        assignee=assignee,
        due_at=due_at,
        note=note,
        created_by=by.user,
    )
    record_audit(
        action="task.created",
        obj=task,
        after={"inquiry": inquiry.pk, "assignee": task.assignee_id},
        by=by,
    )
    return task


@transaction.atomic
def complete_task(*, task: InquiryTask, by: Principal) -> InquiryTask:
    """Mark the task done; done twice is refused (nothing changes)."""
    now = timezone.now()
    done = InquiryTask.objects.filter(pk=task.pk, completed_at__isnull=True).update(
        completed_at=now, completed_by=by.user
    )
    if not done:
        raise RuleViolation(field="task", code="done", message="This task is done already.")
    task.completed_at = now
    task.completed_by = by.user
    record_audit(action="task.completed", obj=task, after={"inquiry": task.inquiry_id}, by=by)
    return task
