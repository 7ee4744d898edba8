"""Browser pages of the lead definition: its versions, editing, sign-off, activation, what-if.

Every view is thin: a form, one service call, a redirect with a message. A
business rule that says no (``RuleViolation``) comes back as a form error or
a message and nothing is written. Rows are looked up within the tenant, so
another tenant's definition is a 404, never a 403.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from inquiries.models import DefinitionStatus, SignOffSide
from inquiries.selectors.analysis import what_if
from inquiries.selectors.inquiries import definition_list
from inquiries.selectors.rescoring import rescore_job_list, suggest_job_list
from inquiries.selectors.scoring import active_definition
from inquiries.services import definitions as definition_services
from inquiries.services.suggestions import start_suggestion
from leadflow.lib.jobs import JobStatus
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.roles import EDITORS, MARKETING

SIGNERS = definition_services.SIGNING_ROLES
PAGE_SIZE = 50


@require_safe
@member_page(*MARKETING)
def definition_list_page(request, principal):
    """Every version of the lead definition with its status and sign-offs."""
    page = Paginator(definition_list(), PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    for definition in page.object_list:
        signed = {s.side: s for s in definition.sign_offs.all()}
        definition.signed = [signed.get(side) for side in SignOffSide.values]
    return render(
        request,
        "inquiries/definition_list.html",
        {"page": page, "can_edit": principal.has_role(*EDITORS)},
    )


@require_POST
@member_page(*EDITORS)
def definition_new_page(request, principal):
    """Start a draft from the articles' template."""
    definition = definition_services.create_draft(by=principal)
    messages.success(request, f"Draft version {definition.version} started from the template.")
    return redirect("definition-detail", pk=definition.pk)


@require_POST
@member_page(*EDITORS)
def definition_suggest_page(request, principal):
    """Start fitting a draft from won and lost outcomes in a worker; show its progress."""
    try:
        job = start_suggestion(by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
        return redirect("definition-list")
    return redirect("definition-suggestion", pk=job.pk)


@require_safe
@member_page(*EDITORS)
def definition_suggestion_page(request, principal, pk: int):
    """How far the suggestion has come; polled while it runs, then on to its draft."""
    job = get_object_or_404(suggest_job_list(), pk=pk)
    if job.status == JobStatus.DONE and job.definition_id is not None:
        version = definition_list().filter(pk=job.definition_id).values_list("version", flat=True)
        if version:
            messages.success(
                request, f"Draft version {version[0]} suggested from outcomes; see its notes."
            )
            target = reverse("definition-detail", args=[job.definition_id])
            if request.htmx:
                response = HttpResponse(status=204)
                response["HX-Redirect"] = target
                return response
            return redirect(target)
    template = "inquiries/_suggest_progress.html" if request.htmx else "inquiries/suggestion.html"
    return render(request, template, {"job": job})


def _show_violation(request, form, exc: RuleViolation, *, field: str) -> None:
    """A service's refusal on the form field it names, else as a message above the page."""
    if field in form.fields:
        form.add_error(field, exc.message if exc.field == field else f"{exc.field}: {exc.message}")
    else:
        messages.error(request, exc.message)


class DefinitionForm(forms.Form):
    """The editable parts of a draft; only what changed is sent to the service."""

    name = forms.CharField(max_length=200)
    mql_threshold = forms.IntegerField(label="MQL threshold (points)", min_value=1, max_value=10000)
    leads_per_rep_per_week = forms.IntegerField(
        label="Leads per rep per week", min_value=1, max_value=10000
    )
    reps = forms.IntegerField(label="Reps", min_value=1, max_value=10000)
    notes = forms.CharField(
        max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    # The rules themselves are built on the rule builder page (rule_builder.py); their JSON
    # is the API's only.


def _definition_form(definition, data=None) -> DefinitionForm:
    initial = {
        name: getattr(definition, name)
        for name in definition_services.EDITABLE
        if name in DefinitionForm.base_fields
    }
    return DefinitionForm(data, initial=initial)


def _shown_value(op: str, value) -> str:
    """A rule's value the way a person reads it: ``50–5000``, ``≥ 50``, ``US, CA``."""
    if op == "range" and isinstance(value, list | tuple) and len(value) == 2:
        low, high = value
        if low is None:
            return f"≤ {high}"
        return f"≥ {low}" if high is None else f"{low}–{high}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def _readable_rules(definition) -> dict[str, list[dict]]:
    """The definition's three rule lists as rows for the readable tables."""

    def fit(rule: dict) -> dict:
        op, value = rule.get("op", ""), rule.get("value")
        return {**rule, "test": f"{op} {_shown_value(op, value)}"}

    return {
        "fit": [fit(rule) for rule in definition.fit_rules],
        "engagement": list(definition.engagement_rules),
        "qualifiers": [fit(rule) for rule in definition.qualifiers],
    }


def _render_definition(request, principal, definition, form=None, *, status=200):
    sign_offs = {s.side: s for s in definition.sign_offs.all()}
    is_draft = definition.status == DefinitionStatus.DRAFT
    can_sign = is_draft and principal.has_role(*SIGNERS) and principal.user is not None
    mine = next((s.side for s in sign_offs.values() if s.user_id == principal.user.pk), None)
    sides = [
        {
            "value": side.value,
            "label": side.label,
            "sign_off": sign_offs.get(side.value),
            "can_sign": can_sign and side.value not in sign_offs and mine is None,
        }
        for side in SignOffSide
    ]
    can_edit = is_draft and principal.has_role(*EDITORS)
    context = {
        "definition": definition,
        "form": form or (_definition_form(definition) if can_edit else None),
        "can_edit": can_edit,
        "can_copy": principal.has_role(*EDITORS),
        "sides": sides,
        "signed_by_me": mine,
        "can_activate": can_sign and len(sign_offs) == len(SignOffSide),
        "rules": _readable_rules(definition),
        "job": rescore_job_list().filter(definition=definition).first(),
    }
    return render(request, "inquiries/definition_detail.html", context, status=status)


@require_http_methods(["GET", "POST"])
@member_page(*MARKETING)
def definition_detail_page(request, principal, pk: int):
    """A version's rules, sign-offs and what-if; a draft's editor saves through ``update_draft``."""
    definition = get_object_or_404(definition_list(), pk=pk)
    if request.method == "GET":
        return _render_definition(request, principal, definition)
    if not principal.has_role(*EDITORS):
        raise PermissionDenied
    form = _definition_form(definition, request.POST)
    if not form.is_valid():
        return _render_definition(request, principal, definition, form, status=400)
    if not form.changed_data and definition.status == DefinitionStatus.DRAFT:
        # Saving nothing must not withdraw the sign-offs the draft has.
        messages.info(request, "Nothing changed.")
        return redirect("definition-detail", pk=definition.pk)
    values = {name: form.cleaned_data[name] for name in form.changed_data}
    try:
        definition_services.update_draft(definition=definition, values=values, by=principal)
    except RuleViolation as exc:
        # A rule's path (fit_rules[2].op) is shown on its list's field.
        _show_violation(request, form, exc, field=re.split(r"[\[.]", exc.field, maxsplit=1)[0])
        status = 409 if exc.conflict else 400
        return _render_definition(request, principal, definition, form, status=status)
    messages.success(
        request,
        f"Version {definition.version} saved; it needs both sign-offs again before activation.",
    )
    return redirect("definition-detail", pk=definition.pk)


@require_POST
@member_page(*EDITORS)
def definition_copy_page(request, principal, pk: int):
    """Copy a version to a new draft, the only way to change an active one."""
    definition = get_object_or_404(definition_list(), pk=pk)
    copy = definition_services.copy_definition(definition=definition, by=principal)
    messages.success(
        request, f"Draft version {copy.version} copied from version {definition.version}."
    )
    return redirect("definition-detail", pk=copy.pk)


@require_POST
@member_page(*SIGNERS)
def definition_sign_page(request, principal, pk: int):
    """A manager signs the draft for marketing or for sales."""
    definition = get_object_or_404(definition_list(), pk=pk)
    side = request.POST.get("side", "")
    try:
        definition_services.sign_definition(definition=definition, side=side, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"You signed version {definition.version} for {SignOffSide(side).label}."
        )
    return redirect("definition-detail", pk=definition.pk)


@require_POST
@member_page(*SIGNERS)
def definition_activate_page(request, principal, pk: int):
    """Make the signed draft the active definition; rescoring runs in the background."""
    definition = get_object_or_404(definition_list(), pk=pk)
    try:
        job = definition_services.activate_definition(definition=definition, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Version {definition.version} is now active; rescoring {job.total} inquiries "
            "in the background.",
        )
    return redirect("definition-detail", pk=definition.pk)


@require_safe
@member_page(*MARKETING)
def definition_what_if_page(request, principal, pk: int):
    """The last 90 days: MQLs a week under this version against the active one and capacity."""
    definition = get_object_or_404(definition_list(), pk=pk)
    active = active_definition()
    if active is not None and active.pk == definition.pk:
        active = None
    context = {"definition": definition, "is_active": definition.status == "active"}
    try:
        result = what_if(draft=definition, active=active, as_of=timezone.now())
    except RuleViolation as exc:
        context["error"] = f"{exc.field}: {exc.message}"
    else:
        context.update(
            result=result,
            rows=_what_if_rows(result),
            outcome_rows=_outcome_rows(result),
            chart=_chart_data(result),
        )
    template = "inquiries/_what_if.html" if request.htmx else "inquiries/what_if.html"
    return render(request, template, context)


def _what_if_rows(result) -> list[dict]:
    active = result.active_mqls or [None] * len(result.weeks)
    return [
        {"week": week, "draft": draft, "active": other, "over": draft > result.capacity_per_week}
        for week, draft, other in zip(result.weeks, result.draft_mqls, active, strict=True)
    ]


def _outcome_rows(result) -> list[tuple[str, int, int | None]]:
    other = result.active_outcomes
    return [
        (label, getattr(result.draft_outcomes, name), getattr(other, name) if other else None)
        for name, label in (
            ("passed", "Passed as MQL"),
            ("became_leads", "Became leads"),
            ("won", "Won"),
            ("lost", "Lost"),
        )
    ]


def _chart_data(result) -> dict:
    return {
        "weeks": [f"{week:%d %b}" for week in result.weeks],
        "draft": result.draft_mqls,
        "active": result.active_mqls,
        "capacity": result.capacity_per_week,
    }


@require_safe
@member_page(*MARKETING)
def rescore_progress_page(request, principal, pk: int):
    """How far rescoring under this version has come; polled while it runs."""
    definition = get_object_or_404(definition_list(), pk=pk)
    job = rescore_job_list().filter(definition=definition).first()
    return render(
        request, "inquiries/_rescore_progress.html", {"definition": definition, "job": job}
    )
