"""Resolve who is calling and select their tenant for the whole request."""

from __future__ import annotations

from contextlib import nullcontext

from django.utils import timezone

from leadflow.lib import times
from leadflow.tenancy import selectors, services
from leadflow.tenancy.context import tenant_context, user_context

SESSION_TENANT_KEY = "leadflow_tenant_id"
# The API answers in UTC (docs/api.md); pages in the viewer's zone.
API_PREFIX = "/api/"


def viewer_zone(request):
    """The zone the person reads this page in; ``None`` (UTC) for the API and anonymous."""
    if request.path_info.startswith(API_PREFIX):
        return None
    if request.principal is not None and request.principal.user is not None:
        return request.principal.timezone
    if request.user.is_authenticated and request.user.timezone:
        try:
            return times.zone(request.user.timezone)
        except KeyError:
            return None
    return None


class TenantMiddleware:
    """Sets ``request.principal``, the tenant scope and the viewer's time zone for the request.

    A ``Bearer`` header wins over the session cookie. An unusable bearer
    credential leaves ``request.bearer_error`` for the API authentication to
    report as 401; it never falls back to the session.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.principal = None
        request.bearer_error = None
        request.memberships = []
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, secret = header.partition(" ")
            secret = secret.strip()
            if scheme.lower() != "bearer" or not secret:
                request.bearer_error = "Use 'Authorization: Bearer <token or API key>'."
            else:
                request.principal = selectors.principal_for_secret(secret)
                if request.principal is None:
                    request.bearer_error = "The token or API key is unknown or revoked."
        elif request.user.is_authenticated:
            request.memberships = selectors.memberships_of(user=request.user)
            request.principal = selectors.principal_for_session(
                memberships=request.memberships,
                tenant_id=request.session.get(SESSION_TENANT_KEY),
            )

        principal = request.principal
        if principal is not None:
            scope = tenant_context(principal.tenant, user=principal.user)
        elif request.user.is_authenticated and not header:
            scope = user_context(request.user)
        else:
            scope = nullcontext()
        with scope, timezone.override(viewer_zone(request)):
            if principal is not None:
                services.mark_credential_used(principal=principal)
            return self.get_response(request)
