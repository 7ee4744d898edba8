"""The campaigns page: spend and what each campaign produced; create, change, archive.

Marketing roles read it; admins, managers and marketers change it — the same
roles as ``/api/v1/campaigns/``, through the same service functions.
Campaigns are looked up within the tenant: another tenant's is a 404.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from inquiries.models import Campaign, Source
from inquiries.selectors.campaigns import campaign_page_list, campaign_results
from inquiries.selectors.inquiries import campaign_list
from inquiries.services.campaigns import (
    archive_campaign,
    change_campaign,
    create_campaign,
)
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.roles import EDITORS, MARKETING

PAGE_SIZE = 25


class CampaignForm(forms.Form):
    """A campaign's name, channel, spend and dates; the service checks the rules."""

    name = forms.CharField(label="Name", max_length=200)
    source = forms.ChoiceField(label="Channel", choices=Source.choices, initial=Source.OTHER)
    # No min_value here: the service's "Spend cannot be negative." is the one message.
    spend = forms.DecimalField(
        label="Spend",
        max_digits=14,
        decimal_places=2,
        initial=0,
        help_text="What the campaign cost, for cost per inquiry and cost per lead.",
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    starts_on = forms.DateField(
        label="Starts", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(
        label="Ends", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def refuse(self, exc: RuleViolation) -> None:
        """Show a service refusal on its field (or above the form)."""
        self.add_error(exc.field if exc.field in self.fields else None, exc.message)


def _campaign(pk: int) -> Campaign:
    return get_object_or_404(campaign_list(), pk=pk)


@require_safe
@member_page(*MARKETING)
def campaign_list_page(request, principal):
    """The tenant's campaigns (or the archive) with spend, results and cost per lead."""
    archived = request.GET.get("archived") == "1"
    page = Paginator(campaign_page_list(archived=archived), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "rows": campaign_results(list(page.object_list)),
        "archived": archived,
        "may_edit": principal.has_role(*EDITORS),
        "currency": principal.tenant.currency,
    }
    return render(request, "inquiries/campaign_list.html", context)


@require_http_methods(["GET", "POST"])
@member_page(*EDITORS)
def campaign_new_page(request, principal):
    """Register a campaign and what it cost."""
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = create_campaign(**form.cleaned_data, by=principal)
        except RuleViolation as exc:
            form.refuse(exc)
        else:
            messages.success(request, f"Campaign “{campaign.name}” created.")
            return redirect("campaign-list")
    status = 400 if form.errors else 200
    return render(
        request, "inquiries/campaign_form.html", {"form": form, "campaign": None}, status=status
    )


@require_http_methods(["GET", "POST"])
@member_page(*EDITORS)
def campaign_edit_page(request, principal, pk: int):
    """Change a campaign's name, channel, spend or dates."""
    campaign = _campaign(pk)
    initial = {name: getattr(campaign, name) for name in CampaignForm.base_fields}
    form = CampaignForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = change_campaign(campaign=campaign, changes=form.cleaned_data, by=principal)
        except RuleViolation as exc:
            form.refuse(exc)
        else:
            messages.success(request, f"Campaign “{campaign.name}” saved.")
            return redirect("campaign-list")
    status = 400 if form.errors else 200
    return render(
        request,
        "inquiries/campaign_form.html",
        {"form": form, "campaign": campaign},
        status=status,
    )


@require_POST
@member_page(*EDITORS)
def campaign_archive_page(request, principal, pk: int):
    """Archive a campaign (out of the pickers, kept in reports) or restore it."""
    campaign = _campaign(pk)
    wanted = request.POST.get("archived")
    if wanted not in ("0", "1"):
        messages.error(request, "Choose whether to archive or restore the campaign.")
        return redirect("campaign-list")
    campaign = archive_campaign(campaign=campaign, archived=wanted == "1", by=principal)
    if campaign.archived_at:
        messages.success(
            request,
            f"“{campaign.name}” archived: it is no longer offered when adding inquiries to a "
            "campaign; its figures stay under Archived.",
        )
    else:
        messages.success(request, f"“{campaign.name}” restored.")
    return redirect("campaign-list")
