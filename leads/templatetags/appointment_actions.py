"""``{% appointment_actions lead %}``: the appointment panel wherever a lead is shown.

A tag, so a page that includes ``leads/_appointment_actions.html`` with only
``lead`` and ``principal`` in its context gets the whole panel (the meeting,
its messages, the forms) without building that context itself.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag(takes_context=True)
def appointment_actions(context: template.Context, lead: Any, principal: Any = None) -> SafeString:
    from leads.views.appointments import appointment_panel_context

    principal = principal or context.get("principal")
    if lead is None or principal is None:
        return SafeString("")
    return render_to_string(
        "leads/_appointment_panel.html",
        appointment_panel_context(lead=lead, principal=principal),
        request=context.get("request"),
    )
