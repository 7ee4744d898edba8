"""The manager's page of the team's leads: filter, reassign one or many, reopen.

The list and its counts come from ``leads.selectors.team`` (the API's
filters too); the two actions call the owner-change and reopen services the
API calls. A refused action shows its message and changes nothing (the
services are all or nothing). Plain forms: the row checkboxes belong to the
reassign form by their ``form`` attribute, so each closed row keeps its own
small reopen form.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from leadflow.lib import weeks
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import PartnerStatus
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leadflow.tenancy.selectors import member_list, partner_list
from leads.models import Lead, LeadStage
from leads.selectors.leads import lead_list
from leads.selectors.team import (
    ID,
    ID_MAX,
    STAGE_CHOICES,
    LeadFilters,
    Owner,
    parse_owner,
    team_counts,
    team_leads,
)
from leads.services.booking import REP_ROLES
from leads.services.closing import reopen_lead
from leads.services.ownership import reassign_leads

PAGE_SIZE = 50


class CappedRows:
    """The list for the paginator with its count already known (capped at 10,000):
    pages past the cap are not offered, and no ``COUNT(*)`` reads the whole tenant."""

    ordered = True

    def __init__(self, leads: QuerySet[Lead], count: int) -> None:
        self.leads, self._count = leads, count

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: slice) -> QuerySet[Lead]:
        return self.leads[index]


def owner_options() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The tenant's own active reps (and managers, admins) and its active partners, by name."""
    reps = member_list().filter(is_active=True, partner__isnull=True, role__in=REP_ROLES)
    partners = partner_list().filter(status=PartnerStatus.ACTIVE)
    return (
        [(f"rep:{m.user_id}", m.user.display_name) for m in reps],
        [(f"partner:{p.pk}", p.name) for p in partners],
    )


class TeamFilterForm(forms.Form):
    owner = forms.CharField(required=False)
    stage = forms.ChoiceField(required=False, choices=[("", "Any stage"), *STAGE_CHOICES])
    missing = forms.BooleanField(required=False, label="Missing this week's update")
    breached = forms.BooleanField(required=False, label="Acceptance breached")
    stale = forms.BooleanField(required=False, label="Stale (14 days untouched)")
    no_show = forms.BooleanField(required=False, label="No-show")

    def clean_owner(self) -> Owner | None:
        text = self.cleaned_data["owner"]
        if not text:
            return None
        try:
            return parse_owner(text)
        except RuleViolation as refused:
            raise forms.ValidationError(refused.message) from None

    def filters(self) -> LeadFilters:
        if not self.is_valid():
            return LeadFilters()
        data = self.cleaned_data
        return LeadFilters(
            owner=data["owner"],
            stage=data["stage"],
            missing=data["missing"],
            breached=data["breached"],
            stale=data["stale"],
            no_show=data["no_show"],
        )


def _buyer(profile: dict) -> str:
    name = f"{profile.get('first_name', '')} {profile.get('last_name', '')}".strip()
    return name or profile.get("email", "") or "—"


@member_page(*MANAGERS)
def team_page(request: HttpRequest, principal: Principal) -> HttpResponse:
    form = TeamFilterForm(request.GET)
    filters = form.filters()
    counts = team_counts(principal, filters)
    rows_of = CappedRows(team_leads(principal, filters), counts["total"].value)
    page = Paginator(rows_of, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "lead": lead,
            "buyer": _buyer(lead.profile or {}),
            "company": (lead.profile or {}).get("company", ""),
            "owner": lead.rep.display_name
            if lead.rep
            else (lead.partner.name if lead.partner else ""),
            "week": weeks.week_label(lead.last_update_week) if lead.last_update_week else "",
            "closed": not lead.is_open,
            "awaiting": lead.stage == LeadStage.AWAITING_ACCEPTANCE,
        }
        for lead in page.object_list
    ]
    reps, partners = owner_options()
    return render(
        request,
        "leads/team.html",
        {
            "form": form,
            "filters": filters,
            "page": page,
            "rows": rows,
            "counts": counts,
            "reps": reps,
            "partners": partners,
            "owner_value": filters.owner.value if filters.owner else "",
            "filtered": request.GET.urlencode() not in ("", f"page={request.GET.get('page')}"),
            "back": request.get_full_path(),
        },
    )


def _back(request: HttpRequest) -> HttpResponseRedirect:
    """Back to the list as it was filtered (only ever a path of this page)."""
    target = request.POST.get("next", "")
    team = reverse("lead-team")
    return HttpResponseRedirect(target if target.startswith(team) else team)


def _owner_from(text: str) -> dict:
    """``rep:<user id>`` / ``partner:<id>`` → the ``rep=``/``partner=`` of the service."""
    owner = parse_owner(text, field="rep")
    if owner.kind == "rep":
        member = member_list().filter(user_id=owner.id).select_related("user").first()
        if member is None:
            raise RuleViolation(field="rep", code="not_found", message="No such member.")
        return {"rep": member.user}
    if owner.kind == "partner":
        partner = partner_list().filter(pk=owner.id).first()
        if partner is None:
            raise RuleViolation(field="partner", code="not_found", message="No such partner.")
        return {"partner": partner}
    raise RuleViolation(
        field="rep", code="required", message="Choose the rep or the partner to give them to."
    )


@require_POST
@member_page(*MANAGERS)
def team_reassign_page(request: HttpRequest, principal: Principal) -> HttpResponse:
    try:
        raw_ids = request.POST.getlist("ids")
        if not all(ID.fullmatch(raw) and int(raw) <= ID_MAX for raw in raw_ids):
            raise RuleViolation(
                field="leads", code="invalid", message="Choose leads from the list."
            )
        owner = _owner_from(request.POST.get("owner", ""))
        changed = reassign_leads(lead_ids=[int(raw) for raw in raw_ids], by=principal, **owner)
    except RuleViolation as refused:
        messages.error(request, f"Nothing was reassigned: {refused.message}")
        return _back(request)
    name = owner["rep"].display_name if "rep" in owner else owner["partner"].name
    count = len(set(request.POST.getlist("ids")))
    same = count - changed
    note = f" ({same} already {'was' if same == 1 else 'were'} theirs)" if same else ""
    messages.success(
        request, f"{changed} lead{'' if changed == 1 else 's'} reassigned to {name}{note}."
    )
    return _back(request)


@require_POST
@member_page(*MANAGERS)
def team_reopen_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    lead = get_object_or_404(lead_list(principal=principal), pk=pk)
    try:
        reopen_lead(lead=lead, by=principal, reason=request.POST.get("reason", "") or "reopened")
    except RuleViolation as refused:
        messages.error(request, f"Lead {lead.pk} was not reopened: {refused.message}")
        return _back(request)
    messages.success(request, f"Lead {lead.pk} is open again (accepted) with its owner.")
    return _back(request)
