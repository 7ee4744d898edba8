"""What every marketing page shares: who may open it, and in which time zone it runs."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from leadflow.tenancy.models import Role

MARKETING = (Role.ADMIN, Role.MANAGER, Role.MARKETER, Role.QUALIFIER)
EDITORS = (Role.ADMIN, Role.MANAGER, Role.MARKETER)


def member_page(*roles: str):
    """Logged-in members of the tenant with one of ``roles`` (never partner users).

    The view gets the principal after the request, and runs in the viewer's
    time zone (their own, else the tenant's), so forms read and pages show
    the times the person reads everywhere else.
    """

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            principal = request.principal
            if principal is None:
                raise Http404("You are not a member of any tenant.")
            if principal.is_partner or not principal.has_role(*roles):
                raise PermissionDenied
            with timezone.override(principal.timezone):
                return view(request, principal, *args, **kwargs)

        return wrapper

    return decorate
