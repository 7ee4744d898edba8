"""My week: the owner's open leads to report on this week, one row each, keyboard first.

Thin views over ``leads.services.updates`` / ``touches`` and the My week
selector. A row is reported in place: the page's script posts the row's form
with ``fetch`` and swaps in the reported row this view renders (the counter
comes back in headers); without script the same POST redirects back with a
message. A refusal says why and changes nothing. The lead is looked up among
the viewer's own leads, so anyone else's (or another tenant's) is a 404.

Partner users (the partner portal) get the same pages for their partner's
leads (``portal_page``): the selectors and services are principal-based, so a
partner user sees and reports only its own partner's leads.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from inquiries.models import Inquiry
from leadflow.lib.rules import RuleViolation
from leadflow.lib.start_page import Tile
from leadflow.tenancy.models import Role
from leadflow.tenancy.pages import page_principal
from leadflow.tenancy.principal import Principal
from leads.models import Lead, TouchKind, TouchOutcome, UpdateStatus, WeeklyUpdate
from leads.selectors.compliance import COMPLIANT, SUSPENDED, Compliance, partner_compliance
from leads.selectors.leads import contact_hidden, lead_list, visible_profile
from leads.selectors.my_week import my_week
from leads.selectors.settings import lead_settings
from leads.services.touches import MAX_NOTE_LENGTH, log_touch
from leads.services.updates import record_weekly_update

OWNER_ROLES = (Role.REP, Role.MANAGER, Role.ADMIN)
FETCH_HEADER = "X-Requested-With"

View = Callable[..., HttpResponse]


def portal_page(*roles: str) -> Callable[[View], View]:
    """Members with one of ``roles``, and the users of a partner (the partner portal).

    Like ``member_page``: the view gets the principal and runs in the
    viewer's own time zone (their own, else the tenant's). What a partner
    user may see is the selectors' rule (its partner's leads only).
    """

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            principal = page_principal(request)
            if not principal.is_partner and not principal.has_role(*roles):
                raise PermissionDenied
            with timezone.override(principal.timezone):
                return view(request, principal, *args, **kwargs)

        return wrapper

    return decorate


class UpdateForm(forms.Form):
    status = forms.ChoiceField(choices=UpdateStatus.choices, initial=UpdateStatus.PROGRESS)
    note = forms.CharField(max_length=MAX_NOTE_LENGTH, required=False)
    touch_kind = forms.ChoiceField(choices=[("", "")] + TouchKind.choices, required=False)
    touch_outcome = forms.ChoiceField(choices=[("", "")] + TouchOutcome.choices, required=False)
    value = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    closed_on = forms.DateField(required=False)
    lost_reason = forms.CharField(max_length=100, required=False)
    postponed_until = forms.DateField(required=False)
    week = forms.CharField(max_length=20, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if bool(data.get("touch_kind")) != bool(data.get("touch_outcome")):
            raise forms.ValidationError("A touch needs both its kind and its outcome.")
        return data


class TouchForm(forms.Form):
    kind = forms.ChoiceField(choices=TouchKind.choices)
    outcome = forms.ChoiceField(choices=TouchOutcome.choices)
    note = forms.CharField(max_length=MAX_NOTE_LENGTH, required=False)
    at = forms.DateTimeField(required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])


def compliance_message(found: Compliance, principal: Principal) -> str:
    """What a partner user reads about its standing: ``2 updates missing — report by Friday or
    new leads pause``; empty when compliant."""
    if found.state == COMPLIANT:
        return ""
    count = len(found.missing_leads)
    missing = f"{count} update{'s' if count != 1 else ''} missing"
    if found.state == SUSPENDED:
        if not count:
            return "New leads are paused by the tenant's managers."
        return f"New leads are paused: {missing}. Report them and new leads resume."
    day = (
        found.report_by.astimezone(principal.timezone).strftime("%A")
        if found.report_by
        else "the end of the week"
    )
    return f"{missing} — report by {day} or new leads pause."


def compliance_context(principal: Principal) -> dict[str, Any]:
    """``compliance`` (the partner's ``Compliance``) and ``compliance_message``; nothing for
    members (they report to their managers, not to a rule)."""
    if principal.partner is None:
        return {}
    found = partner_compliance([principal.partner.pk]).get(principal.partner.pk)
    if found is None:
        return {}
    return {"compliance": found, "compliance_message": compliance_message(found, principal)}


def compliance_tiles(principal: Principal) -> list[Tile]:
    """The partner start page's warning: the updates missing and by when (nothing when
    compliant). Registered for partner users by ``leads.views.panels.register``."""
    found = compliance_context(principal).get("compliance")
    if found is None or found.state == COMPLIANT:
        return []
    message = compliance_message(found, principal)
    count = len(found.missing_leads)
    return [
        Tile(
            key="leads.partner_compliance",
            # The count is the tile's number: "1" above "update missing — report by Friday…".
            label=message.removeprefix(f"{count} ") if count else message,
            count=count,
            url=reverse("my-week"),
            hint=f"{found.reason}." if found.reason else "",
            tone="attention",
        )
    ]


def lead_url(lead: Lead) -> str:
    """The lead's own page when it exists, else its person's inquiry page."""
    try:
        return reverse("lead-detail", args=[lead.pk])
    except NoReverseMatch:
        return reverse("inquiry-detail", args=[lead.inquiry_id])


def _is_fetch(request: HttpRequest) -> bool:
    return request.headers.get(FETCH_HEADER) == "fetch"


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return redirect(target)
    return redirect("my-week")


def _lead(principal: Principal, pk: int) -> Lead:
    """A lead the viewer may see (a rep: their own; managers: all), else 404.

    Whether they may write on it is the service's rule (owner or manager: a
    marketer who sees it gets 403).
    """
    lead = lead_list(principal=principal).filter(pk=pk).first()
    if lead is None:
        raise Http404("No such lead.")
    return lead


def _form_error(form: forms.Form) -> str:
    for field, errors in form.errors.items():
        label = "" if field == "__all__" else f"{field.replace('_', ' ').capitalize()}: "
        return f"{label}{errors[0]}"
    return "Check the form."


@require_safe
@portal_page(*OWNER_ROLES)
def my_week_page(request: HttpRequest, principal: Principal) -> HttpResponse:
    week = my_week(principal)
    rules = lead_settings()
    for lead in [*week.awaiting, *week.to_report, *week.reported]:
        lead.url = lead_url(lead)  # type: ignore[attr-defined]
    for lead in week.awaiting:
        # An offer to a partner shows the buyer's company and need, not who they are.
        hidden = contact_hidden(lead, principal)
        lead.contact_hidden = hidden  # type: ignore[attr-defined]
        lead.shown = visible_profile(lead, principal) if hidden else {}  # type: ignore[attr-defined]
    return render(
        request,
        "leads/my_week.html",
        {
            "week": week,
            "lost_reasons": rules.lost_reasons,
            "touch_minimum": rules.touch_minimum,
            "portal": principal.is_partner,
            **compliance_context(principal),
        },
    )


@require_POST
@portal_page(*OWNER_ROLES)
def my_week_update(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    lead = _lead(principal, pk)
    form = UpdateForm(request.POST)
    fetch = _is_fetch(request)
    if not form.is_valid():
        return _refused(request, fetch, _form_error(form))
    data = form.cleaned_data
    touch = (
        {"kind": data["touch_kind"], "outcome": data["touch_outcome"]}
        if data["touch_kind"]
        else None
    )
    try:
        update = record_weekly_update(
            lead=lead,
            status=data["status"],
            note=data["note"],
            touch=touch,
            value=data["value"],
            closed_on=data["closed_on"],
            lost_reason=data["lost_reason"],
            postponed_until=data["postponed_until"],
            week=data["week"] or None,
            by=principal,
        )
    except RuleViolation as refused:
        return _refused(request, fetch, refused.message)
    name = Inquiry.objects.filter(pk=lead.inquiry_id).first()
    done = f"Reported on {name.display_name if name else f'lead {lead.pk}'}."
    if not fetch:
        messages.success(request, done)
        return _back(request)
    return _reported_row(request, principal, update, done)


def _refused(request: HttpRequest, fetch: bool, message: str) -> HttpResponse:
    if fetch:
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    messages.error(request, message)
    return _back(request)


def _reported_row(
    request: HttpRequest, principal: Principal, update: WeeklyUpdate, done: str
) -> HttpResponse:
    """The reported row's HTML, and the week's counter in headers."""
    lead = Lead.objects.select_related("inquiry").get(pk=update.lead_id)
    lead.url = lead_url(lead)  # type: ignore[attr-defined]
    html = render_to_string(
        "leads/_my_week_done_row.html",
        {"lead": lead, "status": update.status, "note": update.note, "fresh": True},
        request=request,
    )
    week = my_week(principal)
    response = HttpResponse(html)
    response["X-Week-Reported"] = str(week.reported_count)
    response["X-Week-Owed"] = str(week.owed)
    response["X-Week-Message"] = done.encode("ascii", "replace").decode()
    return response


@require_POST
@portal_page(*OWNER_ROLES)
def log_touch_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """The touch form of the lead page (``leads/_touch_form.html``): log it, go back."""
    lead = _lead(principal, pk)
    form = TouchForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(form))
        return _back(request)
    try:
        log_touch(
            inquiry=Inquiry.objects.get(pk=lead.inquiry_id),
            lead=lead,
            by=principal,
            **form.cleaned_data,
        )
    except RuleViolation as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "Touch logged.")
    return _back(request)
