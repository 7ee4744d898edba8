"""The qualifier's panel on the inquiry page: touches before hand-over, and the whole history.

Registered with ``inquiries.views.panels`` in ``LeadsConfig.ready()`` (the
inquiry page shows it without ``inquiries`` importing this app). The touch
form posts to ``inquiry_touch_page``: one service call, back to the page with
a message; a refusal is the message and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from inquiries.models import Inquiry
from inquiries.selectors.inquiries import inquiry_list
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MARKETING
from leads.models import TouchKind, TouchOutcome
from leads.selectors.desk import inquiry_timeline, touch_progress
from leads.services.touches import log_touch
from leads.views.my_week import TouchForm

HISTORY_LIMIT = 100


def desk_panel(
    request: HttpRequest, principal: Principal, inquiry: Inquiry, state: Mapping[str, Any]
) -> SafeString:
    """The touch form with the count so far against the minimum, and the person's history."""
    entries = inquiry_timeline(inquiry=inquiry, principal=principal)
    context = {
        "inquiry": inquiry,
        "progress": touch_progress(inquiry=inquiry),
        "history": entries[:HISTORY_LIMIT],
        "more": max(len(entries) - HISTORY_LIMIT, 0),
        "kinds": TouchKind.choices,
        "outcomes": TouchOutcome.choices,
    }
    return render_to_string("leads/_desk_panel.html", context, request=request)


@require_POST
@member_page(*MARKETING)
def inquiry_touch_page(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """Log a touch (call, email, meeting, other) on the person before hand-over."""
    inquiry = get_object_or_404(inquiry_list(), pk=pk)
    form = TouchForm(request.POST)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        messages.error(request, f"{field}: {errors[0]}")
    else:
        try:
            log_touch(inquiry=inquiry, lead=None, by=principal, **form.cleaned_data)
        except RuleViolation as refused:
            messages.error(request, refused.message)
        else:
            progress = touch_progress(inquiry=inquiry)
            messages.success(
                request, f"Touch logged: {progress.count} of {progress.minimum} so far."
            )
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("inquiry-detail", pk=inquiry.pk)


def register() -> None:
    from inquiries.selectors.inbox import register_untouched
    from inquiries.views import panels
    from leads.selectors.desk import untouched

    panels.register("leads.desk", desk_panel, order=5)
    register_untouched(untouched)
