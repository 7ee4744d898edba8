"""Triage of the inbox: bulk assign, disqualify, nurture, add to campaign; reasons; saved views.

A bulk action is one set-based ``UPDATE`` over the selection (chosen ids, or
every inquiry matching the inbox filter) and one audit event with the count,
in one transaction. Rows another tenant owns are never in a selection: the
selection is read through the tenant-scoped manager (and row-level security).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone

from inquiries.models import Campaign, DisqualifyReason, Inquiry, SavedView, Stage
from inquiries.selectors.inbox import (
    SORTS,
    InvalidFilter,
    Selection,
    filter_inbox,
    selection_queryset,
    without_blanks,
)
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Membership, Role, User
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.services import record_audit
from nurture.services import flag_for_nurture

ASSIGNABLE_ROLES = (Role.QUALIFIER, Role.MARKETER, Role.MANAGER, Role.ADMIN)
REASON_EDITORS = (Role.ADMIN, Role.MANAGER)
NURTURE_BATCH = 5000


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


def _audit(result: BulkResult, selection: Selection, by: Principal, **details) -> None:
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


@transaction.atomic
def assign_inquiries(*, selection: Selection, assignee: User | None, by: Principal) -> BulkResult:
    """Hand the selected inquiries to a qualifier (or take them back with ``assignee=None``)."""
    if (
        assignee is not None
        and not Membership.objects.filter(
            user=assignee, role__in=ASSIGNABLE_ROLES, partner__isnull=True, user__is_active=True
        ).exists()
    ):
        raise RuleViolation(
            field="assignee",
            code="not_assignable",
            message="Assign to an active qualifier, marketer, manager or admin of this tenant.",
        )
    inquiries = _selected(selection, by)
    changed = Inquiry.objects.filter(pk__in=inquiries.values("pk")).update(
        assigned_to=assignee, updated_at=timezone.now()
    )
    result = BulkResult("assigned", changed, changed)
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
    if not reason.active:
        raise RuleViolation(
            field="reason", code="inactive", message=f"The reason {reason.label!r} is retired."
        )
    inquiries = _selected(selection, by)
    leads = inquiries.filter(stage=Stage.LEAD).count()
    changed = (
        Inquiry.objects.filter(pk__in=inquiries.values("pk"))
        .exclude(stage=Stage.LEAD)
        .update(
            stage=Stage.DISQUALIFIED,
            disqualified_reason=reason.label,
            updated_at=timezone.now(),
        )
    )
    if leads and not changed:
        raise RuleViolation(
            field="ids",
            code="already_lead",
            message="An inquiry that is already a lead cannot be disqualified.",
            conflict=True,
        )
    result = BulkResult("disqualified", changed + leads, changed)
    _audit(result, selection, by, reason=reason.label, leads_left_alone=leads)
    return result


@transaction.atomic
def nurture_inquiries(*, selection: Selection, by: Principal) -> BulkResult:
    """Mark the selected inquiries for nurture, through the nurture seam, in batches of ids."""
    inquiries = _selected(selection, by).order_by("pk")
    matched = changed = 0
    last = 0
    while True:
        batch = list(inquiries.filter(pk__gt=last).values_list("pk", flat=True)[:NURTURE_BATCH])
        if not batch:
            break
        matched += len(batch)
        changed += flag_for_nurture(inquiry_ids=batch)
        last = batch[-1]
    result = BulkResult("nurtured", matched, changed)
    _audit(result, selection, by)
    return result


@transaction.atomic
def add_inquiries_to_campaign(
    *, selection: Selection, campaign: Campaign, by: Principal
) -> BulkResult:
    """Attribute the selected inquiries to a campaign (for cost per inquiry and ROI)."""
    inquiries = _selected(selection, by)
    changed = Inquiry.objects.filter(pk__in=inquiries.values("pk")).update(
        campaign=campaign, updated_at=timezone.now()
    )
    result = BulkResult("added_to_campaign", changed, changed)
    _audit(result, selection, by, campaign=campaign.pk)
    return result


def run_bulk_action(
    *, action: str, selection: Selection, values: dict, by: Principal
) -> BulkResult:
    """Run the bulk action named ``action`` (the page and the API name them alike)."""
    if action == "assign":
        return assign_inquiries(selection=selection, assignee=values["assignee"], by=by)
    if action == "disqualify":
        return disqualify_inquiries(selection=selection, reason=values["reason"], by=by)
    if action == "nurture":
        return nurture_inquiries(selection=selection, by=by)
    return add_inquiries_to_campaign(selection=selection, campaign=values["campaign"], by=by)


@transaction.atomic
def record_inbox_export(*, selection: Selection, by: Principal) -> None:
    """Note who took a CSV of which inquiries (the ids or the filter), before it streams."""
    record_audit(action="inquiry.exported", obj=by.tenant, after=selection.describe(), by=by)


# --- The tenant's list of disqualification reasons ----------------------------------


def _may_edit_reasons(by: Principal) -> None:
    if not by.has_role(*REASON_EDITORS):
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
def save_inbox_view(*, name: str, query: str, by: Principal) -> SavedView:
    """Keep the inbox's filter and sort under a name, for this user; a same name is replaced."""
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
                user=by.user, name=name, defaults={"query": query, "tenant": by.tenant}
            )
    except IntegrityError as exc:  # a concurrent save of the same name
        raise RuleViolation(
            field="name", code="duplicate", message="Saved at the same time; try again."
        ) from exc
    record_audit(action="saved_view.saved", obj=view, after={"name": name, "query": query}, by=by)
    return view


@transaction.atomic
def delete_inbox_view(*, view: SavedView, by: Principal) -> None:
    """Forget one of the user's saved views."""
    record_audit(action="saved_view.deleted", obj=view, before={"name": view.name}, by=by)
    view.delete()
