"""The nurture panel on the inquiry page: enrollments with their reasons, and consent.

Registered with ``inquiries.views.panels`` in ``NurtureConfig.ready()``:
every enrollment (program, why, when) and every exit (why, when) of the
person, newest first, and their consent with its history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from inquiries.models import Inquiry
from inquiries.views import panels
from leadflow.tenancy.models import Role
from leadflow.tenancy.principal import Principal
from nurture import selectors
from nurture.models import EnrollmentState

# The roles the nurture pages let enroll by hand (nurture.views.WRITERS).
WRITERS = (Role.ADMIN, Role.MARKETER)


def nurture_panel(
    request: HttpRequest, principal: Principal, inquiry: Inquiry, state: Mapping[str, Any]
) -> SafeString:
    """Three queries whatever the history's length: enrollments, consent row, consent events.

    Those allowed to enroll by hand (admins, marketers) also get the enroll and
    remove forms, and one more query for the programs' names.
    """
    enrollments = list(selectors.enrollments(inquiry_id=inquiry.pk)[:50])
    can_change = not principal.is_partner and principal.has_role(*WRITERS)
    current = next((e for e in enrollments if e.state == EnrollmentState.ACTIVE), None)
    context = {
        "inquiry": inquiry,
        "enrollments": enrollments,
        "consent": selectors.consent_of(inquiry),
        "can_change": can_change,
        "current": current,
        "program_choices": list(selectors.program_choices()) if can_change else [],
    }
    return render_to_string("nurture/_inquiry_panel.html", context, request=request)


def register() -> None:
    panels.register("nurture", nurture_panel, order=30)
