"""What every browser page of a tenant shares: who may open it, and in which time zone it runs."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from leadflow.tenancy.principal import Principal

View = Callable[..., HttpResponse]


def page_principal(request: HttpRequest, *roles: str) -> Principal:
    """The acting principal; 404 outside any tenant, 403 without one of ``roles`` (if given).

    Partner users pass when their role is among ``roles``; pages only for the
    tenant's own members use :func:`member_page`.
    """
    principal: Principal | None = getattr(request, "principal", None)
    if principal is None:
        raise Http404("You are not a member of any tenant.")
    if roles and not principal.has_role(*roles):
        raise PermissionDenied
    return principal


def member_page(*roles: str) -> Callable[[View], View]:
    """Logged-in members of the tenant with one of ``roles`` (never partner users).

    The view gets the principal after the request, and runs in the viewer's
    time zone (their own, else the tenant's), so forms read and pages show
    the times the person reads everywhere else.
    """

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            principal = page_principal(request)
            if principal.is_partner or not principal.has_role(*roles):
                raise PermissionDenied
            with timezone.override(principal.timezone):
                return view(request, principal, *args, **kwargs)

        return wrapper

    return decorate
