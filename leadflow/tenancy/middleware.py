"""Resolve who is calling and select their tenant for the whole request."""

from __future__ import annotations

from leadflow.tenancy import selectors, services
from leadflow.tenancy.context import tenant_context, user_context

SESSION_TENANT_KEY = "leadflow_tenant_id"


class TenantMiddleware:
    """Sets ``request.principal`` and the tenant scope, reset when the response leaves.

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
            with tenant_context(principal.tenant, user=principal.user):
                services.mark_credential_used(principal=principal)
                return self.get_response(request)
        if request.user.is_authenticated and not header:
            with user_context(request.user):
                return self.get_response(request)
        return self.get_response(request)
