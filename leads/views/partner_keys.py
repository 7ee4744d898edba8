"""``/partner/keys/``: a partner's users manage their partner's API keys (the portal).

List (name, created, last used, revoke) and create; a new key is shown once,
in the answer to the POST that made it (never stored, never in a message).
Keys are issued and revoked by the tenancy services, as the API does. Only
the users of a partner open these pages, and only their own partner's keys
are found: another partner's key (or another tenant's) is a 404.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from leadflow.lib.rules import RuleViolation
from leadflow.tenancy import selectors, services
from leadflow.tenancy.models import ApiKey
from leadflow.tenancy.pages import page_principal
from leadflow.tenancy.principal import Principal


class NewKeyForm(forms.Form):
    name = forms.CharField(
        label="Key name",
        max_length=100,
        help_text="What it is for, so you recognise it later: “CRM sync”, “ERP”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


def _partner_principal(request: HttpRequest) -> Principal:
    """The acting partner user; anyone else is refused (403)."""
    principal = page_principal(request)
    if not principal.is_partner or principal.user is None:
        raise PermissionDenied
    return principal


def _keys(principal: Principal) -> QuerySet[ApiKey]:
    assert principal.partner is not None
    return selectors.api_key_list().filter(partner_id=principal.partner.pk)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def partner_keys_page(request: HttpRequest) -> HttpResponse:
    principal = _partner_principal(request)
    form = NewKeyForm(request.POST if request.method == "POST" else None)
    with timezone.override(principal.timezone):
        if request.method == "POST" and form.is_valid():
            try:
                issued = services.issue_api_key(
                    name=form.cleaned_data["name"], partner=principal.partner, by=principal
                )
            except RuleViolation as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                # Rendered, not redirected: the key lives in this answer only.
                response = render(
                    request,
                    "leads/partner_keys_created.html",
                    {"key": issued.credential, "secret": issued.secret},
                )
                response["Cache-Control"] = "no-store"
                return response
        return render(
            request,
            "leads/partner_keys.html",
            {"form": form, "keys": list(_keys(principal))},
            status=400 if form.is_bound else 200,
        )


@login_required
@require_POST
def partner_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    principal = _partner_principal(request)
    key = get_object_or_404(_keys(principal), pk=pk)
    try:
        services.revoke_api_key(api_key=key, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Key “{key.name}” is revoked: requests with it now get 401.")
    return redirect("partner-keys")
