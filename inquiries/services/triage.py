"""Triage of the inbox: bulk assign, disqualify, nurture, add to campaign; reasons; saved views.

A bulk action is one set-based ``UPDATE`` over the selection (chosen ids, or
every inquiry matching the inbox filter) and one audit event with the count,
in one transaction; disqualify and nurture change the stage, so theirs is
the stage mover's set-based move (``leadflow/lib/stages.py``), which writes
one history row per inquiry moved in the same statement. Rows another
tenant owns are never in a selection: the selection is read through the
tenant-scoped manager (and row-level security).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone

from inquiries import stages as inquiry_stages
from inquiries.models import (
    BulkJob,
    BulkStatus,
    Campaign,
    DisqualifyReason,
    Inquiry,
    SavedView,
    Stage,
)
from inquiries.selectors.inbox import (
    SORTS,
    InvalidFilter,
    Selection,
    filter_inbox,
    selection_queryset,
    without_blanks,
)
from inquiries.services.planner import refresh_statistics
from leadflow.lib import jobs, stages
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Membership, Role, User
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leadflow.tenancy.services import record_audit

ASSIGNABLE_ROLES = (Role.QUALIFIER, Role.MARKETER, Role.MANAGER, Role.ADMIN)
NURTURE_BATCH = 5000
# Marking for nurture moves only these: a lead, the disqualified and nurture itself stay.
NURTURED_FROM = (Stage.INQUIRY, Stage.MQL)
# "All matching" more than this many inquiries runs as a BulkJob, not in the request.
INLINE_LIMIT = 5000
JOB_BATCH = 5000
# A running bulk job whose heartbeat is older than this is taken to be dead; another run resumes it.
JOB_STALE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class BulkResult:
    """How many inquiries the action matched and changed; the rest were left as they were."""

    action: str
    matched: int
    changed: int

    @property
    def skipped(self) -> int:
        return self.matched - self.changed


def _selected(selection: Selection, by: Principal) -> QuerySet[Inquiry]:
    if not selection.is_all_matching and not selection.ids:
        raise RuleViolation(field="ids", code="empty", message="Select at least one inquiry.")
    try:
        return selection_queryset(selection, user_id=by.user.pk if by.user else None)
    except InvalidFilter as exc:
        raise RuleViolation(field="filter", code="invalid", message=str(exc)) from exc


def _audit(result: BulkResult, selection: Selection, by: Principal, **details: Any) -> None:
    record_audit(
        action=f"inquiry.bulk_{result.action}",
        obj=by.tenant,
        after={
            "matched": result.matched,
            "changed": result.changed,
            **selection.describe(),
            **details,
        },
        by=by,
    )


def check_assignee(assignee: User | None) -> None:
    if (
        assignee is not None
        and not Membership.objects.filter(
            user=assignee,
            role__in=ASSIGNABLE_ROLES,
            partner__isnull=True,
            is_active=True,
            user__is_active=True,
        ).exists()
    ):
        raise RuleViolation(
            field="assignee",
            code="not_assignable",
            message="Assign to an active qualifier, marketer, manager or admin of this tenant.",
        )


def _check_reason(reason: DisqualifyReason) -> None:
    if not reason.active:
        raise RuleViolation(
            field="reason", code="inactive", message=f"The reason {reason.label!r} is retired."
        )


# --- Applying an action to a set of inquiries (the request's, or a job's batch) -------


def _assign(inquiries: QuerySet[Inquiry], assignee: User | None) -> tuple[int, int]:
    changed = Inquiry.objects.filter(pk__in=inquiries.values("pk")).update(
        assigned_to=assignee, updated_at=timezone.now()
    )
    return changed, changed


def _disqualify(
    inquiries: QuerySet[Inquiry], reason: DisqualifyReason, by: Principal
) -> tuple[int, int]:
    """Leads belong to sales and are left alone (counted as matched, not changed).

    The others move to disqualified through the stage mover, with the reason
    in the same write; one already disqualified only takes the new reason
    (changed, but not a move: its stage stays).
    """
    rows = list(inquiries.order_by().values_list("pk", "stage"))
    leads = sum(1 for _pk, stage in rows if stage == Stage.LEAD)
    again = [pk for pk, stage in rows if stage == Stage.DISQUALIFIED]
    changed = 0
    if again:
        changed += Inquiry.objects.filter(pk__in=again, stage=Stage.DISQUALIFIED).update(
            disqualified_reason=reason.label, updated_at=timezone.now()
        )
    changed += stages.move_many(
        inquiry_stages.MACHINE,
        [pk for pk, stage in rows if stage not in (Stage.LEAD, Stage.DISQUALIFIED)],
        Stage.DISQUALIFIED,
        by=by,
        reason=reason.label,
        also={"disqualified_reason": reason.label},
    )
    return changed + leads, changed


def _nurture(inquiries: QuerySet[Inquiry], by: Principal) -> tuple[int, int]:
    """To nurture through the stage mover, in batches of ids; only new inquiries and MQLs move."""
    inquiries = inquiries.order_by("pk")
    matched = changed = last = 0
    while True:
        batch = list(inquiries.filter(pk__gt=last).values_list("pk", flat=True)[:NURTURE_BATCH])
        if not batch:
            return matched, changed
        matched += len(batch)
        changed += stages.move_many(
            inquiry_stages.MACHINE,
            batch,
            Stage.NURTURE,
            by=by,
            reason="marked for nurture",
            only_from=NURTURED_FROM,
        )
        last = batch[-1]


def _add_to_campaign(inquiries: QuerySet[Inquiry], campaign: Campaign) -> tuple[int, int]:
    changed = Inquiry.objects.filter(pk__in=inquiries.values("pk")).update(
        campaign=campaign, updated_at=timezone.now()
    )
    return changed, changed


def _apply(
    action: str, inquiries: QuerySet[Inquiry], values: dict[str, Any], by: Principal
) -> tuple[int, int]:
    """(matched, changed) of one bulk action on ``inquiries``."""
    if action == "assign":
        return _assign(inquiries, values["assignee"])
    if action == "disqualify":
        return _disqualify(inquiries, values["reason"], by)
    if action == "nurture":
        return _nurture(inquiries, by)
    return _add_to_campaign(inquiries, values["campaign"])


PAST_TENSE = {
    "assign": "assigned",
    "disqualify": "disqualified",
    "nurture": "nurtured",
    "add_to_campaign": "added_to_campaign",
}


@transaction.atomic
def assign_inquiries(*, selection: Selection, assignee: User | None, by: Principal) -> BulkResult:
    """Hand the selected inquiries to a qualifier (or take them back with ``assignee=None``)."""
    check_assignee(assignee)
    matched, changed = _assign(_selected(selection, by), assignee)
    result = BulkResult("assigned", matched, changed)
    _audit(result, selection, by, assignee=assignee.pk if assignee else None)
    return result


@transaction.atomic
def disqualify_inquiries(
    *, selection: Selection, reason: DisqualifyReason, by: Principal
) -> BulkResult:
    """Disqualify the selected inquiries with a reason from the tenant's list.

    An inquiry that is already a lead belongs to sales and is left alone; when
    every selected inquiry is a lead, the action is refused.
    """
    _check_reason(reason)
    matched, changed = _disqualify(_selected(selection, by), reason, by)
    if matched and not changed:
        raise RuleViolation(
            field="ids",
            code="already_lead",
            message="An inquiry that is already a lead cannot be disqualified.",
            conflict=True,
        )
    result = BulkResult("disqualified", matched, changed)
    _audit(result, selection, by, reason=reason.label, leads_left_alone=matched - changed)
    return result


@transaction.atomic
def nurture_inquiries(*, selection: Selection, by: Principal) -> BulkResult:
    """Mark the selected inquiries for nurture (new inquiries and MQLs move), in batches of ids."""
    matched, changed = _nurture(_selected(selection, by), by)
    result = BulkResult("nurtured", matched, changed)
    _audit(result, selection, by)
    return result


@transaction.atomic
def add_inquiries_to_campaign(
    *, selection: Selection, campaign: Campaign, by: Principal
) -> BulkResult:
    """Attribute the selected inquiries to a campaign (for cost per inquiry and ROI)."""
    matched, changed = _add_to_campaign(_selected(selection, by), campaign)
    result = BulkResult("added_to_campaign", matched, changed)
    _audit(result, selection, by, campaign=campaign.pk)
    return result


def run_bulk_action(
    *, action: str, selection: Selection, values: dict[str, Any], by: Principal
) -> BulkResult | BulkJob:
    """Run the bulk action named ``action`` (the page and the API name them alike).

    "All matching" a filter that matches more than ``INLINE_LIMIT`` inquiries
    is not done in the request: a ``BulkJob`` is queued and returned instead.
    """
    if selection.is_all_matching and _more_than(_selected(selection, by), INLINE_LIMIT):
        return start_bulk_job(action=action, selection=selection, values=values, by=by)
    if action == "assign":
        return assign_inquiries(selection=selection, assignee=values["assignee"], by=by)
    if action == "disqualify":
        return disqualify_inquiries(selection=selection, reason=values["reason"], by=by)
    if action == "nurture":
        return nurture_inquiries(selection=selection, by=by)
    return add_inquiries_to_campaign(selection=selection, campaign=values["campaign"], by=by)


def _more_than(inquiries: QuerySet[Inquiry], limit: int) -> bool:
    """Whether more than ``limit`` match, reading at most ``limit + 1`` ids (no full count)."""
    return len(inquiries.order_by().values_list("pk", flat=True)[: limit + 1]) > limit


# --- "All matching" as a background job ------------------------------------------------


def _stored_values(action: str, values: dict[str, Any]) -> dict[str, Any]:
    if action == "assign":
        check_assignee(values["assignee"])
        return {"assignee": values["assignee"].pk if values["assignee"] else None}
    if action == "disqualify":
        _check_reason(values["reason"])
        return {"reason": values["reason"].pk}
    if action == "add_to_campaign":
        return {"campaign": values["campaign"].pk}
    return {}


@transaction.atomic
def start_bulk_job(
    *, action: str, selection: Selection, values: dict[str, Any], by: Principal
) -> BulkJob:
    """Queue "all matching" for a worker; nothing changes until it runs."""
    if not selection.is_all_matching:
        raise RuleViolation(field="filter", code="invalid", message="A job takes a filter.")
    _selected(selection, by)  # a bad filter is refused now, not in the worker
    job = BulkJob.objects.create(
        tenant=by.tenant,
        created_by=by.user,
        action=action,
        query=selection.query or "",
        values=_stored_values(action, values),
    )
    record_audit(
        action="inquiry.bulk_job_queued",
        obj=job,
        after={"action": action, **selection.describe(), **job.values},
        by=by,
    )
    jobs.enqueue("bulk", job_id=job.pk, tenant_id=job.tenant_id)
    return job


def _loaded_values(job: BulkJob) -> dict[str, Any]:
    """The job's values as objects again; gone or no longer valid is a RuleViolation."""
    stored = job.values
    if job.action == "assign":
        user = User.objects.filter(pk=stored.get("assignee")).first()
        if stored.get("assignee") is not None and user is None:
            raise RuleViolation(field="assignee", code="gone", message="The assignee is gone.")
        check_assignee(user)
        return {"assignee": user}
    if job.action == "disqualify":
        reason = DisqualifyReason.objects.filter(pk=stored.get("reason")).first()
        if reason is None:
            raise RuleViolation(field="reason", code="gone", message="The reason is gone.")
        return {"reason": reason}
    if job.action == "add_to_campaign":
        campaign = Campaign.objects.filter(pk=stored.get("campaign")).first()
        if campaign is None:
            raise RuleViolation(field="campaign", code="gone", message="The campaign is gone.")
        return {"campaign": campaign}
    return {}


def run_bulk_job(
    *, job: BulkJob, batch_size: int | None = None, stop_after_batches: int | None = None
) -> BulkJob:
    """Apply the job's action batch by batch (ascending ids), resuming after the last batch.

    Each batch commits with the progress. The filter is applied again to each
    batch, so an inquiry that stopped matching since the job was queued is
    left alone. Returns quietly when another run holds the job.
    ``stop_after_batches`` leaves it running, as a killed worker would (tests).
    """
    if not jobs.claim(
        BulkJob.objects.filter(pk=job.pk),
        queued=BulkStatus.QUEUED,
        running=BulkStatus.RUNNING,
        stale_after=JOB_STALE_AFTER,
    ):
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    # The worker acts for the person who queued the job ("assigned to me" means them).
    by = Principal(
        tenant=job.tenant,
        role=None,
        via="system",
        user=job.created_by,
        system_label=f"bulk job {job.pk}",
    )
    selection = Selection(query=job.query)
    try:
        values = _loaded_values(job)
        matching = _selected(selection, by)
        if not job.total:
            job.total = matching.count()
            job.save(update_fields=["total"])
        batches = 0
        while stop_after_batches is None or batches < stop_after_batches:
            if not _run_batch(job, matching, values, batch_size or JOB_BATCH, by):
                break
            batches += 1
        job.refresh_from_db()
        if job.status == BulkStatus.DONE:
            refresh_statistics(job.changed)
    except RuleViolation as exc:
        BulkJob.objects.filter(pk=job.pk).update(
            status=BulkStatus.FAILED, error=exc.message, finished_at=timezone.now()
        )
    except DatabaseError:
        # Hand the job back at once, so the task's retry resumes it.
        BulkJob.objects.filter(pk=job.pk, status=BulkStatus.RUNNING).update(
            status=BulkStatus.QUEUED, heartbeat_at=None
        )
        raise
    job.refresh_from_db()
    return job


@transaction.atomic
def _run_batch(
    job: BulkJob,
    matching: QuerySet[Inquiry],
    values: dict[str, Any],
    batch_size: int,
    by: Principal,
) -> bool:
    """One batch in one transaction; False when the job is finished (or taken over)."""
    locked = BulkJob.objects.select_for_update().get(pk=job.pk)
    if locked.status != BulkStatus.RUNNING or locked.done != job.done:
        return False
    now = timezone.now()
    ids = list(
        matching.filter(pk__gt=job.last_inquiry_id)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    if not ids:
        job.status = BulkStatus.DONE
        job.finished_at = job.heartbeat_at = now
        job.total = job.done  # what it found, which may differ from the count at the start
        job.save(update_fields=["status", "finished_at", "heartbeat_at", "total"])
        result = BulkResult(PAST_TENSE[job.action], job.done, job.changed)
        _audit(result, Selection(query=job.query), by, job=job.pk, **job.values)
        return False
    matched, changed = _apply(job.action, Inquiry.objects.filter(pk__in=ids), values, by)
    job.done += len(ids)
    job.changed += changed
    job.last_inquiry_id = ids[-1]
    job.heartbeat_at = now
    job.save(update_fields=["done", "changed", "last_inquiry_id", "heartbeat_at"])
    return True


@transaction.atomic
def cancel_bulk_job(*, job: BulkJob, by: Principal) -> BulkJob:
    """Stop a bulk job: at once if no batch is being written, else after that batch.

    The worker locks the job at the start of each batch and stops when it is
    no longer running, so what is done stays done and nothing more is touched.
    """
    job = BulkJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in (BulkStatus.QUEUED, BulkStatus.RUNNING):
        raise RuleViolation(
            field="status",
            code="finished",
            conflict=True,
            message=f"This bulk action is already {job.get_status_display().lower()}.",
        )
    job.status = BulkStatus.CANCELLED
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "finished_at"])
    record_audit(
        action="inquiry.bulk_job_cancelled",
        obj=job,
        after={"done": job.done, "changed": job.changed},
        by=by,
    )
    return job


@transaction.atomic
def record_inbox_export(*, selection: Selection, by: Principal) -> None:
    """Note who took a CSV of which inquiries (the ids or the filter), before it streams."""
    record_audit(action="inquiry.exported", obj=by.tenant, after=selection.describe(), by=by)


# --- The tenant's list of disqualification reasons ----------------------------------


def _may_edit_reasons(by: Principal) -> None:
    if not by.has_role(*MANAGERS):
        raise RuleViolation(
            field="role", code="forbidden", message="Only admins and managers edit the reasons."
        )


def _clean_label(label: str) -> str:
    label = " ".join(label.split())
    if not label or len(label) > 200:
        raise RuleViolation(
            field="label", code="invalid", message="Give a label of 1–200 characters."
        )
    return label


@transaction.atomic
def add_disqualify_reason(*, label: str, by: Principal) -> DisqualifyReason:
    """Add a reason qualifiers may give when they disqualify an inquiry."""
    _may_edit_reasons(by)
    label = _clean_label(label)
    if DisqualifyReason.objects.filter(label__iexact=label).exists():
        raise RuleViolation(
            field="label", code="duplicate", message=f"The reason {label!r} already exists."
        )
    reason = DisqualifyReason.objects.create(tenant=by.tenant, label=label)
    record_audit(action="disqualify_reason.added", obj=reason, after={"label": label}, by=by)
    return reason


@transaction.atomic
def change_disqualify_reason(
    *,
    reason: DisqualifyReason,
    label: str | None = None,
    active: bool | None = None,
    by: Principal,
) -> DisqualifyReason:
    """Rename a reason, or retire it (it stays on inquiries disqualified with it)."""
    _may_edit_reasons(by)
    before = {"label": reason.label, "active": reason.active}
    if label is not None:
        label = _clean_label(label)
        if DisqualifyReason.objects.filter(label__iexact=label).exclude(pk=reason.pk).exists():
            raise RuleViolation(
                field="label", code="duplicate", message=f"The reason {label!r} already exists."
            )
        reason.label = label
    if active is not None:
        reason.active = active
    reason.save(update_fields=["label", "active"])
    after = {"label": reason.label, "active": reason.active}
    record_audit(action="disqualify_reason.changed", obj=reason, before=before, after=after, by=by)
    return reason


# --- Saved views ---------------------------------------------------------------------


# Where a list is, not what it shows: never part of a saved view.
NOT_SAVED = ("cursor", "page", "page_size", "csrfmiddlewaretoken")
MAX_VIEW_QUERY = 2000


def clean_view_query(query: str, *, user_id: int | None) -> str:
    """The inbox query a view keeps: its filters and sort, checked as the inbox checks them."""
    if len(query) > MAX_VIEW_QUERY:
        raise RuleViolation(
            field="query", code="too_long", message=f"At most {MAX_VIEW_QUERY} characters."
        )
    data = without_blanks(QueryDict(query.lstrip("?")))
    for key in NOT_SAVED:
        data.pop(key, None)
    sort = data.get("sort")
    if sort is not None and sort not in SORTS:
        raise RuleViolation(
            field="query",
            code="invalid",
            message=f"Unknown sort {sort!r}; use one of {', '.join(SORTS)}.",
        )
    bound = filter_inbox(data, user_id=user_id)
    if not bound.is_valid():
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in bound.errors_as_dict.items())
        raise RuleViolation(field="query", code="invalid", message=problems)
    return data.urlencode()


@transaction.atomic
def save_inbox_view(*, name: str, query: str, shared: bool = False, by: Principal) -> SavedView:
    """Keep the inbox's filter and sort under a name, for this user (and the team when
    ``shared``); a same name is replaced."""
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise RuleViolation(
            field="name", code="invalid", message="Give a name of 1–100 characters."
        )
    if by.user is None:
        raise RuleViolation(field="user", code="no_user", message="Saved views belong to a user.")
    query = clean_view_query(query, user_id=by.user.pk)
    try:
        with transaction.atomic():
            view, _ = SavedView.objects.update_or_create(
                user=by.user,
                name=name,
                defaults={"query": query, "tenant": by.tenant, "shared": shared},
            )
    except IntegrityError as exc:  # a concurrent save of the same name
        raise RuleViolation(
            field="name", code="duplicate", message="Saved at the same time; try again."
        ) from exc
    record_audit(
        action="saved_view.saved",
        obj=view,
        after={"name": name, "query": query, "shared": shared},
        by=by,
    )
    return view


@transaction.atomic
def delete_inbox_view(*, view: SavedView, by: Principal) -> None:
    """Forget one of the user's saved views."""
    record_audit(action="saved_view.deleted", obj=view, before={"name": view.name}, by=by)
    view.delete()
