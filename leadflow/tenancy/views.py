"""Browser pages of tenancy: home, tenant switcher, partners, your settings and tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from leadflow.lib import start_page
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy import selectors, services
from leadflow.tenancy.forms import MySettingsForm, NewTokenForm
from leadflow.tenancy.middleware import SESSION_TENANT_KEY
from leadflow.tenancy.models import Role


def _principal(request, *roles: str):
    principal = request.principal
    if principal is None:
        raise Http404("You are not a member of any tenant.")
    if roles and not principal.has_role(*roles):
        raise PermissionDenied
    return principal


@login_required
def home(request):
    """The start page: what needs doing now, as tiles the apps register for the viewer's role."""
    principal = request.principal
    if principal is None:
        return render(request, "tenancy/no_tenant.html", status=403)
    with timezone.override(principal.timezone):
        return render(request, "tenancy/home.html", {"tiles": start_page.tiles_for(principal)})


@login_required
@require_POST
def switch_tenant(request):
    """Select another of the user's tenants; a tenant they are not in is 404."""
    try:
        tenant_id = int(request.POST.get("tenant", ""))
    except ValueError:
        raise Http404("No such tenant.") from None
    membership = next((m for m in request.memberships if m.tenant_id == tenant_id), None)
    if membership is None:
        raise Http404("No such tenant.")
    request.session[SESSION_TENANT_KEY] = tenant_id
    messages.success(request, f"Switched to {membership.tenant.name}.")
    return redirect("home")


@login_required
def partner_list(request):
    _principal(request, Role.ADMIN, Role.MANAGER)
    page = Paginator(selectors.partner_list(), 50).get_page(request.GET.get("page"))
    return render(request, "tenancy/partner_list.html", {"page": page})


@login_required
def partner_detail(request, pk: int):
    _principal(request, Role.ADMIN, Role.MANAGER)
    partner = get_object_or_404(selectors.partner_list(), pk=pk)
    return render(request, "tenancy/partner_detail.html", {"partner": partner})


@login_required
@require_POST
def partner_status(request, pk: int, change: str):
    principal = _principal(request, Role.ADMIN)
    partner = get_object_or_404(selectors.partner_list(), pk=pk)
    service = {"suspend": services.suspend_partner, "reactivate": services.reactivate_partner}
    if change not in service:
        raise Http404
    try:
        service[change](partner=partner, by=principal)
        messages.success(
            request, f"{partner.name} is now {'suspended' if change == 'suspend' else 'active'}."
        )
    except RuleViolation as exc:
        messages.error(request, exc.message)
    return redirect("partner-detail", pk=partner.pk)


@login_required
@require_http_methods(["GET", "POST"])
def my_settings(request):
    """The person's own name and time zone ("Your settings")."""
    principal = _principal(request)
    initial = {"full_name": request.user.full_name, "timezone": request.user.timezone}
    form = MySettingsForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        tenant_timezone=principal.tenant.timezone,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_my_settings(
                full_name=form.cleaned_data["full_name"],
                timezone_name=form.cleaned_data["timezone"],
                by=principal,
            )
        except RuleViolation as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Your settings are saved.")
            return redirect("my-settings")
    status = 400 if form.is_bound else 200
    context = {"form": form, "now": timezone.now()}
    return render(request, "tenancy/my_settings.html", context, status=status)


def _token_page(request, principal, form: NewTokenForm, *, status: int = 200):
    mine = selectors.my_token_list(principal=principal)
    context = {"form": form, "page": Paginator(mine, 50).get_page(request.GET.get("page"))}
    if principal.has_role(Role.ADMIN) and not principal.is_partner:
        members = selectors.member_token_list(principal=principal)
        context["member_page"] = Paginator(members, 50).get_page(request.GET.get("members_page"))
    return render(request, "tenancy/tokens.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def my_tokens(request):
    """The person's API tokens (and, for an admin, every member's); a new one is shown once."""
    principal = _principal(request)
    form = NewTokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.create_my_token(name=form.cleaned_data["name"], by=principal)
        except RuleViolation as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            # Rendered, not redirected: the secret lives in this answer only, never in
            # the session or a message. Not cached, and a reload asks before resending.
            response = render(
                request,
                "tenancy/token_created.html",
                {"token": issued.credential, "secret": issued.secret},
            )
            response["Cache-Control"] = "no-store"
            return response
    return _token_page(request, principal, form, status=400 if form.is_bound else 200)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def token_revoke(request, pk: int):
    """Confirm, then revoke one token: the person's own, or any member's for an admin."""
    principal = _principal(request)
    token = get_object_or_404(selectors.reachable_tokens(principal=principal), pk=pk)
    if request.method == "POST":
        try:
            services.revoke_user_token(token=token, by=principal)
        except RuleViolation as exc:
            messages.error(request, exc.message)
        else:
            owner = "" if token.user_id == principal.user.pk else f" of {token.user.display_name}"
            messages.success(
                request,
                f"Token “{token.name}”{owner} is revoked: requests with it now get 401.",
            )
        return redirect("my-tokens")
    return render(request, "tenancy/token_revoke.html", {"token": token})
