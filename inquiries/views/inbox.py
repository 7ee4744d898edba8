"""The triage inbox page: filter, sort, search, select and act on inquiries from the keyboard.

One URL (``inquiry-list``, ``/inquiries/``) renders the whole page, or with
htmx only the ``#inbox`` fragment, so a filter change never reloads the page.
Bulk actions post to ``/inquiries/bulk/`` and answer with the same fragment
and a status line (or the error where it happened). The filters are
``InboxFilter`` — the same as the API's — and pages continue by cursor.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from inquiries.models import BehaviourLevel, BulkJob, BulkStatus, Source, Stage
from inquiries.selectors.inbox import (
    DEFAULT_SORT,
    MAX_SELECTED_IDS,
    PAGE_SIZE,
    SIZE_BANDS,
    SORTS,
    BadCursor,
    Selection,
    assignable_members,
    bulk_jobs,
    disqualify_reasons,
    filter_inbox,
    inbox_base,
    keyset_page,
    missing_ids,
    saved_views,
    search_is_selective,
    stage_facets,
    visible_views,
    without_blanks,
)
from inquiries.selectors.inquiries import (
    campaign_choices,
    campaign_list,
    custom_field_list,
    lead_names,
)
from inquiries.services import triage
from inquiries.services.outcomes import MAX_IDS as OUTCOME_MAX_IDS
from inquiries.services.outcomes import record_outcomes
from inquiries.views.inbox_sentence import filter_sentence
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.roles import MANAGERS, MARKETING
from leadflow.tenancy.selectors import partner_list, reason_editors

# Parameters that are not filters: kept out of saved views and facet links.
NOT_FILTERS = ("cursor", "sort")
BULK_ACTIONS = {
    "assign": "assigned",
    "disqualify": "disqualified",
    "nurture": "marked for nurture",
    "add_to_campaign": "added to the campaign",
}


def _query(data: QueryDict, **changes) -> str:
    """``data`` as a query string, with ``changes`` (``None`` removes the key)."""
    query = data.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value not in (None, ""):
            query[key] = value
    query.pop("csrfmiddlewaretoken", None)
    return query.urlencode()


def _inbox_context(request, principal, data: QueryDict, *, notice: str = "") -> dict:
    """Everything the ``#inbox`` fragment shows for the query ``data``."""
    data = without_blanks(data)
    user_id = principal.user.pk
    sort_key = data.get("sort") or DEFAULT_SORT
    errors: list[str] = []
    if sort_key not in SORTS:
        errors.append(f"Unknown sort {sort_key!r}; showing newest first.")
        sort_key = DEFAULT_SORT
    bound = filter_inbox(data, user_id=user_id)
    valid = bound.is_valid()
    rows, next_cursor, facets = [], None, None
    if valid:
        facets = stage_facets(data, user_id=user_id, filtered=bound.qs)
        page_of = {
            "sort": SORTS[sort_key],
            "size": PAGE_SIZE,
            "rows_from": inbox_base(),
            "unindexed": search_is_selective(data, facets["total"]),
        }
        try:
            page = keyset_page(bound.qs, cursor=data.get("cursor"), **page_of)
        except BadCursor:
            errors.append("That page link has expired; here is the first page.")
            page = keyset_page(bound.qs, cursor=None, **page_of)
        rows, next_cursor = page.rows, page.next_cursor
    filtered = any(data.get(key) for key in data if key not in NOT_FILTERS)
    query = _query(data, cursor=None)
    reasons = list(disqualify_reasons(active_only=True))
    may_edit_reasons = principal.has_role(*MANAGERS)
    campaigns = list(campaign_list())
    members = list(assignable_members())
    partners = list(partner_list())
    custom_fields = list(custom_field_list())
    subject, chips = filter_sentence(
        data,
        campaigns=campaigns,
        members=members,
        partners=partners,
        custom_fields=custom_fields,
    )
    return {
        "principal": principal,
        "filter": bound,
        "filter_errors": [] if valid else bound.errors_as_dict,
        "errors": errors,
        "notice": notice,
        "rows": rows,
        "sort": sort_key,
        "sorts": SORTS.values(),
        "facets": facets,
        "stage_tabs": [
            (
                value,
                label,
                facets[value] if facets else None,
                _query(data, stage=value, cursor=None),
            )
            for value, label in Stage.choices
        ],
        "all_stages_query": _query(data, stage=None, cursor=None),
        "current_stage": data.get("stage", ""),
        "query": query,
        "next_query": _query(data, cursor=next_cursor) if next_cursor else "",
        "later_page": bool(data.get("cursor")),
        "filtered": filtered,
        "stages": Stage.choices,
        "levels": BehaviourLevel.choices,
        "sources": Source.choices,
        # The filter offers archived campaigns too (their inquiries remain); the bulk
        # "add to campaign" picker only the current ones (the same rows: no second query).
        "campaigns": campaigns,
        "campaign_choices": [c for c in campaigns if c.archived_at is None],
        "custom_fields": [(field, data.get(f"cf_{field.key}", "")) for field in custom_fields],
        "partners": partners,
        "size_bands": SIZE_BANDS,
        "sentence_subject": subject,
        "chips": chips,
        "reasons": reasons,
        # Who to ask, named only when someone who cannot add reasons finds none.
        "reason_editors": [] if reasons or may_edit_reasons or not rows else reason_editors(),
        "members": members,
        "saved_views": list(visible_views(user_id=user_id)),
        "values": data,
        "may_edit_reasons": may_edit_reasons,
        "max_selected": MAX_SELECTED_IDS,
    }


def _render_inbox(request, context, *, status: int = 200):
    template = "inquiries/inbox_body.html" if request.htmx else "inquiries/inbox.html"
    return render(request, template, context, status=status)


@require_safe
@member_page(*MARKETING)
def inbox_page(request, principal):
    """The triage inbox: filters, counts per stage, keyset pages, keyboard-first bulk actions."""
    return _render_inbox(request, _inbox_context(request, principal, request.GET))


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=[(key, key) for key in [*BULK_ACTIONS, "outcome"]])
    ids = forms.TypedMultipleChoiceField(coerce=int, required=False)
    # The outcome action (no lead: what became of an inquiry sales never had).
    outcome = forms.ChoiceField(
        choices=[("", ""), ("won", "won"), ("lost", "lost"), ("open", "open")], required=False
    )
    outcome_on = forms.DateField(required=False)
    outcome_value = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2)
    all_matching = forms.BooleanField(required=False)
    query = forms.CharField(required=False, max_length=4000)
    assignee = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    reason = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    campaign = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, members, reasons, campaigns, **kwargs):
        super().__init__(*args, **kwargs)
        self.members = {m.user_id: m.user for m in members}
        self.reasons = {r.pk: r for r in reasons}
        self.campaigns = {c.pk: c for c in campaigns}
        self.fields["assignee"].choices = [("", "")] + [(pk, pk) for pk in self.members]
        self.fields["reason"].choices = [("", "")] + [(pk, pk) for pk in self.reasons]
        self.fields["campaign"].choices = [("", "")] + [(pk, pk) for pk in self.campaigns]
        # Ids are checked against the tenant by the view (404), not against a list here.
        self.fields["ids"].valid_value = lambda value: True

    def clean(self):
        data = super().clean()
        if not data.get("all_matching") and not data.get("ids"):
            raise forms.ValidationError("Select at least one inquiry (x), or all matching.")
        if len(data.get("ids") or []) > MAX_SELECTED_IDS:
            raise forms.ValidationError(f"Select at most {MAX_SELECTED_IDS}, or use all matching.")
        action = data.get("action")
        if action == "assign" and data.get("assignee") is None:
            self.add_error("assignee", "Choose who works them.")
        if action == "disqualify" and data.get("reason") is None:
            self.add_error("reason", "Choose a reason.")
        if action == "add_to_campaign" and data.get("campaign") is None:
            self.add_error("campaign", "Choose a campaign.")
        if action == "outcome":
            if not data.get("outcome"):
                self.add_error("outcome", "Choose won, lost or open.")
            if data.get("all_matching"):
                self.add_error(
                    "all_matching",
                    "An outcome is set on the inquiries you select (up to "
                    f"{OUTCOME_MAX_IDS:,}), not on all matching.",
                )
        return data

    def service_values(self) -> dict:
        data = self.cleaned_data
        return {
            "assignee": self.members.get(data.get("assignee")),
            "reason": self.reasons.get(data.get("reason")),
            "campaign": self.campaigns.get(data.get("campaign")),
        }


@require_POST
@member_page(*MARKETING)
def inbox_bulk_page(request, principal):
    """Run one bulk action on the selection (or all matching); answer with the inbox."""
    query = QueryDict(request.POST.get("query", ""))
    form = BulkForm(
        request.POST,
        members=assignable_members(),
        reasons=disqualify_reasons(active_only=True),
        campaigns=campaign_choices(),
    )
    if not form.is_valid():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        context = _inbox_context(request, principal, query)
        context["bulk_errors"] = errors
        return _render_inbox(request, context, status=400)
    data = form.cleaned_data
    if data["action"] == "outcome":
        return _bulk_outcome(request, principal, query, data)
    if data["all_matching"]:
        selection = Selection(query=_query(query, cursor=None, sort=None))
    else:
        ids = tuple(dict.fromkeys(data["ids"]))
        if missing_ids(ids):
            raise Http404("No such inquiry.")
        selection = Selection(ids=ids)
    try:
        result = triage.run_bulk_action(
            action=data["action"], selection=selection, values=form.service_values(), by=principal
        )
    except RuleViolation as exc:
        context = _inbox_context(request, principal, query)
        context["bulk_errors"] = [exc.message]
        return _render_inbox(request, context, status=409 if exc.conflict else 400)
    if isinstance(result, BulkJob):
        # Too many for one request: a worker does it; the inbox shows its progress.
        if not request.htmx:
            return redirect("inquiry-bulk-job", pk=result.pk)
        context = _inbox_context(request, principal, query)
        context["bulk_job"] = result
        context["bulk_verb"] = BULK_ACTIONS[result.action]
        return _render_inbox(request, context)
    notice = f"{result.changed:,} {'inquiry' if result.changed == 1 else 'inquiries'} "
    notice += BULK_ACTIONS[data["action"]]
    if result.skipped:
        notice += f"; {result.skipped:,} left as they were"
        if data["action"] == "disqualify":
            notice += " (already leads)"
        elif data["action"] == "nurture":
            notice += " (not an inquiry or MQL)"
    notice += "."
    if not request.htmx:
        messages.success(request, notice)
        return redirect(reverse("inquiry-list") + "?" + query.urlencode())
    return _render_inbox(request, _inbox_context(request, principal, query, notice=notice))


def _bulk_outcome(request, principal, query: QueryDict, data: dict[str, Any]) -> HttpResponse:
    """Set the selected inquiries' outcome through the API's service; leads named, left alone."""
    ids = tuple(dict.fromkeys(data["ids"]))
    if missing_ids(ids):
        raise Http404("No such inquiry.")
    outcome = "" if data["outcome"] == "open" else data["outcome"]
    leads = lead_names(ids)
    try:
        result = record_outcomes(
            ids=list(ids),
            outcome=outcome,
            closed_on=data.get("outcome_on"),
            value=data.get("outcome_value"),
            by=principal,
        )
    except RuleViolation as exc:
        context = _inbox_context(request, principal, query)
        context["bulk_errors"] = [exc.message] + [
            f"{name}: a lead — sales records its outcome." for name in leads
        ]
        return _render_inbox(request, context, status=409 if exc.conflict else 400)
    word = {"won": "marked won", "lost": "marked lost", "": "reopened (no outcome)"}[outcome]
    notice = f"{result.changed:,} {'inquiry' if result.changed == 1 else 'inquiries'} {word}."
    if leads:
        notice += " Left alone (leads — sales records their outcome): " + ", ".join(leads) + "."
    if not request.htmx:
        messages.success(request, notice)
        return redirect(reverse("inquiry-list") + "?" + query.urlencode())
    return _render_inbox(request, _inbox_context(request, principal, query, notice=notice))


@require_safe
@member_page(*MARKETING)
def bulk_job_page(request, principal, pk: int):
    """How far a bulk action on all matching has come: the partial for htmx, else a page."""
    job = get_object_or_404(bulk_jobs(), pk=pk)
    context = {"job": job, "verb": BULK_ACTIONS[job.action]}
    if request.htmx:
        return _job_partial(request, context)
    return render(request, "inquiries/bulk_job.html", context)


# Sent with the partial that shows a job ended: the inbox below reloads its rows by itself.
JOB_ENDED_EVENT = "bulk-job-ended"


def _job_partial(request, context: dict[str, Any]) -> HttpResponse:
    response = render(request, "inquiries/_bulk_job.html", context)
    if context["job"].status not in (BulkStatus.QUEUED, BulkStatus.RUNNING):
        response["HX-Trigger"] = JOB_ENDED_EVENT
    return response


@require_POST
@member_page(*MARKETING)
def bulk_job_cancel_page(request, principal, pk: int):
    """Stop a bulk job; answer with its progress partial (htmx) or its page."""
    job = get_object_or_404(bulk_jobs(), pk=pk)
    context = {"job": job, "verb": BULK_ACTIONS[job.action]}
    try:
        context["job"] = triage.cancel_bulk_job(job=job, by=principal)
    except RuleViolation as exc:
        context["job_error"] = exc.message
    if not request.htmx:
        if "job_error" in context:
            messages.error(request, context["job_error"])
        return redirect("inquiry-bulk-job", pk=pk)
    return _job_partial(request, context)


# --- Saved views ---------------------------------------------------------------------


@require_POST
@member_page(*MARKETING)
def saved_view_save_page(request, principal):
    """Save the inbox's current filter under a name."""
    query = _query(QueryDict(request.POST.get("query", "")), cursor=None)
    try:
        view = triage.save_inbox_view(
            name=request.POST.get("name", ""),
            query=query,
            shared=request.POST.get("shared") == "on",
            by=principal,
        )
    except RuleViolation as exc:
        messages.error(request, f"The view was not saved: {exc.message}")
        return redirect(reverse("inquiry-list") + "?" + query)
    messages.success(request, f"Saved the view “{view.name}”.")
    return redirect(reverse("inquiry-list") + "?" + view.query)


@require_POST
@member_page(*MARKETING)
def saved_view_delete_page(request, principal, pk: int):
    """Forget one of the user's saved views (another user's is a 404)."""
    view = get_object_or_404(saved_views(user_id=principal.user.pk), pk=pk)
    triage.delete_inbox_view(view=view, by=principal)
    messages.success(request, f"Deleted the view “{view.name}”.")
    return redirect("inquiry-list")


# --- Disqualify reasons --------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@member_page(*MARKETING)
def disqualify_reasons_page(request, principal):
    """The tenant's reasons for disqualifying; admins and managers add, rename and retire."""
    error = ""
    if request.method == "POST":
        try:
            reason = triage.add_disqualify_reason(label=request.POST.get("label", ""), by=principal)
        except RuleViolation as exc:
            error = exc.message
        else:
            messages.success(request, f"Added the reason “{reason.label}”.")
            return redirect("inquiry-disqualify-reasons")
    context = {
        "reasons": list(disqualify_reasons()),
        "may_edit": principal.has_role(*MANAGERS),
        "editors": reason_editors(),
        "error": error,
        "label": request.POST.get("label", ""),
    }
    return render(request, "inquiries/inbox_reasons.html", context, status=400 if error else 200)


@require_POST
@member_page(*MANAGERS)
def disqualify_reason_change_page(request, principal, pk: int):
    """Rename a reason, or retire / bring back one."""
    reason = get_object_or_404(disqualify_reasons(), pk=pk)
    label = request.POST.get("label")
    active = request.POST.get("active")
    try:
        triage.change_disqualify_reason(
            reason=reason,
            label=label if label is not None else None,
            active=None if active is None else active == "1",
            by=principal,
        )
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Saved the reason “{reason.label}”.")
    return redirect("inquiry-disqualify-reasons")
