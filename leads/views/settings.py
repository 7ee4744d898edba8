"""The tenant's lead settings page (``/settings/leads/``) for admins and managers.

A plain form: it only turns the text into values (a reason per line, the
radio into true/false); every rule is the service's, the same the API's
PATCH calls, and a refused value is shown on its field with nothing saved.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leads.models import BUYER_DECLINED
from leads.selectors.settings import lead_settings
from leads.services.settings import MAX_LOST_REASONS, RANGES, update_lead_settings

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

    def changes(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["postponed_to_nurture"] = data.pop("postponed") == "nurture"
        data["lost_reasons"] = [
            line.strip() for line in data["lost_reasons"].splitlines() if line.strip()
        ]
        return data


def _initial() -> dict[str, Any]:
    rules = lead_settings()
    return {
        "acceptance_business_days": rules.acceptance_business_days,
        "touch_minimum": rules.touch_minimum,
        "touch_cliff": rules.touch_cliff,
        "lost_reasons": "\n".join(rules.lost_reasons),
        "postponed": "nurture" if rules.postponed_to_nurture else "owner",
        "reminder_hours_before": rules.reminder_hours_before,
    }


@member_page(*MANAGERS)
def lead_settings_page(request: HttpRequest, principal: Principal) -> HttpResponse:
    form = LeadSettingsForm(request.POST if request.method == "POST" else None, initial=_initial())
    if form.is_bound and form.is_valid():
        try:
            update_lead_settings(by=principal, **form.changes())
        except RuleViolation as refused:
            field = "postponed" if refused.field == "postponed_to_nurture" else refused.field
            form.add_error(field if field in form.fields else None, refused.message)
        else:
            messages.success(request, "The lead settings are saved.")
            return redirect("lead-settings")
    status = 400 if form.is_bound else 200
    return render(request, "leads/settings.html", {"form": form}, status=status)
