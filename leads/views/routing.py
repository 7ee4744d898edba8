"""Routing pages for admins and managers: territory rules, teams and the default team.

``/settings/routing/`` lists the rules in the router's order (move up/down,
edit) and the teams with their members; the rule and team forms are plain
forms whose text becomes lists and numbers here, while every rule of what is
allowed is the service's (``leads.services.teams``), the same the API calls:
a refused value is shown on its field and nothing is saved.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pycountry
from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from inquiries.services.validation import clean_country
from leadflow.lib import times
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import TIER_WEIGHTS, Membership, Partner, PartnerStatus
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leads.models import RoutingRule, Team, TeamMember
from leads.routing import LeadFacts
from leads.selectors import teams as team_reads
from leads.selectors.routing import RouteDecision, preview_route
from leads.selectors.settings import lead_settings
from leads.services import teams as service


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _or_list(values: list[str]) -> str:
    if len(values) <= 1:
        return "".join(values)
    return f"{', '.join(values[:-1])} or {values[-1]}"


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return f"{country.name} ({code})" if country else code


def criteria_in_words(rule: RoutingRule) -> str:
    """``Country Germany (DE) or Austria (AT); industry Machinery; 50 to 500 employees``."""
    parts = []
    if rule.countries:
        parts.append(f"Country {_or_list([country_name(c) for c in rule.countries])}")
    if rule.regions:
        parts.append(f"region {_or_list(rule.regions)}")
    if rule.industries:
        parts.append(f"industry {_or_list(rule.industries)}")
    low, high = rule.size_min, rule.size_max
    if low is not None and high is not None:
        parts.append(f"{low:,} to {high:,} employees")
    elif low is not None:
        parts.append(f"at least {low:,} employees")
    elif high is not None:
        parts.append(f"at most {high:,} employees")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]


def tenant_today(principal: Principal) -> date:
    """Leave dates are days of the tenant's calendar."""
    return timezone.now().astimezone(ZoneInfo(principal.tenant.timezone)).date()


# --- the tester: "who would get this lead?" ---------------------------------------------


class TesterForm(forms.Form):
    """A lead's facts and its appointment's time (in the tenant's zone); all optional."""

    country = forms.CharField(
        label="Country", required=False, max_length=20, help_text="Two-letter code, e.g. DE."
    )
    region = forms.CharField(label="Region", required=False, max_length=100)
    industry = forms.CharField(label="Industry", required=False, max_length=100)
    company_size = forms.IntegerField(label="Company size", required=False, min_value=0)
    day = forms.DateField(
        label="Appointment day",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    time = forms.TimeField(
        label="Time",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )

    def clean_country(self) -> str:
        text = self.cleaned_data["country"].strip()
        if not text:
            return ""
        try:
            return clean_country(text)
        except ValueError as refused:
            raise forms.ValidationError(str(refused)) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("time") and not data.get("day"):
            self.add_error("day", "Give the day of the appointment too.")
        return data


def _tester(request: HttpRequest, principal: Principal, initial: dict[str, Any]) -> dict[str, Any]:
    """The tester's form and, once asked (a ``try-`` field in the query), its decision."""
    asked = any(key.startswith("try-") for key in request.GET)
    form = TesterForm(request.GET if asked else None, initial=initial, prefix="try")
    tz = times.zone(principal.tenant.timezone)
    decision: RouteDecision | None = None
    starts_at = None
    if asked and form.is_valid():
        data = form.cleaned_data
        if data.get("day"):
            clock = data.get("time") or time(10, 0)
            starts_at = datetime.combine(data["day"], clock).replace(tzinfo=tz)
        decision = preview_route(
            facts=LeadFacts(
                country=data["country"],
                region=data["region"].strip(),
                industry=data["industry"].strip(),
                company_size=data["company_size"],
            ),
            starts_at=starts_at,
            duration_minutes=30,
        )
    return {
        "form": form,
        "decision": decision,
        "starts_at": starts_at,
        "zone": principal.tenant.timezone,
    }


# --- the overview ------------------------------------------------------------------------


def _place_rows(places: list[TeamMember], today: date) -> list[dict[str, Any]]:
    rows = []
    for place in places:
        if place.membership_id:
            membership = place.membership
            assert membership is not None
            rows.append(
                {
                    "name": membership.user.display_name,
                    "email": membership.user.email,
                    "kind": membership.role_label,
                    "weight": place.weight or 1,
                    "weight_given": place.weight is not None,
                    "on_leave": membership.on_leave(today),
                    "inactive": not membership.is_active,
                }
            )
        else:
            partner = place.partner
            assert partner is not None
            rows.append(
                {
                    "name": partner.name,
                    "email": "",
                    "kind": f"Partner, {partner.get_tier_display()}",
                    "weight": place.weight or TIER_WEIGHTS[partner.tier],
                    "weight_given": place.weight is not None,
                    "on_leave": False,
                    "inactive": partner.status == PartnerStatus.SUSPENDED,
                }
            )
    return rows


def _overview_context(principal: Principal) -> dict[str, Any]:
    teams = list(team_reads.team_list())
    places = team_reads.members_of(teams)
    today = tenant_today(principal)
    rules = list(team_reads.rule_list())
    settings = lead_settings()
    return {
        "rules": [{"rule": rule, "criteria": criteria_in_words(rule)} for rule in rules],
        "teams": [{"team": team, "members": _place_rows(places[team.pk], today)} for team in teams],
        "team_choices": teams,
        "default_team_id": settings.default_team_id,
        "default_team": next((t for t in teams if t.pk == settings.default_team_id), None),
    }


@member_page(*MANAGERS)
def routing_page(request: HttpRequest, principal: Principal) -> HttpResponse:
    context = _overview_context(principal)
    context["tester"] = _tester(request, principal, {})
    return render(request, "leads/routing/overview.html", context)


@require_POST
@member_page(*MANAGERS)
def default_team_page(request: HttpRequest, principal: Principal) -> HttpResponse:
    chosen = request.POST.get("default_team", "")
    team = None
    if chosen:
        team = Team.objects.filter(pk=chosen).first() if chosen.isdigit() else None
        if team is None:
            messages.error(request, "Choose one of the teams listed.")
            return redirect("routing")
    service.set_default_team(team=team, by=principal)
    messages.success(
        request,
        f"Leads matching no rule now go to {team.name}."
        if team
        else "Leads matching no rule now go round robin over all active reps.",
    )
    return redirect("routing")


def _rule_or_404(pk: int) -> RoutingRule:
    rule = RoutingRule.objects.select_related("team").filter(pk=pk).first()
    if rule is None:
        raise Http404("No such rule.")
    return rule


def _team_or_404(pk: int) -> Team:
    team = Team.objects.filter(pk=pk).first()
    if team is None:
        raise Http404("No such team.")
    return team


@require_POST
@member_page(*MANAGERS)
def rule_move_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    rule = _rule_or_404(pk)
    try:
        service.move_rule(rule=rule, direction=request.POST.get("direction", ""), by=principal)
    except RuleViolation as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"“{rule.name}” is now rule {rule.position}.")
    return redirect(f"{reverse('routing')}#rule-{rule.pk}")


@require_POST
@member_page(*MANAGERS)
def rule_delete_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    rule = _rule_or_404(pk)
    service.delete_rule(rule=rule, by=principal)
    messages.success(request, f"The rule “{rule.name}” is deleted.")
    return redirect("routing")


@require_POST
@member_page(*MANAGERS)
def team_delete_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    team = _team_or_404(pk)
    try:
        service.delete_team(team=team, by=principal)
    except RuleViolation as refused:
        messages.error(request, refused.message)
        return redirect("routing-team-edit", pk=team.pk)
    messages.success(request, f"The team {team.name} is deleted.")
    return redirect("routing")


# --- rules ---------------------------------------------------------------------------------


class RuleForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    team = forms.ModelChoiceField(
        label="Team",
        queryset=Team.objects.none(),
        empty_label="Choose a team",
        help_text="Leads matching this rule go to this team.",
    )
    countries = forms.CharField(
        label="Countries",
        required=False,
        help_text="Two-letter codes, separated by commas, e.g. DE, AT, CH. Empty: any country.",
    )
    regions = forms.CharField(
        label="Regions",
        required=False,
        help_text="Separated by commas, e.g. Bavaria, Tyrol. Empty: any region.",
    )
    industries = forms.CharField(
        label="Industries",
        required=False,
        help_text="Separated by commas, e.g. Machinery, Logistics. Empty: any industry.",
    )
    size_min = forms.IntegerField(
        label="Company size from", required=False, help_text="Employees; empty: no lower bound."
    )
    size_max = forms.IntegerField(
        label="Company size to", required=False, help_text="Employees; empty: no upper bound."
    )
    is_active = forms.BooleanField(
        label="Active (the router uses this rule)", required=False, initial=True
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = team_reads.team_list()  # type: ignore[attr-defined]

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for name in ("countries", "regions", "industries"):
            data[name] = _split(data[name])
        return data


def _rule_initial(rule: RoutingRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "team": rule.team_id,
        "countries": ", ".join(rule.countries),
        "regions": ", ".join(rule.regions),
        "industries": ", ".join(rule.industries),
        "size_min": rule.size_min,
        "size_max": rule.size_max,
        "is_active": rule.is_active,
    }


def _rule_form_page(
    request: HttpRequest, principal: Principal, rule: RoutingRule | None
) -> HttpResponse:
    initial = _rule_initial(rule) if rule else {"is_active": True}
    form = RuleForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_bound and form.is_valid():
        try:
            if rule is None:
                rule = service.create_rule(**form.values(), by=principal)
                messages.success(
                    request, f"The rule “{rule.name}” is added as rule {rule.position}."
                )
            else:
                service.update_rule(rule=rule, **form.values(), by=principal)
                messages.success(request, f"The rule “{rule.name}” is saved.")
        except RuleViolation as refused:
            form.add_error(refused.field if refused.field in form.fields else None, refused.message)
        else:
            return redirect("routing-rule-edit", pk=rule.pk)
    context = {"form": form, "rule": rule, "has_teams": team_reads.team_list().exists()}
    if rule is not None:
        context["tester"] = _tester(request, principal, _tester_initial(rule))
    return render(
        request, "leads/routing/rule_form.html", context, status=400 if form.is_bound else 200
    )


def _tester_initial(rule: RoutingRule) -> dict[str, Any]:
    """A lead this rule would catch, to start from."""
    return {
        "country": rule.countries[0] if rule.countries else "",
        "region": rule.regions[0] if rule.regions else "",
        "industry": rule.industries[0] if rule.industries else "",
        "company_size": rule.size_min if rule.size_min is not None else rule.size_max,
    }


@member_page(*MANAGERS)
def rule_new_page(request: HttpRequest, principal: Principal) -> HttpResponse:
    return _rule_form_page(request, principal, None)


@member_page(*MANAGERS)
def rule_edit_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    return _rule_form_page(request, principal, _rule_or_404(pk))


# --- teams ---------------------------------------------------------------------------------


def _candidates() -> list[dict[str, Any]]:
    """Everyone who may be put in a team, people first, each with its form field names."""
    people: list[Membership | Partner] = [
        *team_reads.member_choices(),
        *team_reads.partner_choices(),
    ]
    rows = []
    for who in people:
        if isinstance(who, Membership):
            key = f"m{who.pk}"
            rows.append(
                {
                    "key": key,
                    "who": who,
                    "name": who.user.display_name,
                    "kind": who.get_role_display(),
                    "default_weight": 1,
                }
            )
        else:
            key = f"p{who.pk}"
            suspended = " (suspended)" if who.status == PartnerStatus.SUSPENDED else ""
            rows.append(
                {
                    "key": key,
                    "who": who,
                    "name": who.name,
                    "kind": f"Partner, {who.get_tier_display()}{suspended}",
                    "default_weight": TIER_WEIGHTS[who.tier],
                }
            )
    return rows


def _read_members(
    request: HttpRequest, candidates: list[dict[str, Any]], current: list[str]
) -> tuple[list[tuple[Membership | Partner, int | None]], dict[str, str]]:
    """The ticked people in the team's current order (newcomers after), with their weights.

    A weight that is not a whole number is an error on its row (returned by key).
    """
    errors: dict[str, str] = {}
    ticked = {row["key"]: row for row in candidates if request.POST.get(f"member_{row['key']}")}
    order = [key for key in current if key in ticked] + [
        key for key in ticked if key not in current
    ]
    chosen: list[tuple[Membership | Partner, int | None]] = []
    for key in order:
        text = request.POST.get(f"weight_{key}", "").strip()
        weight: int | None = None
        if text:
            try:
                weight = int(text)
            except ValueError:
                errors[key] = "Give a whole number from 1 to 10, or leave it empty."
                continue
        chosen.append((ticked[key]["who"], weight))
    return chosen, errors


def _team_form_page(request: HttpRequest, principal: Principal, team: Team | None) -> HttpResponse:
    candidates = _candidates()
    places = team_reads.members_of([team])[team.pk] if team else []
    current = {place.key: place for place in places}
    name_error = ""
    member_error = ""
    row_errors: dict[str, str] = {}
    name = team.name if team else ""
    if request.method == "POST":
        name = request.POST.get("name", "")
        chosen, row_errors = _read_members(request, candidates, list(current))
        if not row_errors:
            try:
                team = service.save_team(team=team, name=name, members=chosen, by=principal)
            except RuleViolation as refused:
                if refused.field == "name":
                    name_error = refused.message
                else:
                    member_error = refused.message
            else:
                messages.success(request, f"The team {team.name} is saved.")
                return redirect("routing-team-edit", pk=team.pk)
    rows = []
    for row in candidates:
        key = row["key"]
        place = current.get(key)
        if request.method == "POST":
            checked = bool(request.POST.get(f"member_{key}"))
            weight = request.POST.get(f"weight_{key}", "")
        else:
            checked = place is not None
            weight = "" if place is None or place.weight is None else str(place.weight)
        rows.append({**row, "checked": checked, "weight": weight, "error": row_errors.get(key, "")})
    failed = bool(name_error or member_error or row_errors)
    context = {
        "team": team if team and team.pk else None,
        "name": name,
        "name_error": name_error,
        "member_error": member_error,
        "failed": failed,
        "rows": rows,
    }
    return render(request, "leads/routing/team_form.html", context, status=400 if failed else 200)


@member_page(*MANAGERS)
def team_new_page(request: HttpRequest, principal: Principal) -> HttpResponse:
    return _team_form_page(request, principal, None)


@member_page(*MANAGERS)
def team_edit_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    return _team_form_page(request, principal, _team_or_404(pk))
