"""DRF authentication that reads what ``TenantMiddleware`` resolved."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions


class BearerAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <user token or API key>``; a bad one is 401, never a fallback."""

    def authenticate(self, request):
        django_request = request._request
        if getattr(django_request, "bearer_error", None):
            raise exceptions.AuthenticationFailed(django_request.bearer_error)
        principal = getattr(django_request, "principal", None)
        if principal is None or principal.via not in {"api_key", "user_token"}:
            return None
        return (principal.user or AnonymousUser(), principal)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser's session, with CSRF, carrying the member's principal."""

    def authenticate(self, request):
        result = super().authenticate(request)
        principal = getattr(request._request, "principal", None)
        if result is None or principal is None or principal.via != "session":
            return None
        return (result[0], principal)


class BearerScheme(OpenApiAuthenticationExtension):
    """Documents the bearer credentials in the OpenAPI schema (Swagger's Authorize button)."""

    target_class = BearerAuthentication
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A user token (lfu_…) or an API key (lfk_…).",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    """Documents the browser session cookie (with CSRF) in the OpenAPI schema."""

    target_class = SessionAuthentication
    name = "session"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
