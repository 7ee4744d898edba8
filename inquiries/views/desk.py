"""Browser pages of the qualifier's desk: working one inquiry, and the queue.

Each action on the inquiry page is a small form posting here: one service
call, then back to the page with a message (a refusal is the message, and
nothing changes). The queue is the qualifier's start of the day: their tasks
due today (late ones first) and the unassigned MQLs, oldest first. Rows are
looked up within the tenant: another tenant's inquiry or task is a 404.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from inquiries.models import Inquiry, Timeline
from inquiries.profile import PROFILE_FIELDS, PROFILE_LABELS
from inquiries.selectors.desk import (
    notes_of,
    open_tasks,
    task_list,
    tasks_of,
    unassigned_mql_queue,
)
from inquiries.selectors.inbox import assignable_members, disqualify_reasons
from inquiries.selectors.inquiries import custom_field_list, inquiry_list
from inquiries.services import desk, reminders
from inquiries.services.capture import update_profile
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MARKETING

QUEUE_PAGE_SIZE = 25


def _back(request: HttpRequest, inquiry: Inquiry) -> HttpResponse:
    """Back where the form was (the queue, say), else to the inquiry page."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("inquiry-detail", pk=inquiry.pk)


def _first_error(form: forms.Form) -> str:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return "Check the form."


class NoteForm(forms.Form):
    text = forms.CharField(label="Note", max_length=desk.MAX_NOTE_LENGTH)


class AssignForm(forms.Form):
    assignee = forms.TypedChoiceField(
        label="Qualifier", coerce=int, required=False, empty_value=None
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.members = {m.user_id: m.user for m in assignable_members()}
        self.fields["assignee"].choices = [("", "— nobody —")] + [
            (user_id, user.display_name) for user_id, user in self.members.items()
        ]


class DisqualifyForm(forms.Form):
    reason = forms.TypedChoiceField(label="Reason", coerce=int)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.reasons = {r.pk: r for r in disqualify_reasons(active_only=True)}
        self.fields["reason"].choices = [(pk, r.label) for pk, r in self.reasons.items()]


class TaskForm(forms.Form):
    due_at = forms.DateTimeField(
        label="Due",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    note = forms.CharField(label="What to do", max_length=reminders.MAX_NOTE_LENGTH, required=False)
    assignee = forms.TypedChoiceField(label="For", coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.members = {m.user_id: m.user for m in assignable_members()}
        self.fields["assignee"].choices = [("", "— me —")] + [
            (user_id, user.display_name) for user_id, user in self.members.items()
        ]


def desk_context(principal: Principal, inquiry: Inquiry) -> dict[str, Any]:
    """What the inquiry page's "Work this inquiry" section shows (a handful of queries)."""
    members = list(assignable_members())
    return {
        "notes": list(notes_of(inquiry=inquiry)[:50]),
        "tasks": list(tasks_of(inquiry=inquiry)[:20]),
        "members": members,
        "reasons": list(disqualify_reasons(active_only=True)),
    }


@require_POST
@member_page(*MARKETING)
def inquiry_note_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """Add an internal note to the person."""
    inquiry = get_object_or_404(inquiry_list(), pk=pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Write the note first.")
        return _back(request, inquiry)
    try:
        desk.add_note(inquiry=inquiry, text=form.cleaned_data["text"], by=principal)
    except RuleViolation as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "Note added.")
    return _back(request, inquiry)


@require_POST
@member_page(*MARKETING)
def inquiry_assign_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """Give the person to a qualifier (or to nobody)."""
    inquiry = get_object_or_404(inquiry_list(), pk=pk)
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return _back(request, inquiry)
    user_id = form.cleaned_data["assignee"]
    assignee = form.members[user_id] if user_id is not None else None
    try:
        desk.assign_inquiry(inquiry=inquiry, assignee=assignee, by=principal)
    except RuleViolation as refused:
        messages.error(request, refused.message)
    else:
        who = assignee.display_name if assignee is not None else "nobody"
        messages.success(request, f"Assigned to {who}.")
    return _back(request, inquiry)


@require_POST
@member_page(*MARKETING)
def inquiry_disqualify_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """Disqualify the person with one of the tenant's reasons."""
    inquiry = get_object_or_404(inquiry_list(), pk=pk)
    form = DisqualifyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a reason of the list.")
        return _back(request, inquiry)
    try:
        desk.disqualify_inquiry(
            inquiry=inquiry, reason=form.reasons[form.cleaned_data["reason"]], by=principal
        )
    except RuleViolation as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "Disqualified.")
    return _back(request, inquiry)


@require_POST
@member_page(*MARKETING)
def inquiry_requalify_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """Take a disqualified person back; rescored at once."""
    inquiry = get_object_or_404(inquiry_list(), pk=pk)
    try:
        inquiry = desk.requalify_inquiry(inquiry=inquiry, by=principal)
    except RuleViolation as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"Requalified: now {inquiry.get_stage_display()}.")
    return _back(request, inquiry)


@require_POST
@member_page(*MARKETING)
def inquiry_task_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """Set a reminder on the person ("call back Tuesday 10:00")."""
    inquiry = get_object_or_404(inquiry_list(), pk=pk)
    form = TaskForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return _back(request, inquiry)
    user_id = form.cleaned_data["assignee"]
    try:
        reminders.create_task(
            inquiry=inquiry,
            due_at=form.cleaned_data["due_at"],
            note=form.cleaned_data["note"],
            assignee=form.members[user_id] if user_id is not None else None,
            by=principal,
        )
    except RuleViolation as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "Task set.")
    return _back(request, inquiry)


@require_POST
@member_page(*MARKETING)
def task_complete_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """Mark a task done."""
    task = get_object_or_404(task_list(), pk=pk)
    try:
        reminders.complete_task(task=task, by=principal)
    except RuleViolation as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "Task done.")
    return _back(request, task.inquiry)


class ProfileForm(forms.Form):
    """The person's profile; custom fields are added per tenant."""

    def __init__(self, *args: Any, inquiry: Inquiry, custom_fields: list[Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        for name in PROFILE_FIELDS:
            label = PROFILE_LABELS.get(name, name)
            field: forms.Field
            if name == "company_size":
                field = forms.IntegerField(label=label, required=False, min_value=1)
            elif name == "timeline":
                field = forms.ChoiceField(label=label, choices=Timeline.choices)
            elif name == "email":
                field = forms.EmailField(label=label, required=False)
            else:
                field = forms.CharField(label=label, required=False, max_length=200)
            field.initial = getattr(inquiry, name)
            self.fields[name] = field
        self.custom_keys = []
        for custom in custom_fields:
            key = f"custom__{custom.key}"
            self.fields[key] = forms.CharField(
                label=custom.label,
                required=False,
                initial=inquiry.custom.get(custom.key, ""),
                help_text=custom.get_kind_display(),
            )
            self.custom_keys.append(custom.key)


@require_http_methods(["GET", "HEAD", "POST"])
@member_page(*MARKETING)
def inquiry_profile_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """Edit the person's profile; each change goes on the timeline with who and when."""
    inquiry = get_object_or_404(inquiry_list(), pk=pk)
    custom_fields = list(custom_field_list())
    data = request.POST if request.method == "POST" else None
    form = ProfileForm(data, inquiry=inquiry, custom_fields=custom_fields)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            changes = {
                name: form.cleaned_data[name]
                for name in PROFILE_FIELDS
                if form.cleaned_data[name] != getattr(inquiry, name)
                and not (form.cleaned_data[name] in (None, "") and not getattr(inquiry, name))
            }
            custom = {
                key: form.cleaned_data[f"custom__{key}"]
                for key in form.custom_keys
                if str(form.cleaned_data[f"custom__{key}"]) != str(inquiry.custom.get(key, ""))
            }
            try:
                update_profile(
                    inquiry=inquiry, changes=changes, custom=custom or None, by=principal
                )
            except RuleViolation as refused:
                name = refused.field.replace("custom.", "custom__")
                form.add_error(name if name in form.fields else None, refused.message)
            else:
                messages.success(request, "Profile saved.")
                return redirect("inquiry-detail", pk=inquiry.pk)
        status = 400
    return render(
        request, "inquiries/profile_form.html", {"inquiry": inquiry, "form": form}, status=status
    )


@require_safe
@member_page(*MARKETING)
def queue_page(request: HttpRequest, principal: Principal) -> HttpResponse:
    """My tasks due today (late ones first) and the unassigned MQLs, oldest first."""
    user_id = principal.user.pk if principal.user is not None else 0
    tasks = list(open_tasks(due="today", assignee_id=user_id, tz=principal.timezone)[:50])
    paginator = Paginator(unassigned_mql_queue(), QUEUE_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "inquiries/queue.html",
        {
            "tasks": tasks,
            "page": page,
            "queue": list(page.object_list),
            "next": reverse("inquiry-queue"),
        },
    )
