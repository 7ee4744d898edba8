"""Browser pages of tenancy: home, switcher, partners, settings, tokens, members, invitations."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from leadflow.lib import start_page, times
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy import selectors, services
from leadflow.tenancy.context import tenant_context
from leadflow.tenancy.forms import (
    AcceptInvitationForm,
    InviteForm,
    MySettingsForm,
    NewTokenForm,
    RoleForm,
    role_value,
)
from leadflow.tenancy.middleware import SESSION_TENANT_KEY
from leadflow.tenancy.models import InvitationStatus, PartnerStatus, PartnerTier, Role
from leadflow.tenancy.pages import page_principal
from leadflow.tenancy.roles import MANAGERS


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
    page_principal(request, *MANAGERS)
    page = Paginator(selectors.partner_list(), 50).get_page(request.GET.get("page"))
    return render(request, "tenancy/partner_list.html", {"page": page})


class PartnerRoutingForm(forms.Form):
    """A partner's tier and capacity; the rules are ``set_partner_routing``'s."""

    tier = forms.ChoiceField(
        label="Tier",
        help_text="The router gives the partner this many turns for a rep's one.",
    )
    capacity = forms.IntegerField(
        label="Capacity (open leads)",
        required=False,
        min_value=None,
        help_text="The most open leads it may hold at once, 0 to 100,000. Empty: no cap.",
        widget=forms.NumberInput(attrs={"min": 0, "max": 100_000}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [
            (tier, selectors.tier_weight_label(tier)) for tier in PartnerTier.values
        ]


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def partner_detail(request, pk: int):
    """One partner: its users, status, and (admins and managers) its tier and capacity."""
    principal = page_principal(request, *MANAGERS)
    partner = get_object_or_404(selectors.partner_list(), pk=pk)
    form = PartnerRoutingForm(
        request.POST if request.method == "POST" else None,
        initial={"tier": partner.tier, "capacity": partner.capacity},
    )
    if request.method == "POST" and form.is_valid():
        try:
            partner = services.set_partner_routing(
                partner=partner,
                tier=form.cleaned_data["tier"],
                capacity=form.cleaned_data["capacity"],
                by=principal,
            )
        except RuleViolation as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request, f"{partner.name} is now {selectors.tier_weight_label(partner.tier)}."
            )
            return redirect("partner-detail", pk=partner.pk)
    users = selectors.member_list().filter(partner=partner)
    context = {
        "partner": partner,
        "users": users,
        "form": form,
        "tier_label": selectors.tier_weight_label(partner.tier),
    }
    return render(
        request, "tenancy/partner_detail.html", context, status=400 if form.errors else 200
    )


@login_required
@require_POST
def partner_status(request, pk: int, change: str):
    principal = page_principal(request, *MANAGERS)
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
    principal = page_principal(request)
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


# --- Members and invitations (admins) -----------------------------------------------


def _active_partners():
    return list(selectors.partner_list().filter(status=PartnerStatus.ACTIVE))


def _base_url(request) -> str:
    return request.build_absolute_uri("/")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def my_tokens(request):
    """The person's API tokens (and, for an admin, every member's); a new one is shown once."""
    principal = page_principal(request)
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
def member_list(request):
    """The tenant's members and open invitations; admins invite people here.

    Managers read the list (who is away, who is at capacity) but invite nobody.
    """
    principal = page_principal(request, Role.ADMIN, Role.MANAGER)
    is_admin = principal.has_role(Role.ADMIN)
    if request.method == "POST" and not is_admin:
        raise PermissionDenied
    partners = _active_partners()
    initial = {}
    if request.GET.get("partner", "").isdigit():
        initial["role"] = f"partner:{request.GET['partner']}"
    form = InviteForm(
        request.POST if request.method == "POST" else None, partners=partners, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        role, partner = form.cleaned_data["role"]
        try:
            issued = services.invite_member(
                email=form.cleaned_data["email"],
                role=role,
                partner=partner,
                base_url=_base_url(request),
                by=principal,
            )
        except RuleViolation as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            invitation = issued.invitation
            messages.success(
                request,
                f"Invited {invitation.email} as {invitation.role_label}; the link is on its way "
                "by email.",
            )
            return redirect("member-list")
    page = Paginator(selectors.member_list(), 100).get_page(request.GET.get("page"))
    today = services.tenant_today(principal.tenant)
    for member in page.object_list:
        member.leave_badge = selectors.leave_badge(member, today)
    context = {
        "page": page,
        "invitations": selectors.with_email_state(list(selectors.open_invitation_list()[:200]))
        if is_admin
        else [],
        "form": form,
        "is_admin": is_admin,
    }
    return render(request, "tenancy/member_list.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def token_revoke(request, pk: int):
    """Confirm, then revoke one token: the person's own, or any member's for an admin."""
    principal = page_principal(request)
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


class AvailabilityForm(forms.Form):
    """A member's leave, capacity and time zone; the rules are ``set_member_availability``'s."""

    leave_from = forms.DateField(
        label="On leave from",
        required=False,
        help_text="The first day away. Empty: no leave.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    leave_until = forms.DateField(
        label="Until (included)",
        required=False,
        help_text="The last day away. Empty: until further notice.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    capacity = forms.IntegerField(
        label="Capacity (open leads)",
        required=False,
        help_text="The most open leads they may hold at once, 0 to 1000. Empty: no cap.",
        widget=forms.NumberInput(attrs={"min": 0, "max": 1000}),
    )
    timezone = forms.ChoiceField(label="Time zone", required=False)

    def __init__(self, *args, tenant_timezone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [
            ("", f"The organisation's: {tenant_timezone}"),
            *((name, name) for name in times.zone_names()),
        ]


def _availability_form(request, membership, principal) -> AvailabilityForm:
    posted = request.method == "POST" and request.POST.get("form") == "availability"
    return AvailabilityForm(
        request.POST if posted else None,
        prefix="availability",
        tenant_timezone=principal.tenant.timezone,
        initial={
            "leave_from": membership.leave_from,
            "leave_until": membership.leave_until,
            "capacity": membership.capacity,
            "timezone": membership.user.timezone,
        },
    )


def _save_availability(request, membership, principal, form: AvailabilityForm):
    """Save the availability form; the redirect when saved, else ``None`` (errors on the form)."""
    if not form.is_valid():
        return None
    try:
        membership = services.set_member_availability(
            membership=membership,
            leave_from=form.cleaned_data["leave_from"],
            leave_until=form.cleaned_data["leave_until"],
            capacity=form.cleaned_data["capacity"],
            timezone=form.cleaned_data["timezone"],
            by=principal,
        )
    except RuleViolation as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None
    messages.success(request, f"The availability of {membership.user.display_name} is saved.")
    return redirect("member-detail", pk=membership.pk)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def member_detail(request, pk: int):
    """One member: change their role (or partner), availability, deactivate or reactivate them.

    Managers see the page and set availability (leave, capacity, zone); the role and the
    status stay with admins.
    """
    principal = page_principal(request, Role.ADMIN, Role.MANAGER)
    is_admin = principal.has_role(Role.ADMIN)
    membership = get_object_or_404(selectors.member_list(), pk=pk)
    availability = _availability_form(request, membership, principal)
    if request.method == "POST" and not availability.is_bound and not is_admin:
        raise PermissionDenied
    if availability.is_bound:
        saved = _save_availability(request, membership, principal, availability)
        if saved is not None:
            return saved
    partners = _active_partners()
    if membership.partner is not None and membership.partner not in partners:
        partners.append(membership.partner)
    form = RoleForm(
        request.POST if request.method == "POST" and not availability.is_bound else None,
        partners=partners,
        initial={"role": role_value(membership.role, membership.partner)},
    )
    if request.method == "POST" and form.is_valid():
        role, partner = form.cleaned_data["role"]
        try:
            membership = services.change_member_role(
                membership=membership, role=role, partner=partner, by=principal
            )
        except RuleViolation as exc:
            form.add_error("role", exc.message)
        else:
            messages.success(
                request, f"{membership.user.display_name} is now {membership.role_label}."
            )
            if membership.user_id == request.user.pk and role != Role.ADMIN:
                return redirect("home")  # no longer an admin: the members pages are closed
            return redirect("member-detail", pk=membership.pk)
    context = {
        "member": membership,
        "form": form,
        "availability": availability,
        "leave_badge": selectors.leave_badge(membership, services.tenant_today(principal.tenant)),
        "is_me": membership.user_id == request.user.pk,
        "is_admin": is_admin,
    }
    failed = form.errors or availability.errors
    return render(request, "tenancy/member_detail.html", context, status=400 if failed else 200)


@login_required
@require_POST
def member_status(request, pk: int, change: str):
    principal = page_principal(request, Role.ADMIN)
    membership = get_object_or_404(selectors.member_list(), pk=pk)
    service = {"deactivate": services.deactivate_member, "reactivate": services.reactivate_member}
    if change not in service:
        raise Http404
    try:
        service[change](membership=membership, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        name = membership.user.display_name
        if change == "deactivate":
            messages.success(request, f"{name} is deactivated: they can no longer act here.")
            if membership.user_id == request.user.pk:
                return redirect("home")
        else:
            messages.success(request, f"{name} is active again.")
    return redirect("member-detail", pk=membership.pk)


@login_required
@require_POST
def invitation_change(request, pk: int, change: str):
    principal = page_principal(request, Role.ADMIN)
    invitation = get_object_or_404(selectors.invitation_list(), pk=pk)
    if change not in {"resend", "revoke"}:
        raise Http404
    try:
        if change == "resend":
            services.resend_invitation(
                invitation=invitation, base_url=_base_url(request), by=principal
            )
            messages.success(
                request, f"Sent {invitation.email} a new link; the previous one no longer works."
            )
        else:
            services.revoke_invitation(invitation=invitation, by=principal)
            messages.success(request, f"Revoked the invitation of {invitation.email}.")
    except RuleViolation as exc:
        messages.error(request, exc.message)
    return redirect("member-list")


INVITATION_GONE = {
    InvitationStatus.ACCEPTED: "This invitation was already used",
    InvitationStatus.REVOKED: "This invitation was revoked",
    InvitationStatus.EXPIRED: "This invitation has expired",
}


@require_http_methods(["GET", "HEAD", "POST"])
def invitation_accept(request, token: str):
    """The link in an invitation email: set a name and password, or accept as yourself."""
    invitation = selectors.invitation_for_token(token)
    if invitation is None:
        return render(request, "tenancy/invitation_gone.html", {"title": None}, status=404)
    with tenant_context(invitation.tenant_id), timezone.override(invitation.tenant.timezone):
        state = invitation.state
        if state != InvitationStatus.PENDING:
            context = {"title": INVITATION_GONE[state], "invitation": invitation}
            return render(request, "tenancy/invitation_gone.html", context, status=410)
        return _accept(request, invitation)


def _accept(request, invitation):
    user = request.user if request.user.is_authenticated else None
    has_login = user is not None or selectors.user_exists(email=invitation.email)
    form = None
    error = ""
    if user is None and not has_login:
        form = AcceptInvitationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        try:
            if user is not None:
                membership = services.accept_invitation(invitation=invitation, user=user)
            elif form is not None and form.is_valid():
                membership = services.accept_invitation_as_new_user(
                    invitation=invitation,
                    full_name=form.cleaned_data["full_name"],
                    password=form.cleaned_data["password1"],
                )
                user = membership.user
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            else:
                membership = None
        except RuleViolation as exc:
            membership = None
            if form is not None and exc.field in {"full_name", "password"}:
                form.add_error("password1" if exc.field == "password" else "full_name", exc.message)
            else:
                error = exc.message
        if membership is not None:
            request.session[SESSION_TENANT_KEY] = membership.tenant_id
            messages.success(request, f"Welcome to {invitation.tenant.name}, {user.display_name}.")
            return redirect("home")
    context = {
        "invitation": invitation,
        "form": form,
        "error": error,
        "has_login": has_login,
        "other_person": user is not None and user.email != invitation.email,
    }
    failed = request.method == "POST"
    return render(request, "tenancy/invitation_accept.html", context, status=400 if failed else 200)
