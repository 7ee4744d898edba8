"""The leads panel on the inquiry page: the open lead, booking, and the earlier leads.

Registered with ``inquiries.views.panels`` in ``LeadsConfig.ready()``, so the
inquiry page shows it without ``inquiries`` importing this app. The same hook
registers the partner portal's start-page tile (the partner's compliance
warning, ``leads.views.my_week.compliance_tiles``): ``leadflow`` may not
import this app either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from inquiries.models import Inquiry, Stage
from inquiries.views import panels
from leadflow import outbox
from leadflow.outbox.models import OutboxMessage
from leadflow.tenancy.principal import Principal
from leads.selectors.appointments import confirmation_cause, meeting_people
from leads.selectors.leads import leads_of_inquiry
from leads.views.appointments import AppointmentForm, bookable_reps


def inquiry_panel(
    request: HttpRequest, principal: Principal, inquiry: Inquiry, state: Mapping[str, Any]
) -> SafeString:
    """The person's open lead (or the booking form when they may be booked) and their history."""
    leads = leads_of_inquiry(principal=principal, inquiry=inquiry)
    open_lead = next((lead for lead in leads if lead.is_open), None)
    can_book = open_lead is None and inquiry.stage not in (Stage.LEAD, Stage.DISQUALIFIED)
    invited = None
    confirmations: list[OutboxMessage] = []
    if open_lead is not None:
        invited = meeting_people(
            appointment=open_lead.appointment, inquiry=inquiry, tenant=principal.tenant
        )
        # The booking's confirmations; later emails are listed by the appointment panel.
        confirmations = list(
            outbox.messages_for(confirmation_cause(open_lead.appointment)).filter(
                key__contains=":confirmation:"
            )
        )
        named = {
            person.email.lower(): person.label
            for person in [*([invited.buyer] if invited.buyer else []), *invited.internal]
        }
        for message in confirmations:
            message.addressee = named.get(message.recipient.lower(), "")
    form = state.get("booking_form")
    if form is None and can_book:
        form = AppointmentForm(reps=bookable_reps())
    context = {
        "inquiry": inquiry,
        "open_lead": open_lead,
        "closed_leads": [lead for lead in leads if not lead.is_open],
        "invited": invited,
        "confirmations": confirmations,
        "can_book": can_book,
        "form": form,
        "principal": principal,
    }
    # Django's template engine escapes what it renders and returns a SafeString.
    return render_to_string("leads/_inquiry_panel.html", context, request=request)


def register() -> None:
    from leadflow.lib import start_page
    from leads.views.my_week import compliance_tiles

    panels.register("leads", inquiry_panel, order=10)
    start_page.register(
        "leads.partner_compliance", compliance_tiles, audiences=(start_page.PARTNER,), order=1
    )
