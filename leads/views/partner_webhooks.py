"""``/partner/webhooks/``: a partner's webhook endpoints in the portal; ``/webhooks/`` for managers.

A partner's users list and create their partner's endpoints (the secret is
shown once, in the answer to the POST that made it), open one to see its
delivery log (all, or failed only), resend a delivery, rotate the secret,
enable or disable it, and send a test event whose answer is shown on the
page. Managers (and admins) see every partner's endpoints with their failure
rate over the last 7 days and open the same pages. Everything changes through
``leadflow.outbox.endpoints.services``, as the API does; the lookup is the
selectors' (a partner's own endpoints, or all for managers), so another
partner's or tenant's endpoint is a 404.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from leadflow.lib.rules import RuleViolation
from leadflow.outbox.endpoints import selectors, services
from leadflow.outbox.models import WebhookEndpoint, WebhookEvent
from leadflow.tenancy.pages import page_principal
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS

PAGE_SIZE = 25


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=2000,
        help_text="Where LeadFlow posts the events: an https:// address of your system.",
        widget=forms.URLInput(attrs={"autocomplete": "off", "placeholder": "https://"}),
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=[(str(event), f"{event.value} — {event.label}") for event in WebhookEvent],
        widget=forms.CheckboxSelectMultiple,
        help_text="Choose what your system hears of.",
    )
    description = forms.CharField(
        label="Description",
        max_length=300,
        required=False,
        help_text="What it is, so you recognise it: “CRM”, “ERP staging”.",
    )


def _principal(request: HttpRequest) -> Principal:
    """A partner's user, or a manager or admin; anyone else is refused (403)."""
    principal = page_principal(request)
    if principal.is_partner and principal.user is not None:
        return principal
    if not principal.is_partner and principal.has_role(*MANAGERS):
        return principal
    raise PermissionDenied


def _endpoint(principal: Principal, pk: int) -> WebhookEndpoint:
    return get_object_or_404(selectors.endpoints_for(principal), pk=pk)


def _secret_page(
    request: HttpRequest, endpoint: WebhookEndpoint, secret: str, *, rotated: bool
) -> HttpResponse:
    # Rendered, not redirected: the secret lives in this answer only.
    response = render(
        request,
        "leads/partner_webhook_secret.html",
        {"endpoint": endpoint, "secret": secret, "rotated": rotated},
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def partner_webhooks_page(request: HttpRequest) -> HttpResponse:
    """The partner's endpoints, and a form for a new one."""
    principal = _principal(request)
    if not principal.is_partner:
        return redirect("webhooks-overview")
    form = EndpointForm(request.POST if request.method == "POST" else None)
    with timezone.override(principal.timezone):
        if request.method == "POST" and form.is_valid():
            try:
                issued = services.create_endpoint(
                    partner=principal.partner,  # type: ignore[arg-type]
                    url=form.cleaned_data["url"],
                    events=form.cleaned_data["events"],
                    description=form.cleaned_data["description"],
                    by=principal,
                )
            except RuleViolation as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                return _secret_page(request, issued.endpoint, issued.secret, rotated=False)
        endpoints = list(selectors.with_health(selectors.endpoints_for(principal)))
        return render(
            request,
            "leads/partner_webhooks.html",
            {"form": form, "rows": _rows(endpoints)},
            status=400 if form.is_bound else 200,
        )


def _rows(endpoints: list[WebhookEndpoint]) -> list[dict[str, object]]:
    rows = []
    for endpoint in endpoints:
        rate = selectors.failure_rate(endpoint)
        rows.append(
            {
                "endpoint": endpoint,
                "attempts": getattr(endpoint, "recent_attempts", 0),
                "failures": getattr(endpoint, "recent_failures", 0),
                "rate": None if rate is None else round(rate * 100),
            }
        )
    return rows


@login_required
@require_safe
def webhooks_overview_page(request: HttpRequest) -> HttpResponse:
    """Managers: every partner's endpoints with their failure rate over the last 7 days."""
    principal = _principal(request)
    if principal.is_partner:
        return redirect("partner-webhooks")
    with timezone.override(principal.timezone):
        endpoints = list(
            selectors.with_health(selectors.endpoints_for(principal)).order_by(
                "partner__name", "created_at", "id"
            )
        )
        return render(request, "leads/webhooks_overview.html", {"rows": _rows(endpoints)})


@login_required
@require_safe
def partner_webhook_page(request: HttpRequest, pk: int) -> HttpResponse:
    """One endpoint: its settings, actions and delivery log (``?failed=1``: failed only)."""
    principal = _principal(request)
    endpoint = _endpoint(principal, pk)
    return _detail(request, principal, endpoint)


def _detail(
    request: HttpRequest,
    principal: Principal,
    endpoint: WebhookEndpoint,
    *,
    test: services.TestResult | None = None,
    status: int = 200,
) -> HttpResponse:
    failed_only = request.GET.get("failed") == "1"
    with timezone.override(principal.timezone):
        rows = selectors.deliveries_of(endpoint, failed_only=failed_only)
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        attempts = selectors.attempts_of([delivery.pk for delivery in page])
        deliveries = [(delivery, attempts.get(delivery.pk, [])) for delivery in page]
        events = [(str(event), event.label) for event in WebhookEvent]
        return render(
            request,
            "leads/partner_webhook.html",
            {
                "endpoint": endpoint,
                "page": page,
                "deliveries": deliveries,
                "failed_only": failed_only,
                "test": test,
                "events": events,
                "overlap": endpoint.previous_secret_until is not None
                and endpoint.previous_secret_until > timezone.now(),
            },
            status=status,
        )


@login_required
@require_POST
def partner_webhook_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    principal = _principal(request)
    endpoint = _endpoint(principal, pk)
    try:
        issued = services.rotate_secret(endpoint=endpoint, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
        return redirect("partner-webhook", pk=pk)
    with timezone.override(principal.timezone):
        return _secret_page(request, issued.endpoint, issued.secret, rotated=True)


@login_required
@require_POST
def partner_webhook_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a test event now and show the receiver's answer on the endpoint's page."""
    principal = _principal(request)
    endpoint = _endpoint(principal, pk)
    try:
        result = services.send_test(endpoint=endpoint, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
        return redirect("partner-webhook", pk=pk)
    endpoint.refresh_from_db()
    return _detail(request, principal, endpoint, test=result)


@login_required
@require_POST
def partner_webhook_enabled(request: HttpRequest, pk: int) -> HttpResponse:
    """Enable (``enabled=1``) or disable the endpoint."""
    principal = _principal(request)
    endpoint = _endpoint(principal, pk)
    enable = request.POST.get("enabled") == "1"
    try:
        services.update_endpoint(endpoint=endpoint, enabled=enable, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "The endpoint is enabled: new events go to it again."
            if enable
            else "The endpoint is disabled: it gets no events until you enable it.",
        )
    return redirect("partner-webhook", pk=pk)


@login_required
@require_POST
def partner_webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    principal = _principal(request)
    endpoint = _endpoint(principal, pk)
    services.delete_endpoint(endpoint=endpoint, by=principal)
    messages.success(request, f"The endpoint {endpoint.url} is deleted, with its log.")
    return redirect("partner-webhooks" if principal.is_partner else "webhooks-overview")


@login_required
@require_POST
def partner_webhook_resend(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a delivery again with the same ``webhook-id``; back to its endpoint's log."""
    principal = _principal(request)
    delivery = get_object_or_404(selectors.deliveries_for(principal), pk=pk)
    try:
        services.resend(delivery=delivery, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"The {delivery.event_type} event will be sent again ({delivery.webhook_id})."
        )
    return redirect("partner-webhook", pk=delivery.endpoint_id)
