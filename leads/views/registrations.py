"""The deals page (``/deals/``): partners register buyers and follow them; managers read all.

A partner's user gets the "Register a deal" form and its partner's
registrations with what became of each (inquiry stage, lead stage, protected
until, in the viewer's zone). Admins and managers see every partner's, with
the partner's name, and may narrow to one partner. The form only carries text;
every rule is the service's, the same the API's POST calls: bad input is shown
on its field with nothing saved, a refusal is stored and listed.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from inquiries.models import Consent
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Partner
from leadflow.tenancy.pages import page_principal
from leads.models import LeadStage, RegistrationStatus
from leads.selectors.registrations import may_read_registrations, registrations_for
from leads.services.registrations import MAX_NEED_LENGTH, register_deal

PAGE_SIZE = 200
STATUS_LABELS = {
    RegistrationStatus.REGISTERED: "Registered",
    RegistrationStatus.REFUSED: "Refused",
    RegistrationStatus.LEAD: "Became a lead",
    RegistrationStatus.CLOSED: "Closed",
}


def _text(label: str, help_text: str = "", **attrs: Any) -> forms.CharField:
    # No length or format checks here: the service says what is allowed, once.
    return forms.CharField(
        label=label, required=False, help_text=help_text, widget=forms.TextInput(attrs=attrs)
    )


class RegistrationForm(forms.Form):
    company = _text("Company (required)", "At most 200 characters.", autocomplete="organization")
    company_domain = _text(
        "Company web domain", "e.g. acme.com. The buyer's email or the domain is required."
    )
    first_name = _text("First name", autocomplete="off")
    last_name = _text("Last name", autocomplete="off")
    email = forms.CharField(
        label="Email",
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    phone = _text("Phone", "e.g. +49 30 1234567.", inputmode="tel", autocomplete="off")
    country = _text("Country", "Two-letter code, e.g. DE, US or GB.", maxlength=2)
    need = forms.CharField(
        label="What the buyer needs",
        required=False,
        help_text=f"At most {MAX_NEED_LENGTH:,} characters.",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    consent = forms.ChoiceField(
        label="Marketing email consent",
        choices=Consent.choices,
        initial=Consent.UNKNOWN,
        help_text="As the buyer told you.",
    )


def _partner_filter(request: HttpRequest) -> int | None:
    text = request.GET.get("partner", "")
    return int(text) if text.isdigit() else None


@login_required
def deals_page(request: HttpRequest) -> HttpResponse:
    principal = page_principal(request)
    if not may_read_registrations(principal):
        raise PermissionDenied
    with timezone.override(principal.timezone):
        form = None
        status = 200
        if principal.partner is not None:
            form = RegistrationForm(request.POST if request.method == "POST" else None)
            if form.is_bound and form.is_valid():
                try:
                    registration = register_deal(
                        partner=principal.partner, by=principal, **form.cleaned_data
                    )
                except RuleViolation as refused:
                    field = refused.field if refused.field in form.fields else None
                    form.add_error(field, refused.message)
                else:
                    if registration.status == RegistrationStatus.REFUSED:
                        messages.error(request, f"{registration.company}: {registration.reason}")
                    else:
                        messages.success(
                            request,
                            f"{registration.company} is registered: it entered as your "
                            "inquiry and stays yours if it becomes a lead.",
                        )
                    return redirect("deals")
            status = 400 if form.is_bound else 200
        elif request.method == "POST":
            raise PermissionDenied
        partner_id = None if principal.is_partner else _partner_filter(request)
        rows = list(registrations_for(principal, partner_id=partner_id)[:PAGE_SIZE])
        for row in rows:
            row.status_label = STATUS_LABELS.get(row.status, row.status)  # type: ignore[attr-defined]
            row.lead_stage_label = (  # type: ignore[attr-defined]
                LeadStage(row.lead_stage).label if row.lead_stage else ""  # type: ignore[attr-defined]
            )
        partners = [] if principal.is_partner else list(Partner.objects.order_by("name"))
        context = {
            "form": form,
            "rows": rows,
            "partners": partners,
            "partner_id": partner_id,
            "page_size": PAGE_SIZE,
        }
        return render(request, "leads/registrations.html", context, status=status)
