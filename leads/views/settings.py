"""The tenant's lead settings page (``/settings/leads/``) for admins and managers.

A plain form: it only turns the text into values (a reason per line, the
radio into true/false); every rule is the service's, the same the API's
PATCH calls, and a refused value is shown on its field with nothing saved.
"""

from __future__ import annotations

from typing import Any

import pycountry
from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import Resolver404, resolve
from django.views.decorators.http import require_safe

from inquiries.models import PhoneJob
from inquiries.selectors.phones import latest_phone_job
from leadflow.lib import times
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leads.models import BUYER_DECLINED, LeadSettings
from leads.selectors.settings import lead_settings
from leads.services.settings import MAX_LOST_REASONS, RANGES, update_lead_settings

ROUTING_PAGE = "/settings/routing/"

COUNTRY_CHOICES = [("", "None: numbers need their +country code")] + sorted(
    ((country.alpha_2, country.name) for country in pycountry.countries), key=lambda c: c[1]
)

POSTPONED_CHOICES = [
    ("owner", "Back into its owner's week"),
    ("nurture", "To nurture"),
]


def _number(label: str, lowest: int, highest: int, help_text: str) -> forms.IntegerField:
    # No min/max validators here: the service says what is allowed, once.
    return forms.IntegerField(
        label=label,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"min": lowest, "max": highest}),
    )


class LeadSettingsForm(forms.Form):
    acceptance_business_days = _number(
        "Acceptance window (business days)",
        *RANGES["acceptance_business_days"],
        "1 to 10. Monday to Friday in the tenant's time zone.",
    )
    touch_minimum = _number(
        "Touch minimum",
        *RANGES["touch_minimum"],
        f'1 to 30. Below it a lead can be lost only as "{BUYER_DECLINED}".',
    )
    touch_cliff = _number("Touch cliff", 1, 30, "1 to the touch minimum: where most reps give up.")
    lost_reasons = forms.CharField(
        label="Lost reasons",
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=f"One per line, at most {MAX_LOST_REASONS}, each up to 100 characters; "
        f'"{BUYER_DECLINED}" must be one of them.',
    )
    postponed = forms.ChoiceField(
        label="A postponed lead, on its date, goes",
        choices=POSTPONED_CHOICES,
        widget=forms.RadioSelect,
    )
    reminder_hours_before = _number(
        "Meeting reminder (hours before)",
        *RANGES["reminder_hours_before"],
        "1 to 168 (a week).",
    )
    recall_after_days = _number(
        "Recall idle leads after (days)",
        *RANGES["recall_after_days"],
        "0 to 90. An accepted lead with no touch or update for this many days goes to "
        "another owner. 0: never recall idle leads.",
    )
    cost_per_lead = forms.DecimalField(
        label="Cost per lead",
        help_text="0 to 100,000, to the cent: what one lead costs marketing. Reports price "
        "unworked leads with it.",
        widget=forms.NumberInput(attrs={"min": 0, "max": 100000, "step": "0.01"}),
    )
    suspend_after_weeks = forms.IntegerField(
        label="Suspend partners after (weeks with missing updates)",
        required=False,
        help_text="1 to 8 consecutive weeks. A partner is warned the week before, and gets "
        "new leads again once every missed update is reported.",
        widget=forms.NumberInput(
            attrs={"min": RANGES["suspend_after_weeks"][0], "max": RANGES["suspend_after_weeks"][1]}
        ),
    )
    recall_on_suspension = forms.BooleanField(
        label="On suspension, give the partner's open leads to other owners",
        required=False,
    )
    # Not required: left empty, the protection stays as it is.
    protection_days = forms.IntegerField(
        label="Deal registration protection (days)",
        required=False,
        help_text="0 to 365. A lead from a partner's deal registration stays that partner's "
        "this long and is never recalled. 0: no protection.",
        widget=forms.NumberInput(
            attrs={"min": RANGES["protection_days"][0], "max": RANGES["protection_days"][1]}
        ),
    )
    timezone = forms.ChoiceField(
        label="The organisation's time zone",
        help_text="Days, weeks, acceptance windows and reminders follow it; people may pick "
        "their own zone to read times in.",
    )

    country = forms.ChoiceField(
        label="The organisation's country",
        required=False,
        help_text="Phone numbers written without a country code are read as this country's "
        "(030 1234567 and +49 30 1234567 are one person in Germany). Changing it parses "
        "every stored number again in the background and lists the numbers now shared.",
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cost_per_lead"].label = f"Cost per lead ({currency})"
        self.fields["timezone"].choices = [(name, name) for name in times.zone_names()]
        self.fields["country"].choices = COUNTRY_CHOICES

    def changes(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["postponed_to_nurture"] = data.pop("postponed") == "nurture"
        if data.get("protection_days") is None:
            data.pop("protection_days", None)
        data["lost_reasons"] = [
            line.strip() for line in data["lost_reasons"].splitlines() if line.strip()
        ]
        if data.get("suspend_after_weeks") is None:
            data.pop("suspend_after_weeks", None)  # left empty: unchanged
        return data


def _initial(rules: LeadSettings) -> dict[str, Any]:
    return {
        "acceptance_business_days": rules.acceptance_business_days,
        "touch_minimum": rules.touch_minimum,
        "touch_cliff": rules.touch_cliff,
        "lost_reasons": "\n".join(rules.lost_reasons),
        "postponed": "nurture" if rules.postponed_to_nurture else "owner",
        "reminder_hours_before": rules.reminder_hours_before,
        "recall_after_days": rules.recall_after_days,
        "cost_per_lead": rules.cost_per_lead,
        "suspend_after_weeks": rules.suspend_after_weeks,
        "recall_on_suspension": rules.recall_on_suspension,
        "protection_days": rules.protection_days,
    }


def _routing_page() -> str | None:
    """The routing rules page, where the default team is set, if this install has it."""
    try:
        resolve(ROUTING_PAGE)
    except Resolver404:
        return None
    return ROUTING_PAGE


@member_page(*MANAGERS)
def lead_settings_page(request: HttpRequest, principal: Principal) -> HttpResponse:
    rules = lead_settings()
    before_country = principal.tenant.country
    form = LeadSettingsForm(
        request.POST if request.method == "POST" else None,
        initial={
            **_initial(rules),
            "timezone": principal.tenant.timezone,
            "country": principal.tenant.country,
        },
        currency=principal.tenant.currency,
    )
    if form.is_bound and form.is_valid():
        try:
            update_lead_settings(by=principal, **form.changes())
        except RuleViolation as refused:
            field = "postponed" if refused.field == "postponed_to_nurture" else refused.field
            form.add_error(field if field in form.fields else None, refused.message)
        else:
            messages.success(request, "The lead settings are saved.")
            if form.cleaned_data["country"] != before_country:
                messages.info(
                    request,
                    "Stored phone numbers are being parsed again in the new country; "
                    "the progress is shown below.",
                )
            return redirect("lead-settings")
    status = 400 if form.is_bound else 200
    context = {
        "form": form,
        "default_team": rules.default_team if rules.default_team_id is not None else None,
        "routing_page": _routing_page(),
        "phone_job": latest_phone_job(),
    }
    return render(request, "leads/settings.html", context, status=status)


@require_safe
@member_page(*MANAGERS)
def phone_job_progress_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """How far parsing the phones again has come, and the numbers now shared; polled."""
    job = get_object_or_404(PhoneJob.objects.all(), pk=pk)
    return render(request, "leads/_phone_job.html", {"phone_job": job})
