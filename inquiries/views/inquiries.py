"""Browser page of one inquiry: who the person is, their score and why, what they did.

What became of the person after marketing (the appointment, the leads) is
shown by panels other apps register (``inquiries.views.panels``), so this app
imports none of them. Rows are looked up within the tenant, so another
tenant's inquiry is a 404, never a 403. Dates are shown in the viewer's time
zone (their own, else the tenant's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from inquiries.models import Inquiry
from inquiries.selectors.inquiries import (
    additional_emails,
    custom_field_list,
    inquiry_list,
    timeline,
)
from inquiries.views.desk import desk_context
from inquiries.views.panels import render_panels
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MARKETING
from leadflow.tenancy.selectors import names_by_email

TIMELINE_LIMIT = 200


def _custom_values(inquiry) -> list[tuple[str, str]]:
    """The inquiry's custom-field values under their labels, in the tenant's field order."""
    labels = {field.key: field.label for field in custom_field_list()}
    known = [key for key in labels if key in inquiry.custom]
    unknown = sorted(set(inquiry.custom) - set(labels))  # a field since removed
    shown = []
    for key in [*known, *unknown]:
        value = inquiry.custom[key]
        if isinstance(value, bool):
            value = "Yes" if value else "No"
        shown.append((labels.get(key, key), value))
    return shown


def _people_in(activities) -> dict[str, str]:
    """Members named in the timeline's details (by email), so the page shows their names."""
    emails = {
        value
        for activity in activities
        for value in (activity.details or {}).values()
        if isinstance(value, str) and "@" in value
    }
    return names_by_email(emails)


def render_inquiry_detail(
    request: HttpRequest,
    principal: Principal,
    inquiry: Inquiry,
    *,
    state: Mapping[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The inquiry page; ``state`` reaches the registered panels (e.g. a form with errors)."""
    activities = list(timeline(inquiry=inquiry, limit=TIMELINE_LIMIT))
    context = {
        "inquiry": inquiry,
        "custom_values": _custom_values(inquiry),
        "additional_emails": additional_emails(inquiry=inquiry),
        "activities": activities,
        "people": _people_in(activities),
        "timeline_limit": TIMELINE_LIMIT,
        "panels": render_panels(request, principal, inquiry, state),
        **desk_context(principal, inquiry),
    }
    return render(request, "inquiries/inquiry_detail.html", context, status=status)


@require_safe
@member_page(*MARKETING)
def inquiry_detail_page(request, principal, pk: int):
    """Who the person is, their score and why, what they did, and what became of them."""
    inquiry = get_object_or_404(inquiry_list(), pk=pk)
    return render_inquiry_detail(request, principal, inquiry)
