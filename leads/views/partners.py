"""``/partners/overview/``: the managers' partners page — how each channel partner works its leads.

One row a partner: open leads, this week's missing updates, the compliance
state, the median acceptance time, the win rate, the last report, and the
suspend / reactivate button (posting to the partners' status route, which
calls the tenancy service). Admins and managers only; the figures come from
``leads.selectors.partner_overview`` in a fixed number of queries.
"""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from leadflow.tenancy.pages import member_page
from leadflow.tenancy.principal import Principal
from leadflow.tenancy.roles import MANAGERS
from leads.selectors.compliance import COMPLIANT, SUSPENDED, WARNED, partner_compliance
from leads.selectors.partner_overview import partner_overview

COMPLIANCE_LABELS = {COMPLIANT: "Compliant", WARNED: "Warned", SUSPENDED: "Suspended"}


def duration_label(span: timedelta | None) -> str:
    """``45 min``, ``5 h 20 min``, ``3.5 days``; ``—`` for none."""
    if span is None:
        return "—"
    minutes = max(0, round(span.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{minutes / (24 * 60):.1f} days"


@require_safe
@member_page(*MANAGERS)
def partner_overview_page(request: HttpRequest, principal: Principal) -> HttpResponse:
    rows = partner_overview(principal=principal)
    standing = partner_compliance([row.partner.pk for row in rows]) if rows else {}
    for row in rows:
        row.acceptance_label = duration_label(row.median_acceptance)  # type: ignore[attr-defined]
        found = standing.get(row.partner.pk)
        row.compliance = found  # type: ignore[attr-defined]
        row.compliance_label = COMPLIANCE_LABELS.get(found.state, "") if found else ""  # type: ignore[attr-defined]
    return render(
        request,
        "leads/partners_overview.html",
        {
            "rows": rows,
            # Admins and managers suspend and reactivate (tenancy.views.partner_status).
            "may_change_status": principal.has_role(*MANAGERS),
        },
    )
