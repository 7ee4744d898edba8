"""Browser pages of appointments: booking on the inquiry page, its invitation, and after.

After hand-over the lead's appointment is marked held or a no-show,
rescheduled or cancelled from the panel ``leads/_appointment_actions.html``.

Every view is thin: a form, one service call, a redirect with a message. A
business rule that says no (``RuleViolation``) comes back as a form error and
nothing is written. The inquiry is looked up within the tenant, so another
tenant's inquiry is a 404, never a 403. Dates are read in the viewer's time
zone (their own, else the tenant's).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from inquiries.selectors.inquiries import inquiry_list
from inquiries.views.inquiries import render_inquiry_detail
from leadflow import outbox
from leadflow.lib import times
from leadflow.lib.rules import RuleViolation
from leadflow.tenancy.models import Membership, Role
from leadflow.tenancy.pages import member_page
from leadflow.tenancy.roles import MARKETING
from leadflow.tenancy.selectors import member_list
from leads.models import Appointment, Lead
from leads.selectors.appointments import appointment_of, confirmation_cause
from leads.selectors.leads import lead_list
from leads.services import appointments as appointment_services
from leads.services.appointments import MAX_CANCEL_REASON_LENGTH
from leads.services.booking import (
    MAX_DURATION_MINUTES,
    MAX_LOCATION_LENGTH,
    MAX_MESSAGE_LENGTH,
    MIN_DURATION_MINUTES,
    book_appointment,
)
from leads.services.confirmations import appointment_invitation

BOOKABLE_REP_ROLES = (Role.REP, Role.MANAGER, Role.ADMIN)


class AppointmentForm(forms.Form):
    """The decision-maker's appointment, in the viewer's local time (shown beside the field)."""

    starts_at = forms.DateTimeField(
        label="Starts",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)", min_value=5, max_value=480, initial=30
    )
    rep = forms.TypedChoiceField(label="Sales rep", coerce=int, required=False, empty_value=None)
    location = forms.CharField(
        max_length=500, required=False, help_text="An address, or a video-call link."
    )
    message_to_buyer = forms.CharField(
        label="Message to the buyer",
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Goes into the buyer's email and calendar invitation.",
    )
    notes = forms.CharField(
        label="Internal notes — never sent to the buyer",
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Seen in LeadFlow and by the people of your side who are invited.",
    )

    def __init__(self, *args, reps, **kwargs):
        super().__init__(*args, **kwargs)
        self.reps = {m.user_id: m.user for m in reps}
        self.fields["rep"].choices = [("", "— assign later —")] + [
            (m.user_id, f"{m.user.full_name or m.user.email} ({m.get_role_display()})")
            for m in reps
        ]

    def clean_rep(self):
        user_id = self.cleaned_data.get("rep")
        return None if user_id is None else self.reps[user_id]


def bookable_reps() -> list[Membership]:
    """The tenant's own active reps, managers and admins: who may take the meeting."""
    return [
        m
        for m in member_list().filter(role__in=BOOKABLE_REP_ROLES, partner__isnull=True)
        if m.user.is_active
    ]


def _show_violation(request, form, exc: RuleViolation) -> None:
    """A service's refusal on the form field it names, else as a message above the page."""
    if exc.field in form.fields:
        form.add_error(exc.field, exc.message)
    else:
        messages.error(request, exc.message)


@require_POST
@member_page(*MARKETING)
def book_appointment_page(request, principal, pk: int):
    """Book the decision-maker's appointment; the inquiry becomes a lead for sales."""
    inquiry = get_object_or_404(inquiry_list(), pk=pk)
    form = AppointmentForm(request.POST, reps=bookable_reps())
    state = {"booking_form": form}
    if not form.is_valid():
        return render_inquiry_detail(request, principal, inquiry, state=state, status=400)
    try:
        lead = book_appointment(inquiry=inquiry, **form.cleaned_data, by=principal)
    except RuleViolation as exc:
        _show_violation(request, form, exc)
        status = 409 if exc.conflict else 400
        return render_inquiry_detail(request, principal, inquiry, state=state, status=status)
    messages.success(
        request,
        f"Appointment booked for {times.shown(form.cleaned_data['starts_at'])}: "
        f"{inquiry.display_name} is now lead #{lead.pk}, handed to sales.",
    )
    return redirect("inquiry-detail", pk=inquiry.pk)


@require_safe
@member_page(*MARKETING)
def appointment_invitation_page(request, principal, pk: int):
    """The appointment's calendar invitation as a file: the same one the buyer received."""
    inquiry = get_object_or_404(inquiry_list(), pk=pk)
    appointment = appointment_of(inquiry=inquiry)
    if appointment is None:
        raise Http404("This inquiry has no appointment.")
    return _ics_response(appointment, f"appointment-{inquiry.pk}.ics")


def _ics_response(appointment: Appointment, filename: str) -> HttpResponse:
    response = HttpResponse(
        appointment_invitation(appointment=appointment),
        content_type="text/calendar; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_safe
@member_page(Role.REP, *MARKETING)
def lead_invitation_page(request, principal, pk: int):
    """The lead's meeting as a calendar file, for whoever sees the lead (a rep their own)."""
    lead = _visible_lead(principal, pk)
    appointment = get_object_or_404(Appointment.objects.all(), pk=lead.appointment_id)
    return _ics_response(appointment, f"lead-{lead.pk}-meeting.ics")


# --- The appointment after hand-over: held, no-show, reschedule, cancel -----------------
#
# Under ``/leads/<lead id>/appointment/...``. The lead is looked up among the leads the
# viewer may see (``lead_list``: a rep only their own), so another rep's lead and another
# tenant's are a 404. Each view is one service call and a redirect back to the lead; a
# refusal comes back as a message and nothing is written.

#: Who uses the appointment actions on pages: the tenant's reps and marketing roles.
APPOINTMENT_ROLES = (Role.REP, *MARKETING)


class RescheduleForm(forms.Form):
    """A new time, length, place or message; the time in the viewer's zone."""

    starts_at = forms.DateTimeField(
        label="Starts",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)", min_value=MIN_DURATION_MINUTES, max_value=MAX_DURATION_MINUTES
    )
    location = forms.CharField(
        max_length=MAX_LOCATION_LENGTH,
        required=False,
        help_text="An address, or a video-call link.",
    )
    message_to_buyer = forms.CharField(
        label="Message to the buyer",
        max_length=MAX_MESSAGE_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Goes into the buyer's updated invitation.",
    )

    @classmethod
    def for_appointment(cls, appointment: Appointment) -> RescheduleForm:
        return cls(
            initial={
                "starts_at": timezone.localtime(appointment.starts_at),
                "duration_minutes": appointment.duration_minutes,
                "location": appointment.location,
                "message_to_buyer": appointment.message_to_buyer,
            },
            prefix="reschedule",
        )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Why is it cancelled?",
        max_length=MAX_CANCEL_REASON_LENGTH,
        help_text="Internal: the team reads it, the buyer does not.",
    )


def lead_page_url(lead: Lead) -> str:
    """The lead's page, where every appointment action goes back to."""
    return reverse("lead-detail", args=[lead.pk])


def _visible_lead(principal, pk: int) -> Lead:
    return get_object_or_404(lead_list(principal=principal), pk=pk)


def _form_errors(form: forms.Form) -> str:
    return " ".join(
        f"{form.fields[name].label if name in form.fields else ''}: {error}".lstrip(": ")
        for name, errors in form.errors.items()
        for error in errors
    )


def _act(request, lead: Lead, action, success: str) -> HttpResponse:
    try:
        action()
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect(lead_page_url(lead))


@require_POST
@member_page(*APPOINTMENT_ROLES)
def appointment_held_page(request, principal, pk: int):
    """The meeting took place."""
    lead = _visible_lead(principal, pk)
    return _act(
        request,
        lead,
        lambda: appointment_services.mark_held(appointment=lead.appointment, by=principal),
        "Marked held.",
    )


@require_POST
@member_page(*APPOINTMENT_ROLES)
def appointment_no_show_page(request, principal, pk: int):
    """The buyer did not come: the lead closes as a no-show, the person goes to the qualifier."""
    lead = _visible_lead(principal, pk)
    return _act(
        request,
        lead,
        lambda: appointment_services.mark_no_show(appointment=lead.appointment, by=principal),
        f"Marked a no-show: lead #{lead.pk} is closed and {lead.inquiry.display_name} is back "
        "in the qualifier's queue.",
    )


@require_POST
@member_page(*APPOINTMENT_ROLES)
def appointment_reschedule_page(request, principal, pk: int):
    """Move the meeting; the buyer and the team get the updated invitation."""
    lead = _visible_lead(principal, pk)
    form = RescheduleForm(request.POST, prefix="reschedule")
    if not form.is_valid():
        messages.error(request, f"Not rescheduled. {_form_errors(form)}")
        return redirect(lead_page_url(lead))
    return _act(
        request,
        lead,
        lambda: appointment_services.reschedule(
            appointment=lead.appointment, by=principal, **form.cleaned_data
        ),
        f"Rescheduled to {times.shown(form.cleaned_data['starts_at'])}; the buyer and the team "
        "get the updated invitation.",
    )


@require_POST
@member_page(*APPOINTMENT_ROLES)
def appointment_cancel_page(request, principal, pk: int):
    """Call the meeting off; the lead stays open."""
    lead = _visible_lead(principal, pk)
    form = CancelForm(request.POST, prefix="cancel")
    if not form.is_valid():
        messages.error(request, f"Not cancelled. {_form_errors(form)}")
        return redirect(lead_page_url(lead))
    return _act(
        request,
        lead,
        lambda: appointment_services.cancel(
            appointment=lead.appointment, reason=form.cleaned_data["reason"], by=principal
        ),
        "Cancelled; the buyer and the team get the cancellation. The lead stays open.",
    )


# --- The panel ----------------------------------------------------------------------


def _message_label(key: str) -> str:
    """What an appointment's outbox message is, read from its key."""
    parts = key.split(":")
    kind = parts[2] if len(parts) > 2 else ""
    if kind == "confirmation":
        return "Confirmation"
    if kind == "update":
        return f"Updated invitation (#{parts[3]})"
    if kind == "cancel":
        return "Cancellation"
    if kind == "owner":
        return "Owner change: " + ("invitation" if parts[4] == "request" else "cancellation")
    if kind == "reminder":
        return "Reminder"
    return "Email"


def appointment_panel_context(*, lead: Lead, principal) -> dict[str, Any]:
    """What ``leads/_appointment_panel.html`` shows: the meeting, its messages, its actions."""
    appointment = lead.appointment
    state = appointment_services.appointment_state(appointment)
    sent = list(outbox.messages_for(confirmation_cause(appointment)))
    for message in sent:
        message.label = _message_label(message.key)
    can_change = state in ("upcoming", "due") and lead.is_open
    return {
        "lead": lead,
        "appointment": appointment,
        "state": state,
        "state_label": appointment_services.STATE_LABELS[state],
        "sent": sent,
        "can_mark": state == "due" and lead.is_open,
        "can_change": can_change,
        "reschedule_form": RescheduleForm.for_appointment(appointment) if can_change else None,
        "cancel_form": CancelForm(prefix="cancel") if can_change else None,
        "zone": principal.timezone.key,
    }
