"""Browser page of the outbox: failed messages, for admins, with "retry"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from leadflow.lib.rules import RuleViolation
from leadflow.outbox import selectors, services
from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.models import Role


def _admin(request):
    principal = request.principal
    if principal is None:
        raise Http404("You are not a member of any tenant.")
    if principal.is_partner or not principal.has_role(Role.ADMIN):
        raise PermissionDenied
    return principal


@login_required
def failed_messages(request):
    """Messages that could not be sent, with the reason, newest failure first."""
    _admin(request)
    page = Paginator(selectors.failed_messages(), 50).get_page(request.GET.get("page"))
    return render(request, "outbox/failed_messages.html", {"page": page})


@login_required
@require_POST
def retry(request, pk: int):
    principal = _admin(request)
    message = get_object_or_404(OutboxMessage.objects.all(), pk=pk)
    try:
        services.retry_message(message=message, by=principal)
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The {message.kind} to {message.recipient} will be sent again.")
    return redirect("outbox-failed")
